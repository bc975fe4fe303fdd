"""Lambda's API on the wire, driven by boto3's real `lambda` client against a service whose
environments are the fake backend's threads (no Docker): shapes, headers, errors, the registry.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections.abc import Callable
from typing import Any
from unittest.mock import ANY

import pytest
from botocore.exceptions import ClientError
from fake_backend import FakeBackend, MakeFunction

from pytest_lambda.errors import InvalidParameterValueException, TooManyRequestsException
from pytest_lambda.lambda_api.api import LambdaAPI
from pytest_lambda.runtime_api.lifecycle import Invocation
from pytest_lambda.service.registry import parse_function_name
from pytest_lambda.service.service import LambdaService

ACCOUNT = "123456789012"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str, dict[str, Any]]:
    response = exc.value.response
    return (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"],
            response["Error"]["Message"], response)


def test_invoke_by_name_arn_and_partial_arn_returns_the_payload(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    fn = make()
    for identifier in ("orders", fn.arn, f"{ACCOUNT}:function:orders", "orders:$LATEST",
                       f"{fn.arn}:$LATEST"):
        answer = client.invoke(FunctionName=identifier, Payload=json.dumps({"id": identifier}))
        assert answer["StatusCode"] == 200
        assert answer["ExecutedVersion"] == "$LATEST"
        assert "FunctionError" not in answer
        assert json.loads(answer["Payload"].read()) == {"id": identifier}
    assert [event for _env, event in backend.received][-1] == {"id": f"{fn.arn}:$LATEST"}


def test_invoke_without_a_payload_sends_an_empty_object(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    make()
    answer = client.invoke(FunctionName="orders")
    assert json.loads(answer["Payload"].read()) == {}


def test_the_request_id_is_the_one_the_function_saw_and_tail_has_its_logs(
    make: MakeFunction, client: Any,
) -> None:
    make()
    answer = client.invoke(FunctionName="orders", LogType="Tail", Payload=b'{"a": 1}')
    request_id = answer["ResponseMetadata"]["RequestId"]
    logs = base64.b64decode(answer["LogResult"]).decode()
    assert f"START RequestId: {request_id} Version: $LATEST" in logs
    assert f"END RequestId: {request_id}" in logs
    assert f"REPORT RequestId: {request_id}" in logs
    assert "LogResult" not in client.invoke(FunctionName="orders")


def test_the_tail_is_the_last_4_kb_of_the_logs(
    make: MakeFunction, client: Any, service: LambdaService,
) -> None:
    fn = make()
    logs = fn.invoke({"a": 1}).logs
    assert len(logs.encode()) < 4096  # the fake runtime writes little; the cut is still applied
    answer = client.invoke(FunctionName="orders", LogType="Tail")
    assert len(base64.b64decode(answer["LogResult"])) <= 4096


def test_a_function_error_is_200_with_x_amz_function_error(make: MakeFunction, client: Any) -> None:
    make()
    answer = client.invoke(FunctionName="orders",
                           Payload=json.dumps({"op": "raise", "message": "boom"}))
    assert answer["StatusCode"] == 200
    assert answer["FunctionError"] == "Unhandled"
    assert json.loads(answer["Payload"].read())["errorMessage"] == "boom"


def test_dry_run_checks_the_function_and_payload_and_runs_nothing(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    make()
    answer = client.invoke(FunctionName="orders", InvocationType="DryRun", Payload=b'{"a": 1}')
    assert answer["StatusCode"] == 204
    assert backend.received == []
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="orders", InvocationType="DryRun", Payload=b"{nope")
    assert _error(exc)[:2] == ("InvalidRequestContentException", 400)
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="missing", InvocationType="DryRun")
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)


def test_unknown_function_and_qualifier_are_resource_not_found_in_lambdas_shape(
    make: MakeFunction, client: Any,
) -> None:
    fn = make()
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="missing")
    code, status, message, response = _error(exc)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"Function not found: arn:aws:lambda:us-east-1:{ACCOUNT}:function:missing"
    assert response["Type"] == "User"
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="orders", Qualifier="7")
    assert _error(exc)[2] == f"Function not found: {fn.arn}:7"


def test_a_function_is_found_only_in_its_own_region(make: MakeFunction, api: LambdaAPI) -> None:
    make(region="eu-west-1")
    assert api.client(region="eu-west-1").invoke(FunctionName="orders")["StatusCode"] == 200
    with pytest.raises(ClientError) as exc:
        api.client(region="us-east-1").invoke(FunctionName="orders")
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_bad_names_and_conflicting_qualifiers_get_lambdas_errors(
    make: MakeFunction, client: Any,
) -> None:
    make()
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="orders:$LATEST", Qualifier="prod")
    assert _error(exc)[:2] == ("InvalidParameterValueException", 400)
    assert "derived qualifier" in _error(exc)[2]
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="no spaces allowed")
    assert _error(exc)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="x" * 65)
    assert _error(exc)[:2] == ("ValidationException", 400)


def test_malformed_json_and_oversized_payloads_are_refused(make: MakeFunction, client: Any) -> None:
    make()
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="orders", Payload=b"{not json")
    code, status, message, _ = _error(exc)
    assert (code, status) == ("InvalidRequestContentException", 400)
    assert message.startswith("Could not parse request body into json")
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="orders", Payload=b'"' + b"x" * (6 * 1024 * 1024) + b'"')
    assert _error(exc)[:2] == ("RequestTooLargeException", 413)
    with pytest.raises(ClientError) as exc:  # far over: read and dropped, then the 413
        client.invoke(FunctionName="orders", Payload=b'"' + b"x" * (20 * 1024 * 1024) + b'"')
    assert _error(exc)[:2] == ("RequestTooLargeException", 413)
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="orders", InvocationType="Event",
                      Payload=b'"' + b"x" * (1024 * 1024) + b'"')
    assert _error(exc)[:2] == ("RequestTooLargeException", 413)
    assert "Event" in _error(exc)[2]


def test_an_unknown_invocation_type_is_a_validation_error(make: MakeFunction, client: Any) -> None:
    make()
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="orders", InvocationType="Sometimes")
    assert _error(exc)[:2] == ("ValidationException", 400)


def test_get_function_and_configuration_describe_the_function(
    make: MakeFunction, client: Any,
) -> None:
    fn = make(memory_size=256, timeout=7, environment={"STAGE": "test"})
    config = client.get_function_configuration(FunctionName="orders")
    assert config["FunctionName"] == "orders"
    assert config["FunctionArn"] == fn.arn
    assert config["Runtime"] == "python3.13" and config["Handler"] == "app.handler"
    assert config["MemorySize"] == 256 and config["Timeout"] == 7
    assert config["Environment"] == {"Variables": {"STAGE": "test"}}
    assert config["Version"] == "$LATEST" and config["State"] == "Active"
    assert config["PackageType"] == "Zip" and config["Architectures"] == [fn.config.architecture]
    whole = client.get_function(FunctionName=fn.arn)
    config.pop("ResponseMetadata")
    assert whole["Configuration"] == config
    assert whole["Code"]["RepositoryType"] == "S3"


def test_list_functions_pages_through_the_regions_functions(
    make: MakeFunction, client: Any,
) -> None:
    for i in range(5):
        make(name=f"fn-{i}")
    make(name="elsewhere", region="eu-west-1")
    first = client.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["fn-0", "fn-1"]
    names = [f["FunctionName"]
             for page in client.get_paginator("list_functions").paginate(
                 PaginationConfig={"PageSize": 2})
             for f in page["Functions"]]
    assert names == [f"fn-{i}" for i in range(5)]


def test_a_later_function_of_the_same_name_replaces_the_earlier(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    make(environment={"VER": "1"})
    make(environment={"VER": "2"})
    config = client.get_function_configuration(FunctionName="orders")
    assert config["Environment"]["Variables"] == {"VER": "2"}


def _raw(api: LambdaAPI, method: str, path: str, body: bytes = b"",
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
    host, port = api.endpoint_url.rsplit("//", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body, headers or {})
        reply = conn.getresponse()
        data = reply.read()
        return reply.status, dict(reply.getheaders()), json.loads(data) if data else None
    finally:
        conn.close()


def test_a_wrong_method_or_unknown_path_gets_an_aws_error_not_a_page(
    make: MakeFunction, api: LambdaAPI,
) -> None:
    make()
    status, headers, body = _raw(api, "DELETE", "/2015-03-31/functions/orders/invocations")
    assert status == 404 and headers["X-Amzn-ErrorType"] == "UnknownOperationException"
    assert body["Type"] == "User"
    status, headers, body = _raw(api, "GET", "/nowhere")
    assert status == 404 and headers["X-Amzn-ErrorType"] == "UnknownOperationException"


def test_unimplemented_operations_say_so(make: MakeFunction, client: Any) -> None:
    make()
    with pytest.raises(ClientError) as exc:
        client.get_policy(FunctionName="orders")
    code, status, message, _ = _error(exc)
    assert (code, status) == ("NotImplementedException", 501)
    assert "does not implement" in message


def test_huge_headers_and_bad_lengths_get_an_aws_error_and_the_server_goes_on(
    make: MakeFunction, api: LambdaAPI, client: Any,
) -> None:
    make()
    status, headers, body = _raw(api, "POST", "/2015-03-31/functions/orders/invocations",
                                 b"{}", {"X-Big": "x" * 70_000})
    assert status == 431 and headers["X-Amzn-ErrorType"] == "RequestHeaderFieldsTooLarge"
    status, headers, _ = _raw(api, "POST", "/2015-03-31/functions/orders/invocations", b"",
                              {"Content-Length": "-5"})
    assert status == 400 and headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"
    status, headers, _ = _raw(api, "POST", "/2015-03-31/functions/orders/invocations", b"",
                              {"X-Amz-Client-Context": "%%%"})
    assert status == 400
    assert client.invoke(FunctionName="orders")["StatusCode"] == 200


def test_client_context_reaches_the_function(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    make()
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    assert client.invoke(FunctionName="orders", ClientContext=context)["StatusCode"] == 200


def test_event_invocation_is_202_and_runs_later_with_the_same_request_id(
    make: MakeFunction, api: LambdaAPI, client: Any, backend: FakeBackend,
) -> None:
    make()
    answer = client.invoke(FunctionName="orders", InvocationType="Event", Payload=b'{"e": 1}')
    assert answer["StatusCode"] == 202
    request_id = answer["ResponseMetadata"]["RequestId"]
    results = api.wait_for_async(timeout=30)
    assert [r.request_id for r in results] == [request_id]
    assert results[0].condition == "Success" and results[0].invoke_count == 1
    assert backend.received[-1][1] == {"e": 1}
    assert [(a.request_id, a.outcome) for a in api.attempts] == [(request_id, "success")]


def test_a_failing_event_is_retried_twice_and_never_raises(
    make: MakeFunction, api: LambdaAPI, client: Any,
) -> None:
    make()
    client.invoke(FunctionName="orders", InvocationType="Event",
                  Payload=json.dumps({"op": "raise", "message": "no"}))
    (result,) = api.wait_for_async(timeout=30)
    assert result.condition == "RetriesExhausted" and result.invoke_count == 3
    assert [a.outcome for a in api.attempts] == ["error"] * 3
    assert [a.attempt for a in api.attempts] == [1, 2, 3]


def test_invoke_async_is_the_deprecated_operation_with_its_256_kb_limit(
    make: MakeFunction, api: LambdaAPI, client: Any,
) -> None:
    make()
    answer = client.invoke_async(FunctionName="orders", InvokeArgs=b'{"old": true}')
    assert answer["Status"] == 202
    assert api.wait_for_async(timeout=30)[0].ok
    with pytest.raises(ClientError) as exc:
        client.invoke_async(FunctionName="orders",
                            InvokeArgs=b'"' + b"x" * (256 * 1024) + b'"')
    assert _error(exc)[:2] == ("RequestTooLargeException", 413)


def test_event_invoke_config_through_the_api(
    make: MakeFunction, api: LambdaAPI, client: Any,
) -> None:
    fn = make()
    with pytest.raises(ClientError) as exc:
        client.get_function_event_invoke_config(FunctionName="orders")
    assert _error(exc)[0] == "ResourceNotFoundException"
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"
    put = client.put_function_event_invoke_config(
        FunctionName="orders", MaximumRetryAttempts=0, MaximumEventAgeInSeconds=120,
        DestinationConfig={"OnFailure": {"Destination": queue}},
    )
    assert put["MaximumRetryAttempts"] == 0 and put["MaximumEventAgeInSeconds"] == 120
    assert put["FunctionArn"] == f"{fn.arn}:$LATEST"
    got = client.get_function_event_invoke_config(FunctionName="orders")
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
    with pytest.raises(ClientError) as exc:
        client.put_function_event_invoke_config(FunctionName="orders", MaximumRetryAttempts=3)
    assert _error(exc)[:2] == ("ValidationException", 400)
    client.invoke(FunctionName="orders", InvocationType="Event",
                  Payload=json.dumps({"op": "raise"}))
    (result,) = api.wait_for_async(timeout=30)
    assert result.invoke_count == 1  # MaximumRetryAttempts=0
    (delivery,) = result.deliveries
    assert delivery.kind == "on-failure" and delivery.target == queue
    assert delivery.error is not None and "no AWS endpoint" in delivery.error
    client.delete_function_event_invoke_config(FunctionName="orders")
    with pytest.raises(ClientError):
        client.get_function_event_invoke_config(FunctionName="orders")


def test_environments_get_the_api_as_aws_endpoint_url_lambda(
    make: MakeFunction, api: LambdaAPI, backend: FakeBackend,
) -> None:
    fn = make()
    fn.invoke({})
    (env,) = backend.created
    assert env.lambda_endpoint_url == api.endpoint_url


@pytest.mark.parametrize(("identifier", "qualifier", "expected"), [
    ("orders", None, ("orders", "us-east-1", ACCOUNT, None)),
    ("orders:prod", None, ("orders", "us-east-1", ACCOUNT, "prod")),
    (f"{ACCOUNT}:function:orders", "3", ("orders", "us-east-1", ACCOUNT, "3")),
    (f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:orders:$LATEST", None,
     ("orders", "eu-west-1", ACCOUNT, "$LATEST")),
    ("arn:aws:lambda:eu-west-1:210987654321:function:orders", None,
     ("orders", "eu-west-1", "210987654321", None)),
])
def test_function_identifiers_are_taken_apart_as_lambda_does(
    identifier: str, qualifier: str | None, expected: tuple[str, str, str, str | None],
) -> None:
    ref = parse_function_name(identifier, qualifier)
    assert (ref.name, ref.region, ref.account_id, ref.qualifier) == expected


def _wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    import time

    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_reserved_concurrency_throttles_a_synchronous_invoke_over_it(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    import threading

    fn = make(reserved_concurrency=1)
    busy = threading.Thread(target=fn.invoke, args=({"op": "sleep", "seconds": 1.0},))
    busy.start()
    try:
        _wait_for(lambda: any(e == {"op": "sleep", "seconds": 1.0} for _n, e in backend.received))
        with pytest.raises(ClientError) as exc:
            client.invoke(FunctionName="orders")
        code, status, message, response = _error(exc)
        assert (code, status) == ("TooManyRequestsException", 429)
        assert response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert message == "Rate Exceeded."
    finally:
        busy.join()
    assert client.invoke(FunctionName="orders")["StatusCode"] == 200
    assert client.get_function(FunctionName="orders")["Concurrency"] == {
        "ReservedConcurrentExecutions": 1}


def test_zero_reserved_concurrency_throttles_everything_and_async_fails_without_retries(
    make: MakeFunction, api: LambdaAPI, client: Any, backend: FakeBackend,
) -> None:
    from pytest_lambda.errors import TooManyRequestsException

    fn = make()
    client.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=0)
    concurrency = client.get_function_concurrency(FunctionName="orders")
    assert concurrency["ReservedConcurrentExecutions"] == 0
    with pytest.raises(TooManyRequestsException):
        fn.invoke({})
    request_id = fn.invoke_async({"e": 1})
    (result,) = api.wait_for_async(timeout=30)
    assert result.request_id == request_id
    assert result.condition == "RetriesExhausted" and result.invoke_count == 0
    assert [a.outcome for a in api.attempts] == ["throttled"]
    assert backend.received == []
    client.delete_function_concurrency(FunctionName="orders")
    assert fn.invoke({"ok": 1}).payload == {"ok": 1}


def test_a_throttled_async_event_waits_for_room_and_then_runs(
    make: MakeFunction, api: LambdaAPI, backend: FakeBackend, service: LambdaService,
) -> None:
    import threading

    fn = make(reserved_concurrency=1)
    service.async_queue().delay_scale = 0.001
    busy = threading.Thread(target=fn.invoke, args=({"op": "sleep", "seconds": 0.5},))
    busy.start()
    try:
        _wait_for(lambda: len(backend.received) == 1)
        fn.invoke_async({"later": True})
        (result,) = api.wait_for_async(timeout=30)
    finally:
        busy.join()
    assert result.ok and result.invoke_count == 1
    outcomes = [a.outcome for a in api.attempts]
    assert outcomes[0] == "throttled" and outcomes[-1] == "success"


def test_reserved_concurrency_is_checked_when_the_function_is_made(make: MakeFunction) -> None:
    from pytest_lambda.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="UnreservedConcurrentExecution"):
        make(reserved_concurrency=901)
    with pytest.raises(ConfigurationError, match="whole number"):
        make(reserved_concurrency=-1)


def test_published_versions_snapshot_the_configuration_and_latest_stays_mutable(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    first = make(environment={"STAGE": "one"})
    v1 = first.publish_version("first")
    assert v1.version == "1"
    assert first.publish_version().version == "1"  # nothing changed: the same version
    latest = make(environment={"STAGE": "two"})  # $LATEST changes; version 1 stays
    assert latest.publish_version().version == "2"
    result = latest.invoke({"n": 1}, qualifier="1")
    assert result.executed_version == "1"
    assert "START RequestId: " in result.logs and " Version: 1\n" in result.logs
    env = backend.created[-1]
    assert env.config.version == "1" and env.config.env == {"STAGE": "one"}
    answer = client.invoke(FunctionName="orders", Qualifier="2")
    assert answer["ExecutedVersion"] == "2"
    assert client.invoke(FunctionName="orders")["ExecutedVersion"] == "$LATEST"
    versions = client.list_versions_by_function(FunctionName="orders")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1", "2"]
    assert versions[1]["Environment"]["Variables"] == {"STAGE": "one"}
    assert versions[1]["FunctionArn"] == f"{latest.arn}:1"
    published = client.publish_version(FunctionName="orders", Description="again")
    assert published["Version"] == "2"


def test_an_alias_routes_by_weight_and_reports_the_version_that_ran(
    make: MakeFunction, client: Any,
) -> None:
    fn = make(environment={"STAGE": "one"})
    fn.publish_version()
    fn = make(environment={"STAGE": "two"})
    fn.publish_version()
    alias = client.create_alias(FunctionName="orders", Name="live", FunctionVersion="1",
                                RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert alias["AliasArn"] == f"{fn.arn}:live" and alias["FunctionVersion"] == "1"
    assert alias["RoutingConfig"] == {"AdditionalVersionWeights": {"2": 0.5}}
    ran = {client.invoke(FunctionName="orders:live")["ExecutedVersion"] for _ in range(60)}
    assert ran == {"1", "2"}  # 60 draws at one half: both with near certainty
    client.update_alias(FunctionName="orders", Name="live", FunctionVersion="2",
                        RoutingConfig={"AdditionalVersionWeights": {}})
    assert {fn.invoke({}, qualifier="live").executed_version for _ in range(10)} == {"2"}
    assert client.get_alias(FunctionName="orders", Name="live")["FunctionVersion"] == "2"
    assert [a["Name"] for a in client.list_aliases(FunctionName="orders")["Aliases"]] == [
        "live"]
    client.delete_alias(FunctionName="orders", Name="live")
    with pytest.raises(ClientError) as exc:
        client.invoke(FunctionName="orders", Qualifier="live")
    assert _error(exc)[0] == "ResourceNotFoundException"


def test_aliases_are_checked_as_lambda_checks_them(make: MakeFunction, client: Any) -> None:
    fn = make()
    fn.publish_version()
    fn.create_alias("prod", "1")
    cases: list[tuple[dict[str, Any], str]] = [
        ({"Name": "prod", "FunctionVersion": "1"}, "ResourceConflictException"),
        ({"Name": "123", "FunctionVersion": "1"}, "ValidationException"),
        ({"Name": "beta", "FunctionVersion": "9"}, "ResourceNotFoundException"),
        ({"Name": "beta", "FunctionVersion": "1",
          "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
         "InvalidParameterValueException"),
        ({"Name": "beta", "FunctionVersion": "$LATEST",
          "RoutingConfig": {"AdditionalVersionWeights": {"1": 0.5}}},
         "InvalidParameterValueException"),
    ]
    for kwargs, code in cases:
        with pytest.raises(ClientError) as exc:
            client.create_alias(FunctionName="orders", **kwargs)
        assert _error(exc)[0] == code, kwargs


def test_the_invoked_arn_carries_the_qualifier(
    make: MakeFunction, backend: FakeBackend, service: LambdaService,
) -> None:
    fn = make()
    fn.publish_version()
    fn.create_alias("prod", "1")
    seen: list[str] = []
    original = service._new_invocation

    def spy(*args: Any, **kwargs: Any) -> Invocation:
        invocation = original(*args, **kwargs)
        seen.append(invocation.function_arn)
        return invocation

    service._new_invocation = spy  # type: ignore[method-assign]  # a spy for this test only
    fn.invoke({})
    fn.invoke({}, qualifier="1")
    fn.invoke({}, qualifier="prod")
    assert seen == [fn.arn, f"{fn.arn}:1", f"{fn.arn}:prod"]


def test_provisioned_concurrency_initialises_environments_ahead(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    fn = make()
    with pytest.raises(ClientError) as exc:
        client.put_provisioned_concurrency_config(FunctionName="orders", Qualifier="$LATEST",
                                                  ProvisionedConcurrentExecutions=1)
    assert _error(exc)[0] == "InvalidParameterValueException"
    v1 = fn.publish_version()
    fn.create_alias("live", v1.version)
    answer = client.put_provisioned_concurrency_config(
        FunctionName="orders", Qualifier="live", ProvisionedConcurrentExecutions=2)
    assert answer["Status"] == "READY" and answer["AllocatedProvisionedConcurrentExecutions"] == 2
    assert len(backend.created) == 2 and backend.received == []  # init ran, nothing invoked
    assert all(env.initialization_type == "provisioned-concurrency" for env in backend.created)
    result = fn.invoke({"n": 1}, qualifier="live")
    assert not result.cold_start and "Init Duration" not in result.logs
    assert result.executed_version == "1"
    assert client.get_provisioned_concurrency_config(
        FunctionName="orders", Qualifier="live")["RequestedProvisionedConcurrentExecutions"] == 2
    assert fn.invoke({}).cold_start  # $LATEST has none


def test_a_thousand_event_soak_through_the_service_with_throttles_and_an_sqs_destination(
    make: MakeFunction, service: LambdaService, api: LambdaAPI, backend: FakeBackend,
) -> None:
    """1,000 events at queue concurrency 8: a third fail every attempt, a third succeed, a third
    go to a function whose reserved concurrency is 0 (throttled, no retries); five more queue
    up behind a reserved concurrency of 1 and are throttled before they run. Every event ends
    exactly once; every failure reaches the on-failure queue on moto."""
    import boto3
    from moto.server import ThreadedMotoServer

    from pytest_lambda.service.destinations import AwsTarget

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        api.use_aws(AwsTarget(url))
        sqs = boto3.session.Session().client("sqs", region_name="us-east-1", endpoint_url=url,
                                             aws_access_key_id="testing",
                                             aws_secret_access_key="testing")
        queue_url = sqs.create_queue(QueueName="soak-failures")["QueueUrl"]
        failures_arn = f"arn:aws:sqs:us-east-1:{ACCOUNT}:soak-failures"
        orders, closed, narrow = make("orders"), make("closed", reserved_concurrency=0), \
            make("narrow", reserved_concurrency=1)
        for fn in (orders, closed, narrow):
            fn.configure_async(on_failure=failures_arn)
        service.async_queue().delay_scale = 0.01  # a minute is 0.6 s; six hours 216 s
        expected: dict[str, tuple[str, int]] = {}
        for n in range(1000):
            if n % 3 == 0:
                expected[orders.invoke_async({"op": "raise", "n": n})] = ("RetriesExhausted", 3)
            elif n % 3 == 1:
                expected[orders.invoke_async({"n": n})] = ("Success", 1)
            else:
                expected[closed.invoke_async({"n": n})] = ("RetriesExhausted", 0)
        for n in range(5):
            expected[narrow.invoke_async({"op": "sleep", "seconds": 0.01, "n": n})] = (
                "Success", 1)
        results = api.wait_for_async(timeout=300)
        by_id = {r.request_id: r for r in results}
        assert len(results) == len(by_id) == 1005 and set(by_id) == set(expected)
        for request_id, (condition, count) in expected.items():
            result = by_id[request_id]
            assert (result.condition, result.invoke_count) == (condition, count)
            if condition == "Success":
                assert result.deliveries == ()
            else:
                assert [(d.kind, d.error) for d in result.deliveries] == [("on-failure", None)]
        outcomes = [a.outcome for a in api.attempts]
        assert outcomes.count("success") == 333 + 5
        assert outcomes.count("error") == 334 * 3
        assert outcomes.count("throttled") >= 333  # every "closed" event, and "narrow" ones
        assert len(backend.received) == 333 + 334 * 3 + 5
        failures = 0
        while True:
            got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
                "Messages", [])
            if not got:
                break
            failures += len(got)
            sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)])
        assert failures == 334 + 333
    finally:
        server.stop()


def test_a_lambda_destination_gets_the_record_as_an_asynchronous_event(
    make: MakeFunction, api: LambdaAPI, backend: FakeBackend,
) -> None:
    audit = make("audit")
    orders = make("orders")
    orders.configure_async(on_success=audit.arn, maximum_retry_attempts=0)
    request_id = orders.invoke_async({"order": 9})
    # The destination's event is queued before the first one counts as finished: one wait.
    results = {r.function_arn: r for r in api.wait_for_async(timeout=30)}
    assert results[orders.arn].request_id == request_id
    assert [(d.kind, d.target, d.error) for d in results[orders.arn].deliveries] == [
        ("on-success", audit.arn, None)]
    record = json.loads(results[audit.arn].payload)
    assert record["requestContext"]["requestId"] == request_id
    assert record["requestContext"]["condition"] == "Success"
    assert record["responsePayload"] == {"order": 9}
    assert [event for _n, event in backend.received][-1] == record


def test_configure_async_refuses_what_lambda_refuses(make: MakeFunction) -> None:
    from pytest_lambda.errors import InvalidParameterValueException, ValidationException

    fn = make()
    with pytest.raises(ValidationException):
        fn.configure_async(maximum_retry_attempts=3)
    with pytest.raises(ValidationException):
        fn.configure_async(maximum_event_age=59)
    with pytest.raises(InvalidParameterValueException):
        fn.configure_async(on_failure="not-an-arn")
    with pytest.raises(InvalidParameterValueException):
        fn.configure_async(dead_letter_queue=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x")


def test_a_dead_letter_queue_through_update_function_configuration(
    make: MakeFunction, api: LambdaAPI, client: Any,
) -> None:
    make()
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:dead"
    answer = client.update_function_configuration(FunctionName="orders",
                                                   DeadLetterConfig={"TargetArn": queue})
    assert answer["DeadLetterConfig"] == {"TargetArn": queue}
    assert client.get_function_configuration(FunctionName="orders")["DeadLetterConfig"] == {
        "TargetArn": queue}
    client.invoke(FunctionName="orders", InvocationType="Event",
                  Payload=json.dumps({"op": "raise"}))
    (result,) = api.wait_for_async(timeout=30)
    assert [d.kind for d in result.deliveries] == ["dead-letter"]
    with pytest.raises(ClientError) as exc:
        client.update_function_configuration(FunctionName="orders", MemorySize=256)
    assert _error(exc)[:2] == ("NotImplementedException", 501)
    with pytest.raises(ClientError) as exc:
        client.update_function_configuration(
            FunctionName="orders",
            DeadLetterConfig={"TargetArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:x"})
    assert _error(exc)[:2] == ("InvalidParameterValueException", 400)


# -- the account: its concurrency and settings --------------------------------------------------

_FIXED_LIMITS = {"TotalCodeSize": 80_530_636_800, "CodeSizeUnzipped": 262_144_000,
                 "CodeSizeZipped": 52_428_800}


def test_get_account_settings_answers_the_limits_and_the_usage(
    make: MakeFunction, client: Any, api: LambdaAPI,
) -> None:
    settings = client.get_account_settings()
    assert settings["AccountLimit"] == {**_FIXED_LIMITS, "ConcurrentExecutions": 1000,
                                        "UnreservedConcurrentExecutions": 1000}
    assert settings["AccountUsage"] == {"TotalCodeSize": 0, "FunctionCount": 0}
    orders = make(reserved_concurrency=100)
    make("audit")
    client.put_function_concurrency(FunctionName="audit", ReservedConcurrentExecutions=200)
    make("elsewhere", region="eu-west-1", reserved_concurrency=300)  # another region's pool
    orders.publish_version()  # a version's code is stored too
    code_size = len("def handler(event, context):\n    return event\n")
    settings = client.get_account_settings()
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 700
    assert settings["AccountUsage"] == {"TotalCodeSize": 3 * code_size, "FunctionCount": 2}
    assert client.get_function_configuration(FunctionName="orders")["CodeSize"] == code_size
    other = api.client("eu-west-1").get_account_settings()
    assert other["AccountLimit"]["UnreservedConcurrentExecutions"] == 700
    assert other["AccountUsage"]["FunctionCount"] == 1


def test_put_function_concurrency_keeps_a_hundred_unreserved_across_functions(
    make: MakeFunction, client: Any,
) -> None:
    make("big", reserved_concurrency=600)
    make("small")
    client.put_function_concurrency(FunctionName="small", ReservedConcurrentExecutions=300)
    with pytest.raises(ClientError) as exc:
        client.put_function_concurrency(FunctionName="small", ReservedConcurrentExecutions=301)
    code, status, message, _response = _error(exc)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith(
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]")
    assert client.get_function_concurrency(FunctionName="small") == {
        "ReservedConcurrentExecutions": 300, "ResponseMetadata": ANY}
    client.delete_function_concurrency(FunctionName="big")
    client.put_function_concurrency(FunctionName="small", ReservedConcurrentExecutions=900)
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 100


@pytest.mark.parametrize("account_concurrency", [100])
def test_an_account_of_a_hundred_can_only_switch_a_function_off(
    make: MakeFunction, client: Any,
) -> None:
    make()
    with pytest.raises(ClientError) as exc:
        client.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=1)
    assert _error(exc)[0] == "InvalidParameterValueException"
    client.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=0)
    limit = client.get_account_settings()["AccountLimit"]
    assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (100, 100)


@pytest.mark.parametrize("account_concurrency", [2])
def test_the_unreserved_pool_throttles_sync_and_requeues_async_invocations(
    make: MakeFunction, client: Any, api: LambdaAPI, backend: FakeBackend,
    service: LambdaService,
) -> None:
    import threading

    slow, other = make("slow"), make("other")
    service.async_queue().delay_scale = 0.001
    busy = [threading.Thread(target=slow.invoke, args=({"op": "sleep", "seconds": 1.0},))
            for _ in range(2)]
    for thread in busy:
        thread.start()
    try:
        _wait_for(lambda: len(backend.received) == 2)
        with pytest.raises(ClientError) as exc:
            client.invoke(FunctionName="other")
        code, status, message, response = _error(exc)
        assert (code, status, message) == ("TooManyRequestsException", 429, "Rate Exceeded.")
        assert response["Reason"] == "ConcurrentInvocationLimitExceeded"
        with pytest.raises(TooManyRequestsException):
            other.invoke({})
        other.invoke_async({"later": True})
        (result,) = api.wait_for_async(timeout=30)
    finally:
        for thread in busy:
            thread.join()
    assert result.ok and result.invoke_count == 1
    throttled = [a for a in api.attempts if a.outcome == "throttled"]
    assert throttled and throttled[0].error_type == "ConcurrentInvocationLimitExceeded"
    assert api.attempts[-1].outcome == "success"
    assert client.invoke(FunctionName="other")["StatusCode"] == 200


# -- asynchronous settings per qualifier ---------------------------------------------------------

def test_each_qualifier_has_its_own_event_invoke_config(make: MakeFunction, client: Any) -> None:
    fn = make()
    fn.publish_version()
    fn.create_alias("live", "1")
    queue = f"arn:aws:sqs:us-east-1:{ACCOUNT}:failures"
    latest = client.put_function_event_invoke_config(FunctionName="orders",
                                                      MaximumRetryAttempts=0)
    assert latest["FunctionArn"] == f"{fn.arn}:$LATEST"
    version = client.put_function_event_invoke_config(FunctionName="orders", Qualifier="1",
                                                       MaximumEventAgeInSeconds=600)
    assert version["FunctionArn"] == f"{fn.arn}:1"
    assert version["MaximumRetryAttempts"] == 2
    alias = client.put_function_event_invoke_config(
        FunctionName="orders:live", MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue}})
    assert alias["FunctionArn"] == f"{fn.arn}:live"
    assert client.get_function_event_invoke_config(
        FunctionName="orders", Qualifier="$LATEST")["MaximumRetryAttempts"] == 0
    assert client.get_function_event_invoke_config(
        FunctionName="orders", Qualifier="1")["MaximumEventAgeInSeconds"] == 600
    got = client.get_function_event_invoke_config(FunctionName=f"{fn.arn}:live")
    assert got["MaximumRetryAttempts"] == 1
    assert got["DestinationConfig"] == {"OnFailure": {"Destination": queue}}
    updated = client.update_function_event_invoke_config(FunctionName="orders", Qualifier="live",
                                                         MaximumEventAgeInSeconds=120)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (1, 120)
    listed = client.list_function_event_invoke_configs(FunctionName="orders")
    assert sorted(c["FunctionArn"] for c in listed["FunctionEventInvokeConfigs"]) == [
        f"{fn.arn}:$LATEST", f"{fn.arn}:1", f"{fn.arn}:live"]
    page = client.list_function_event_invoke_configs(FunctionName="orders", MaxItems=2)
    assert len(page["FunctionEventInvokeConfigs"]) == 2 and page["NextMarker"]
    rest = client.list_function_event_invoke_configs(FunctionName="orders",
                                                     Marker=page["NextMarker"])
    assert len(rest["FunctionEventInvokeConfigs"]) == 1 and "NextMarker" not in rest
    client.delete_function_event_invoke_config(FunctionName="orders", Qualifier="1")
    with pytest.raises(ClientError) as exc:
        client.get_function_event_invoke_config(FunctionName="orders", Qualifier="1")
    code, status, message, _response = _error(exc)
    assert (code, status) == ("ResourceNotFoundException", 404)
    assert message == f"The function {fn.arn}:1 doesn't have an EventInvokeConfig"
    assert client.get_function_event_invoke_config(FunctionName="orders:live")
    assert len(client.list_function_event_invoke_configs(
        FunctionName="orders")["FunctionEventInvokeConfigs"]) == 2


def test_event_invoke_configs_of_unknown_qualifiers_get_lambdas_errors(
    make: MakeFunction, client: Any,
) -> None:
    fn = make()
    for call in (client.put_function_event_invoke_config,
                 client.update_function_event_invoke_config):
        with pytest.raises(ClientError) as exc:
            call(FunctionName="orders", Qualifier="nope", MaximumRetryAttempts=1)
        assert _error(exc)[:3] == ("ResourceNotFoundException", 404,
                                   "The function doesn't exist.")
    with pytest.raises(ClientError) as exc:
        client.update_function_event_invoke_config(FunctionName="orders", MaximumRetryAttempts=1)
    assert _error(exc)[:3] == ("ResourceNotFoundException", 404,
                               f"The function {fn.arn}:$LATEST doesn't have an "
                               f"EventInvokeConfig")
    with pytest.raises(ClientError) as exc:
        client.put_function_event_invoke_config(FunctionName="orders")
    assert _error(exc)[:3] == (
        "InvalidParameterValueException", 400,
        "You must specify at least one of error handling or destination setting.")
    with pytest.raises(ClientError) as exc:
        client.delete_function_event_invoke_config(FunctionName="orders", Qualifier="7")
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        client.list_function_event_invoke_configs(FunctionName="missing")
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        client.list_function_event_invoke_configs(FunctionName="orders", MaxItems=51)
    assert _error(exc)[:2] == ("ValidationException", 400)


def test_an_event_runs_with_the_settings_of_the_qualifier_it_was_invoked_by(
    make: MakeFunction, client: Any, api: LambdaAPI,
) -> None:
    fn = make()
    fn.publish_version()
    fn.create_alias("live", "1")
    client.put_function_event_invoke_config(FunctionName="orders", MaximumRetryAttempts=0)
    client.put_function_event_invoke_config(FunctionName="orders", Qualifier="live",
                                            MaximumRetryAttempts=1)
    failing = json.dumps({"op": "raise"})
    counts = {}
    for qualifier in ("$LATEST", "live", "1"):
        answer = client.invoke(FunctionName="orders", Qualifier=qualifier,
                               InvocationType="Event", Payload=failing)
        counts[qualifier] = api.result(answer["ResponseMetadata"]["RequestId"],
                                       timeout=30).invoke_count
    unqualified = client.invoke(FunctionName="orders", InvocationType="Event", Payload=failing)
    counts["unqualified"] = api.result(unqualified["ResponseMetadata"]["RequestId"],
                                       timeout=30).invoke_count
    # $LATEST: no retry; the alias: one; version 1 has none of its own: Lambda's two.
    assert counts == {"$LATEST": 1, "live": 2, "1": 3, "unqualified": 1}


def test_configure_async_takes_a_qualifier(make: MakeFunction, client: Any,
                                           api: LambdaAPI) -> None:
    from pytest_lambda.errors import ResourceNotFoundException

    fn = make()
    version = fn.publish_version()
    fn.create_alias("live", "1")
    fn.configure_async(maximum_retry_attempts=0, qualifier="live")
    got = client.get_function_event_invoke_config(FunctionName="orders", Qualifier="live")
    assert got["MaximumRetryAttempts"] == 0 and got["FunctionArn"] == f"{fn.arn}:live"
    with pytest.raises(ClientError):
        client.get_function_event_invoke_config(FunctionName="orders")
    result = api.result(fn.invoke_async({"op": "raise"}, qualifier="live"), timeout=30)
    assert result.invoke_count == 1
    assert api.result(fn.invoke_async({"op": "raise"}), timeout=30).invoke_count == 3
    version.configure_async(maximum_retry_attempts=1)  # a version's handle: its own settings
    assert client.get_function_event_invoke_config(
        FunctionName="orders", Qualifier="1")["MaximumRetryAttempts"] == 1
    assert api.result(version.invoke_async({"op": "raise"}), timeout=30).invoke_count == 2
    with pytest.raises(ResourceNotFoundException):
        fn.configure_async(maximum_retry_attempts=0, qualifier="nope")
    with pytest.raises(InvalidParameterValueException, match="dead-letter queue"):
        fn.configure_async(dead_letter_queue=f"arn:aws:sqs:us-east-1:{ACCOUNT}:dlq",
                           qualifier="live")


class _Wall:
    """A settable stand-in for the registry's wall clock."""

    def __init__(self, now: float) -> None:
        self.now = now

    def wall(self) -> float:
        return self.now


