"""The Lambda API with real runtimes: boto3 from the test and from inside a function, and an
asynchronous chain ending in an on-failure destination on a moto server's SQS queue."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pytest_lambda import BackendName, FunctionFactory, LambdaAPI, RuntimeName
from pytest_lambda.service.destinations import AwsTarget


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def fast_async(lambda_api: LambdaAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run Lambda's asynchronous timeline at 1/1000 (a minute is 60 ms)."""
    monkeypatch.setattr(lambda_api.service.async_queue(), "delay_scale", 0.001)


def test_boto3_invokes_a_function_with_tail_logs(
    lambda_function: FunctionFactory, lambda_api: LambdaAPI, functions_dir: Path,
    backend: BackendName, python_runtime: RuntimeName,
) -> None:
    fn = lambda_function("app.echo", code=functions_dir / "lambda_api", runtime=python_runtime,
                         name=f"echo-{backend}", backend=backend)
    answer = lambda_api.client().invoke(FunctionName=fn.name, LogType="Tail",
                                        Payload=json.dumps({"order": 1}))
    assert answer["StatusCode"] == 200 and answer["ExecutedVersion"] == "$LATEST"
    body = json.loads(answer["Payload"].read())
    request_id = answer["ResponseMetadata"]["RequestId"]
    assert body["event"] == {"order": 1} and body["request_id"] == request_id
    assert body["invoked_arn"] == fn.arn and body["version"] == "$LATEST"
    # The environment reaches the API where it sees this host: loopback or the network's gateway.
    assert body["endpoint"] and body["endpoint"].startswith("http://")
    if backend == "process":
        assert body["endpoint"] == lambda_api.endpoint_url
    logs = base64.b64decode(answer["LogResult"]).decode()
    assert f"REPORT RequestId: {request_id}" in logs


def test_a_function_invokes_another_through_boto3(
    lambda_function: FunctionFactory, lambda_api: LambdaAPI, functions_dir: Path,
    backend: BackendName, python_runtime: RuntimeName,
) -> None:
    code = functions_dir / "lambda_api"
    callee = lambda_function("app.echo", code=code, runtime=python_runtime,
                             name=f"callee-{backend}", backend=backend)
    caller = lambda_function("app.caller", code=code, runtime=python_runtime,
                             name=f"caller-{backend}", backend=backend, memory_size=512,
                             timeout=30)
    result = caller.invoke({"target": callee.name, "payload": {"from": "caller"}})
    assert result.ok, result.logs
    assert result.payload["status"] == 200
    assert result.payload["executed_version"] == "$LATEST"
    assert result.payload["payload"]["event"] == {"from": "caller"}
    assert result.payload["event_status"] == 202
    finished = {r.request_id: r for r in lambda_api.wait_for_async(timeout=60)}
    queued = finished[result.payload["event_request_id"]]
    assert queued.ok and json.loads(queued.response or b"{}")["event"] == {"async": True}


def test_an_async_error_is_retried_twice_then_recorded_on_sqs(
    lambda_function: FunctionFactory, lambda_api: LambdaAPI, functions_dir: Path, moto_url: str,
    fast_async: None, backend: BackendName, python_runtime: RuntimeName,
) -> None:
    import boto3

    sqs = boto3.session.Session().client("sqs", region_name="us-east-1", endpoint_url=moto_url,
                                         aws_access_key_id="testing",
                                         aws_secret_access_key="testing")
    queue_url = sqs.create_queue(QueueName=f"failures-{backend}")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    fn = lambda_function("app.fail", code=functions_dir / "lambda_api", runtime=python_runtime,
                         name=f"fail-{backend}", backend=backend)
    previous = lambda_api.use_aws(AwsTarget(moto_url))
    try:
        client = lambda_api.client()
        client.put_function_event_invoke_config(
            FunctionName=fn.name, DestinationConfig={"OnFailure": {"Destination": queue_arn}})
        answer = client.invoke(FunctionName=fn.name, InvocationType="Event",
                               Payload=json.dumps({"order": 42}))
        assert answer["StatusCode"] == 202
        request_id = answer["ResponseMetadata"]["RequestId"]
        finished = {r.request_id: r for r in lambda_api.wait_for_async(timeout=60)}
    finally:
        lambda_api.use_aws(previous)
    result = finished[request_id]
    assert lambda_api.result(request_id) is result
    assert result.condition == "RetriesExhausted" and result.invoke_count == 3
    assert [d.error for d in result.deliveries] == [None]
    attempts = lambda_api.attempts_for(request_id)
    assert [(a.attempt, a.outcome, a.error_type) for a in attempts] == [
        (1, "error", "ValueError"), (2, "error", "ValueError"), (3, "error", "ValueError")]
    messages = sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=2)["Messages"]
    record = json.loads(messages[0]["Body"])
    # AWS's documented on-failure record, field by field.
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload",
                            "responseContext", "responsePayload"]
    assert record["version"] == "1.0"
    assert record["timestamp"].endswith("Z") and "T" in record["timestamp"]
    assert record["requestContext"] == {
        "requestId": request_id, "functionArn": f"{fn.arn}:$LATEST",
        "condition": "RetriesExhausted", "approximateInvokeCount": 3,
    }
    assert record["requestPayload"] == {"order": 42}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"]["errorType"] == "ValueError"
    assert record["responsePayload"]["errorMessage"] == "cannot process order 42"


