"""Provisioned concurrency in the account's arithmetic, its delete and list operations, and a
dead-letter queue frozen into each published version: boto3's real `lambda` client against the
in-process API on the fake backend (no Docker), and the Python API."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError
from fake_backend import FakeBackend, MakeFunction

from pytest_lambda.errors import InvalidParameterValueException, ResourceNotFoundException
from pytest_lambda.lambda_api.api import LambdaAPI
from pytest_lambda.service.function import Function
from pytest_lambda.service.service import LambdaService

ACCOUNT = "123456789012"


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    error = exc.value.response
    return (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"],
            error["Error"]["Message"])


def _put(client: Any, qualifier: str, count: int, name: str = "orders") -> Any:
    """PutProvisionedConcurrencyConfig of `name`'s `qualifier` through boto3's client."""
    return client.put_provisioned_concurrency_config(
        FunctionName=name, Qualifier=qualifier, ProvisionedConcurrentExecutions=count)


def _shut(envs: list[Any]) -> list[bool]:
    """Whether each environment was given up: its Runtime API stops answering at once (its
    removal finishes in the background)."""
    return [env.server.closed for env in envs]


def _queue(name: str) -> str:
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


# -- 3. a dead-letter queue frozen into a published version ---------------------------------------


def test_a_version_keeps_the_dead_letter_queue_it_was_published_with(
    make: MakeFunction, api: LambdaAPI, client: Any,
) -> None:
    fn = make()
    client.update_function_configuration(FunctionName="orders",
                                         DeadLetterConfig={"TargetArn": _queue("old")})
    published = client.publish_version(FunctionName="orders")
    assert published["Version"] == "1"
    assert published["DeadLetterConfig"] == {"TargetArn": _queue("old")}
    fn.create_alias("live", "1")
    client.update_function_configuration(FunctionName="orders",
                                         DeadLetterConfig={"TargetArn": _queue("new")})

    def dead_letter(qualifier: str | None = None) -> Any:
        options = {} if qualifier is None else {"Qualifier": qualifier}
        return client.get_function_configuration(
            FunctionName="orders", **options).get("DeadLetterConfig")

    assert dead_letter() == {"TargetArn": _queue("new")}
    assert dead_letter("$LATEST") == {"TargetArn": _queue("new")}
    assert dead_letter("1") == {"TargetArn": _queue("old")}
    assert dead_letter("live") == {"TargetArn": _queue("old")}

    def dead_lettered_to(name: str) -> list[str | None]:
        answer = client.invoke(FunctionName=name, InvocationType="Event",
                               Payload=json.dumps({"op": "raise"}))
        result = api.result(answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"],
                            timeout=30)
        return [d.target for d in result.deliveries if d.kind == "dead-letter"]

    assert dead_lettered_to("orders") == [_queue("new")]
    assert dead_lettered_to("orders:1") == [_queue("old")]
    assert dead_lettered_to("orders:live") == [_queue("old")]
    # A change of the dead-letter queue alone is a change: publishing makes version 2.
    second = client.publish_version(FunctionName="orders")
    assert second["Version"] == "2" and second["DeadLetterConfig"] == {"TargetArn": _queue("new")}
    listed = {v["Version"]: v.get("DeadLetterConfig")
              for v in client.list_versions_by_function(FunctionName="orders")["Versions"]}
    assert listed == {"$LATEST": {"TargetArn": _queue("new")},
                      "1": {"TargetArn": _queue("old")}, "2": {"TargetArn": _queue("new")}}


def test_a_version_published_without_a_dead_letter_queue_has_none(
    make: MakeFunction, api: LambdaAPI,
) -> None:
    fn = make()
    version = fn.publish_version()
    fn.configure_async(dead_letter_queue=_queue("later"))
    result = api.result(version.invoke_async({"op": "raise"}), timeout=30)
    assert [d.kind for d in result.deliveries] == []
    result = api.result(fn.invoke_async({"op": "raise"}), timeout=30)
    assert [(d.kind, d.target) for d in result.deliveries] == [("dead-letter", _queue("later"))]
    with pytest.raises(InvalidParameterValueException, match="publish"):
        version.configure_async(dead_letter_queue=_queue("x"))


# -- 1. provisioned concurrency in the account's arithmetic ---------------------------------------

RESERVED_SENTENCE = ("Requested Provisioned Concurrency should not be greater than the "
                     "reservedConcurrentExecution for function")
UNRESERVED_SENTENCE = ("Specified ConcurrentExecutions for function decreases account's "
                       "UnreservedConcurrentExecution below its minimum value of [100]")


def _versions(fn: Function, count: int) -> list[Function]:
    """Publish `count` versions of `fn` (each with its own dead-letter queue, so that each
    publication is a change)."""
    published = []
    for number in range(count):
        fn.configure_async(dead_letter_queue=_queue(f"v{number}"))
        published.append(fn.publish_version())
    return published


def test_provisioned_concurrency_of_all_versions_and_aliases_fits_in_the_reservation(
    make: MakeFunction, client: Any,
) -> None:
    fn = make(reserved_concurrency=5)
    v1, v2 = _versions(fn, 2)
    fn.create_alias("live", v2.version)
    _put(client, "1", 3)
    with pytest.raises(ClientError) as exc:
        _put(client, "live", 3)
    code, status, message = _error(exc)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith(RESERVED_SENTENCE)
    with pytest.raises(InvalidParameterValueException, match=RESERVED_SENTENCE):
        fn.set_provisioned_concurrency(3, qualifier="live")
    with pytest.raises(ClientError) as exc:
        client.get_provisioned_concurrency_config(FunctionName="orders", Qualifier="live")
    assert _error(exc)[:2] == ("ProvisionedConcurrencyConfigNotFoundException", 404)
    # Exactly the reservation is allowed; so is raising one qualifier's within it.
    _put(client, "live", 2)
    with pytest.raises(ClientError):
        _put(client, "1", 4)
    # The reservation cannot go below what the versions and aliases have provisioned.
    with pytest.raises(ClientError) as exc:
        client.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=4)
    code, status, message = _error(exc)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "provisioned concurrency of its versions and aliases [5]" in message
    with pytest.raises(InvalidParameterValueException, match=r"\[5\]"):
        fn.set_reserved_concurrency(0)
    assert client.get_function_concurrency(
        FunctionName="orders")["ReservedConcurrentExecutions"] == 5
    client.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=6)
    v1.set_provisioned_concurrency(4)  # the Python API: 4 + 2 fit in 6
    assert client.get_provisioned_concurrency_config(
        FunctionName="orders", Qualifier="1")["RequestedProvisionedConcurrentExecutions"] == 4


@pytest.mark.parametrize("account_concurrency", [105])
def test_provisioned_concurrency_without_a_reservation_comes_out_of_the_unreserved_pool(
    make: MakeFunction, client: Any,
) -> None:
    fn = make()
    other = make("billing")
    (v1,) = _versions(fn, 1)
    (b1,) = _versions(other, 1)
    _put(client, "1", 3)
    with pytest.raises(ClientError) as exc:
        _put(client, "1", 3, name="billing")
    code, status, message = _error(exc)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message.startswith(UNRESERVED_SENTENCE)
    with pytest.raises(InvalidParameterValueException, match=r"minimum value of \[100\]"):
        b1.set_provisioned_concurrency(3)
    b1.set_provisioned_concurrency(2)  # 3 + 2 leave the 100
    # A reservation elsewhere cannot take what provisioned concurrency holds either...
    with pytest.raises(ClientError) as exc:
        client.put_function_concurrency(FunctionName="billing", ReservedConcurrentExecutions=3)
    assert _error(exc)[2].startswith(
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]")
    # ... but reserving a function moves its own provisioned concurrency into the reservation.
    client.put_function_concurrency(FunctionName="billing", ReservedConcurrentExecutions=2)
    # GetAccountSettings' UnreservedConcurrentExecutions is the account less its reservations.
    limits = client.get_account_settings()["AccountLimit"]
    assert limits["ConcurrentExecutions"] == 105
    assert limits["UnreservedConcurrentExecutions"] == 103
    # Changing one qualifier's count replaces it, not adds to it.
    v1.set_provisioned_concurrency(3)
    v1.set_provisioned_concurrency(1)
    _put(client, "1", 3)


@pytest.mark.parametrize("account_concurrency", [100])
def test_an_account_of_100_cannot_provision_a_function_without_a_reservation(
    make: MakeFunction,
) -> None:
    fn = make()
    (v1,) = _versions(fn, 1)
    with pytest.raises(InvalidParameterValueException, match=r"minimum value of \[100\]"):
        v1.set_provisioned_concurrency(1)
    assert fn._service.registry.entry(fn.arn).provisioned == {}  # type: ignore[union-attr]


def test_an_alias_and_its_version_cannot_both_be_provisioned(
    make: MakeFunction, client: Any,
) -> None:
    fn = make()
    (v1,) = _versions(fn, 1)
    fn.create_alias("live", "1")
    _put(client, "1", 1)
    with pytest.raises(ClientError) as exc:
        _put(client, "live", 1)
    code, status, message = _error(exc)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message.startswith("Alias can't be used for Provisioned Concurrency configuration "
                              "on an already Provisioned version")
    client.delete_provisioned_concurrency_config(FunctionName="orders", Qualifier="1")
    fn.set_provisioned_concurrency(1, qualifier="live")
    with pytest.raises(ClientError) as exc:
        _put(client, "1", 1)
    code, status, message = _error(exc)
    assert (code, status) == ("ResourceConflictException", 409)
    assert message.startswith("Version is pointed by a Provisioned Concurrency alias")


def test_put_provisioned_concurrency_refuses_what_lambda_refuses(
    make: MakeFunction, client: Any,
) -> None:
    fn = make()
    _versions(fn, 1)
    for qualifier, code in (("$LATEST", "InvalidParameterValueException"),
                            ("9", "ResourceNotFoundException"),
                            ("nope", "ResourceNotFoundException")):
        with pytest.raises(ClientError) as exc:
            _put(client, qualifier, 1)
        assert _error(exc)[0] == code, qualifier
    with pytest.raises(InvalidParameterValueException, match="1 or more"):
        fn.set_provisioned_concurrency(0, qualifier="1")
    fn.create_alias("head", "$LATEST")
    with pytest.raises(InvalidParameterValueException, match="points at \\$LATEST"):
        fn.set_provisioned_concurrency(1, qualifier="head")


# -- 2. DeleteProvisionedConcurrencyConfig and ListProvisionedConcurrencyConfigs -----------------


def test_deleting_a_provisioned_concurrency_config_gives_its_environments_up(
    make: MakeFunction, client: Any, backend: FakeBackend,
) -> None:
    fn = make()
    _versions(fn, 1)
    fn.create_alias("live", "1")
    _put(client, "live", 2)
    provisioned = list(backend.created)
    assert [env.initialization_type for env in provisioned] == ["provisioned-concurrency"] * 2
    assert not fn.invoke({}, qualifier="live").cold_start
    answer = client.delete_provisioned_concurrency_config(FunctionName="orders",
                                                          Qualifier="live")
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert _shut(provisioned) == [True, True]
    result = fn.invoke({}, qualifier="live")
    assert result.cold_start and "Init Duration" in result.logs
    assert backend.created[-1].initialization_type == "on-demand"
    assert len(backend.created) == 3
    for call in (client.get_provisioned_concurrency_config,
                 client.delete_provisioned_concurrency_config):
        with pytest.raises(ClientError) as exc:
            call(FunctionName="orders", Qualifier="live")
        code, status, message = _error(exc)
        assert (code, status) == ("ProvisionedConcurrencyConfigNotFoundException", 404)
        assert message.startswith("No Provisioned Concurrency Config found for this function")
    with pytest.raises(ClientError) as exc:
        client.delete_provisioned_concurrency_config(FunctionName="orders", Qualifier="$LATEST")
    assert _error(exc)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as exc:
        client.delete_provisioned_concurrency_config(FunctionName="orders", Qualifier="gone")
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ClientError) as exc:
        client.delete_provisioned_concurrency_config(FunctionName="nobody", Qualifier="1")
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)
    with pytest.raises(ResourceNotFoundException, match="No Provisioned Concurrency Config"):
        fn.remove_provisioned_concurrency(qualifier="live")


def test_a_busy_provisioned_environment_goes_when_its_invocation_ends(
    make: MakeFunction, backend: FakeBackend,
) -> None:
    import threading

    fn = make()
    (v1,) = _versions(fn, 1)
    v1.set_provisioned_concurrency(1)
    (env,) = backend.created
    running = threading.Thread(target=v1.invoke, args=({"op": "sleep", "seconds": 2},))
    running.start()
    while not backend.received:  # the invocation reached the provisioned environment
        threading.Event().wait(0.01)
    v1.remove_provisioned_concurrency()
    assert _shut([env]) == [False]  # busy: it finishes its invocation
    running.join()
    fn._service.close()  # waits for the teardown of discarded environments
    assert env.destroyed
    assert len(backend.created) == 1


def test_a_lower_count_shuts_the_surplus_down_and_a_higher_one_adds(
    make: MakeFunction, backend: FakeBackend, client: Any,
) -> None:
    fn = make()
    (v1,) = _versions(fn, 1)
    v1.set_provisioned_concurrency(3)
    assert len(backend.created) == 3
    _put(client, "1", 1)
    # Two of the three go, whichever: they were made side by side, in no set order.
    shut = _shut(backend.created)
    assert sorted(shut) == [False, True, True]
    kept = shut.index(False)
    v1.set_provisioned_concurrency(2)
    assert len(backend.created) == 4
    assert [i for i, gone in enumerate(_shut(backend.created)) if not gone] == [kept, 3]
    assert fn._service.provisioned_count(v1.config, v1.backend) == 2


def test_deleting_an_alias_deletes_its_provisioned_concurrency(
    make: MakeFunction, backend: FakeBackend, client: Any,
) -> None:
    fn = make(reserved_concurrency=1)
    _versions(fn, 1)
    fn.create_alias("live", "1")
    fn.set_provisioned_concurrency(1, qualifier="live")
    client.delete_alias(FunctionName="orders", Name="live")
    assert _shut(backend.created) == [True]
    assert client.list_provisioned_concurrency_configs(
        FunctionName="orders")["ProvisionedConcurrencyConfigs"] == []
    client.put_function_concurrency(FunctionName="orders", ReservedConcurrentExecutions=0)


def test_list_provisioned_concurrency_configs_pages_with_marker_and_max_items(
    make: MakeFunction, client: Any,
) -> None:
    fn = make()
    _versions(fn, 3)
    fn.create_alias("live", "3")
    for qualifier, count in (("2", 2), ("1", 1), ("live", 3)):
        _put(client, qualifier, count)
    first = client.list_provisioned_concurrency_configs(FunctionName="orders", MaxItems=2)
    assert [c["FunctionArn"] for c in first["ProvisionedConcurrencyConfigs"]] == [
        f"{fn.arn}:1", f"{fn.arn}:2"]
    assert first["NextMarker"] == "2"
    item = first["ProvisionedConcurrencyConfigs"][1]
    assert {key: item[key] for key in ("RequestedProvisionedConcurrentExecutions",
                                       "AvailableProvisionedConcurrentExecutions",
                                       "AllocatedProvisionedConcurrentExecutions", "Status")
            } == {"RequestedProvisionedConcurrentExecutions": 2,
                  "AvailableProvisionedConcurrentExecutions": 2,
                  "AllocatedProvisionedConcurrentExecutions": 2, "Status": "READY"}
    assert item["LastModified"].endswith("+0000")
    second = client.list_provisioned_concurrency_configs(FunctionName="orders", MaxItems=2,
                                                         Marker=first["NextMarker"])
    assert [c["FunctionArn"] for c in second["ProvisionedConcurrencyConfigs"]] == [
        f"{fn.arn}:live"]
    assert second["ProvisionedConcurrencyConfigs"][0][
        "RequestedProvisionedConcurrentExecutions"] == 3
    assert "NextMarker" not in second
    pages = client.get_paginator("list_provisioned_concurrency_configs").paginate(
        FunctionName="orders", PaginationConfig={"PageSize": 1})
    assert [c["FunctionArn"].rsplit(":", 1)[1] for page in pages
            for c in page["ProvisionedConcurrencyConfigs"]] == ["1", "2", "live"]
    with pytest.raises(ClientError) as exc:
        client.list_provisioned_concurrency_configs(FunctionName="orders", Marker="nope")
    assert _error(exc)[:2] == ("InvalidParameterValueException", 400)
    with pytest.raises(ClientError) as exc:
        client.list_provisioned_concurrency_configs(FunctionName="orders", MaxItems=51)
    assert _error(exc)[:2] == ("ValidationException", 400)
    with pytest.raises(ClientError) as exc:
        client.list_provisioned_concurrency_configs(FunctionName="nobody")
    assert _error(exc)[:2] == ("ResourceNotFoundException", 404)


def test_the_registry_orders_and_releases_provisioned_configs(
    make: MakeFunction, service: LambdaService,
) -> None:
    fn = make()
    _versions(fn, 2)
    fn.create_alias("a", "2")
    registry = service.registry
    entry, key, version = registry.provisioned_target(fn, "a")
    assert (key, version.version) == ("a", "2")
    assert registry.claim_provisioned(entry, "a", 2) == 0
    assert registry.claim_provisioned(entry, "a", 1) == 2
    entry1, key1, _version1 = registry.provisioned_target(fn, "1")
    registry.claim_provisioned(entry1, key1, 4)
    assert [(k, n) for k, n, _at in registry.provisioned_configs(entry)] == [("1", 4), ("a", 1)]
    assert registry.release_provisioned(entry, "1") == 4
    assert registry.release_provisioned(entry, "1") is None
    assert registry.release_provisioned(entry, "a", restore=3) == 1
    assert entry.provisioned == {"a": 3}


def test_an_alias_takes_its_provisioned_concurrency_to_the_version_it_is_pointed_at(
    make: MakeFunction, backend: FakeBackend, client: Any,
) -> None:
    fn = make()
    _versions(fn, 3)
    fn.create_alias("live", "1")
    fn.set_provisioned_concurrency(2, qualifier="live")
    first = list(backend.created)
    assert [env.config.version for env in first] == ["1", "1"]
    answer = client.update_alias(FunctionName="orders", Name="live", FunctionVersion="2")
    assert answer["FunctionVersion"] == "2"
    assert _shut(first) == [True, True]
    moved = backend.created[2:]
    assert [(env.config.version, env.initialization_type) for env in moved] == [
        ("2", "provisioned-concurrency")] * 2
    result = fn.invoke({}, qualifier="live")
    assert (result.executed_version, result.cold_start) == ("2", False)
    # Not onto $LATEST, nor onto a version that has provisioned concurrency of its own.
    with pytest.raises(InvalidParameterValueException, match="unpublished"):
        fn.update_alias("live", "$LATEST")
    fn.set_provisioned_concurrency(1, qualifier="3")
    with pytest.raises(ClientError) as exc:
        client.update_alias(FunctionName="orders", Name="live", FunctionVersion="3")
    assert _error(exc)[:2] == ("ResourceConflictException", 409)
    assert client.get_alias(FunctionName="orders", Name="live")["FunctionVersion"] == "2"
    # Other changes of the alias leave its environments where they are.
    fn.update_alias("live", description="the live one")
    assert _shut(backend.created) == [True, True, False, False, False]


def test_putting_the_same_count_again_replaces_environments_a_reset_took(
    make: MakeFunction, backend: FakeBackend, service: LambdaService,
) -> None:
    fn = make()
    (v1,) = _versions(fn, 1)
    v1.set_provisioned_concurrency(2)
    v1.reset()  # as per-test isolation does between tests
    assert service.provisioned_count(v1.config, v1.backend) == 0
    v1.set_provisioned_concurrency(2)
    assert len(backend.created) == 4
    assert not v1.invoke({}).cold_start
    v1.set_provisioned_concurrency(2)  # nothing missing: nothing new
    assert len(backend.created) == 4


def test_the_idle_cap_never_reclaims_provisioned_environments(
    make: MakeFunction, backend: FakeBackend, service: LambdaService,
) -> None:
    service.max_idle_environments = 1
    fn = make()
    (v1,) = _versions(fn, 1)
    v1.set_provisioned_concurrency(2)
    make("billing").invoke({})  # a third idle environment: the cap reclaims it, not these
    assert _shut(backend.created) == [False, False, True]
    assert service.provisioned_count(v1.config, v1.backend) == 2