def test_last_modified_is_when_the_function_last_changed(
    make: MakeFunction, client: Any, monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = _Wall(1_800_000_000.0)  # 2027-01-15T08:00:00Z
    monkeypatch.setattr("pytest_lambda.service.registry._clock", clock)

    def modified(**query: str) -> str:
        return str(client.get_function_configuration(FunctionName="orders", **query)
                   ["LastModified"])

    make(timeout=7)
    made = modified()
    assert made == "2027-01-15T08:00:00.000+0000"
    clock.now += 60
    assert modified() == made  # reading it again changes nothing
    assert client.get_function(FunctionName="orders")["Configuration"]["LastModified"] == made
    make(timeout=7)  # the same function made again by a later test
    assert modified() == made
    published = client.publish_version(FunctionName="orders")
    assert published["LastModified"] == "2027-01-15T08:01:00.000+0000"
    clock.now += 60
    make(timeout=8)  # a changed configuration
    assert modified() == "2027-01-15T08:02:00.000+0000"
    assert modified(Qualifier="1") == published["LastModified"]
    clock.now += 60
    client.update_function_configuration(
        FunctionName="orders", DeadLetterConfig={"TargetArn": "arn:aws:sqs:us-east-1:"
                                                              "123456789012:dlq"})
    assert modified() == "2027-01-15T08:03:00.000+0000"
    listed = client.list_functions()["Functions"]
    assert [f["LastModified"] for f in listed] == ["2027-01-15T08:03:00.000+0000"]


def test_every_configuration_document_carries_the_dead_letter_queue(
    make: MakeFunction, client: Any,
) -> None:
    make()
    dlq = {"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"}
    client.update_function_configuration(FunctionName="orders", DeadLetterConfig=dlq)
    assert client.get_function(FunctionName="orders")["Configuration"]["DeadLetterConfig"] == dlq
    assert client.list_functions()["Functions"][0]["DeadLetterConfig"] == dlq