def test_a_version_and_an_alias_as_the_function_sees_them(
    lambda_function: FunctionFactory, lambda_api: LambdaAPI, functions_dir: Path,
    backend: BackendName, python_runtime: RuntimeName,
) -> None:
    fn = lambda_function("app.echo", code=functions_dir / "lambda_api", runtime=python_runtime,
                         name=f"versioned-{backend}", backend=backend)
    v1 = fn.publish_version()
    fn.create_alias("live", v1.version)
    client = lambda_api.client()
    answer = client.invoke(FunctionName=f"{fn.name}:live", Payload=b"{}")
    assert answer["ExecutedVersion"] == "1"
    body = json.loads(answer["Payload"].read())
    assert body["version"] == "1"  # AWS_LAMBDA_FUNCTION_VERSION
    assert body["invoked_arn"] == f"{fn.arn}:live"
    latest = json.loads(client.invoke(FunctionName=fn.name)["Payload"].read())
    assert latest["version"] == "$LATEST" and latest["invoked_arn"] == fn.arn


def test_provisioned_concurrency_runs_init_ahead_and_the_first_invoke_is_warm(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    python_runtime: RuntimeName,
) -> None:
    fn = lambda_function("app.echo", code=functions_dir / "lambda_api", runtime=python_runtime,
                         name=f"provisioned-{backend}", backend=backend)
    version = fn.publish_version()
    version.set_provisioned_concurrency(1)
    result = fn.invoke({}, qualifier=version.version)
    assert result.ok, result.logs
    assert not result.cold_start and "Init Duration" not in result.logs
    assert result.payload["initialization_type"] == "provisioned-concurrency"
    assert fn.invoke({}).payload["initialization_type"] == "on-demand"


@pytest.mark.parametrize("backend", ["docker"], indirect=True)  # Node.js runs in containers
def test_a_nodejs_function_invokes_another_through_the_javascript_sdk(
    lambda_function: FunctionFactory, lambda_api: LambdaAPI, functions_dir: Path,
    backend: BackendName,
) -> None:
    callee = lambda_function("app.echo", code=functions_dir / "lambda_api",
                             runtime="python3.13", name="callee-for-node", backend=backend)
    caller = lambda_function("index.handler", code=functions_dir / "lambda_api_node",
                             runtime="nodejs22.x", name="node-caller", backend=backend,
                             memory_size=512, timeout=30)
    result = caller.invoke({"target": callee.name, "payload": {"from": "node"}})
    assert result.ok, result.logs
    assert result.payload["status"] == 200 and result.payload["executedVersion"] == "$LATEST"
    assert result.payload["payload"]["event"] == {"from": "node"}


def test_a_published_version_keeps_the_code_it_was_published_with(
    lambda_function: FunctionFactory, tmp_path: Path, backend: BackendName,
    python_runtime: RuntimeName,
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    code.chmod(0o755)  # the container's user reads it
    app = code / "app.py"
    app.write_text("def handler(event, context):\n    return 'one'\n")
    app.chmod(0o644)
    fn = lambda_function("app.handler", code=code, runtime=python_runtime,
                         name=f"snapshot-{backend}", backend=backend)
    v1 = fn.publish_version()
    app.write_text("def handler(event, context):\n    return 'two'\n")
    latest = lambda_function("app.handler", code=code, runtime=python_runtime,
                             name=f"snapshot-{backend}", backend=backend)
    assert latest.invoke({}).payload == "two"
    assert v1.invoke({}).payload == "one"  # PublishVersion snapshots the code
