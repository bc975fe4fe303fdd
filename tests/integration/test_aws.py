"""AWS in the loop: functions call the session's moto server with fake role credentials, and the
test reads the same account through `lambda_aws`, plain boto3 and `mock_aws`.

Every address used here is on this machine: loopback, or a session network's gateway.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from pytest_lambda import (
    AwsEndpoint,
    BackendName,
    Function,
    FunctionFactory,
    LambdaService,
    RuntimeName,
)
from pytest_lambda.backends.docker.environment import DockerBackend

# boto3 is the runtime's own (/var/runtime in the images, the pinned copy on the process
# backend), as in Lambda; loading botocore wants the CPU share of 1 GB.
SERVICES_OPTIONS: dict[str, Any] = {"memory_size": 1024, "timeout": 30}

PNG = b"\x89PNG\r\n\x1a\nnot really an image"


@pytest.fixture
def services_fn(lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
                python_runtime: RuntimeName) -> Function:
    return lambda_function(
        "app.handler", code=functions_dir / "aws_services", runtime=python_runtime,
        backend=backend,
        environment={"OUT_BUCKET": "out-bucket"}, **SERVICES_OPTIONS,
    )


@pytest.fixture
def probe(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    python_runtime: RuntimeName,
) -> Callable[..., Function]:
    """Make the probe function on the test's backend (options: lambda_function's)."""
    def make(**options: Any) -> Function:
        return lambda_function("app.handler", code=functions_dir / "aws_probe",
                               runtime=python_runtime, backend=backend, timeout=10, **options)
    return make


def _world(aws: Any) -> dict[str, Any]:
    """Create what the services function reads and writes; return its event and handles."""
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="in-bucket")
    s3.create_bucket(Bucket="out-bucket")
    s3.put_object(Bucket="in-bucket", Key="a.png", Body=PNG)
    aws.client("dynamodb").create_table(
        TableName="items", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = aws.client("sqs")
    work = sqs.create_queue(QueueName="work")["QueueUrl"]
    notes = sqs.create_queue(QueueName="notes")["QueueUrl"]
    notes_arn = sqs.get_queue_attributes(QueueUrl=notes, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    sns = aws.client("sns")
    topic = sns.create_topic(Name="done")["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=notes_arn,
                  Attributes={"RawMessageDelivery": "true"})
    aws.client("secretsmanager").create_secret(Name="db-password", SecretString="s3cr3t")
    aws.client("ssm").put_parameter(Name="/app/mode", Value="fast", Type="SecureString")
    event = {"in_bucket": "in-bucket", "key": "a.png", "table": "items", "queue": "work",
             "topic_arn": topic, "secret": "db-password", "parameter": "/app/mode"}
    return {"event": event, "work": work, "notes": notes}


def test_a_function_uses_six_services_and_the_test_sees_their_state(
    services_fn: Function, lambda_aws: AwsEndpoint, backend: BackendName,
) -> None:
    world = _world(lambda_aws)
    result = services_fn.invoke(world["event"])
    assert result.function_error is None, result.logs
    assert result.payload["secret"] == "s3cr3t"
    assert result.payload["parameter"] == "fast"
    assert result.payload["stored_size"] == len(PNG)
    if backend == "docker":  # the image's boto3, not a bundled one
        assert result.payload["boto3_file"].startswith("/var/runtime/boto3/")
    # Checked through lambda_aws's clients.
    out = lambda_aws.client("s3").get_object(Bucket="out-bucket", Key="a.png")["Body"].read()
    assert out == PNG.upper()
    item = lambda_aws.resource("dynamodb").Table("items").get_item(Key={"pk": "a.png"})["Item"]
    assert item["size"] == len(PNG)
    sqs = lambda_aws.client("sqs")
    [message] = sqs.receive_message(QueueUrl=world["work"], WaitTimeSeconds=0)["Messages"]
    assert json.loads(message["Body"]) == {"key": "a.png"}
    [note] = sqs.receive_message(QueueUrl=world["notes"], WaitTimeSeconds=0)["Messages"]
    assert note["Body"] == "processed a.png"
    # And through plain boto3 in the test process: the variables point it at the same place.
    assert boto3.client("s3").head_object(Bucket="out-bucket", Key="a.png")["ContentLength"] == (
        len(PNG))


@mock_aws
def test_code_under_mock_aws_shares_the_functions_state(
    services_fn: Function, lambda_aws: AwsEndpoint, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # No endpoint: in this process boto3 goes to AWS's own URLs, which mock_aws answers from
    # moto's in-memory state, the one moto's server (and so the function) uses.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    s3 = boto3.client("s3", region_name="us-east-1")
    assert s3.meta.endpoint_url.endswith("amazonaws.com")
    world = _world(lambda_aws)
    result = services_fn.invoke(world["event"])
    assert result.function_error is None, result.logs
    assert s3.get_object(Bucket="out-bucket", Key="a.png")["Body"].read() == PNG.upper()
    table = boto3.resource("dynamodb", region_name="us-east-1").Table("items")
    assert table.get_item(Key={"pk": "a.png"})["Item"]["size"] == len(PNG)
    secret = boto3.client("secretsmanager", region_name="us-east-1").get_secret_value(
        SecretId="db-password")
    assert secret["SecretString"] == "s3cr3t"
    ssm = boto3.client("ssm", region_name="us-east-1")
    assert ssm.get_parameter(Name="/app/mode", WithDecryption=True)["Parameter"]["Value"] == (
        "fast")
    sqs = boto3.client("sqs", region_name="us-east-1")
    for queue, body in (("work", '{"key": "a.png"}'), ("notes", "processed a.png")):
        url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
        [message] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
        assert message["Body"] == body
    topics = boto3.client("sns", region_name="us-east-1").list_topics()["Topics"]
    assert [t["TopicArn"].rsplit(":", 1)[1] for t in topics] == ["done"]


def test_environments_get_role_credentials_and_the_endpoint(
    probe: Callable[..., Function], backend: BackendName, lambda_aws: AwsEndpoint,
) -> None:
    fn = probe()
    aws = fn.invoke({}).payload["aws"]
    assert aws["AWS_ACCESS_KEY_ID"].startswith("ASIA") and len(aws["AWS_ACCESS_KEY_ID"]) == 20
    assert aws["AWS_SECRET_ACCESS_KEY"] and aws["AWS_SESSION_TOKEN"]
    assert aws["AWS_REGION"] == aws["AWS_DEFAULT_REGION"] == "us-east-1"
    endpoint = aws["AWS_ENDPOINT_URL"]
    if backend == "process":
        assert endpoint == lambda_aws.endpoint_url
    else:  # the container reaches this machine at its network's gateway
        docker = fn._service.backend("docker")
        assert isinstance(docker, DockerBackend)
        gateway = docker.network_for(fn.config).gateway
        assert endpoint.startswith(f"http://{gateway}:")
    # The same credentials as the test process's, so both sides are one account in moto.
    assert os.environ["AWS_ACCESS_KEY_ID"] == aws["AWS_ACCESS_KEY_ID"]
    assert lambda_aws.account_id == "123456789012"


def test_the_hosts_own_aws_credentials_never_reach_an_environment(
    probe: Callable[..., Function], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCY" + uuid.uuid4().hex[:10]
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(
        f"[default]\naws_access_key_id = AKIAIOSFODNN7EXAMPLE\naws_secret_access_key = {secret}\n"
        f"[prod]\naws_access_key_id = AKIAIOSFODNN7EXAMPL2\naws_secret_access_key = {secret}\n")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(home / ".aws" / "credentials"))
    # A configuration of its own: a fresh environment, made while the host has these.
    fn = probe(environment={"RUN": uuid.uuid4().hex})
    result = fn.invoke({})
    assert result.function_error is None, result.logs
    environ = result.payload["environ"]
    assert not any(secret in value for value in environ.values())
    assert "AKIAIOSFODNN7EXAMPLE" not in environ.values()
    assert "AWS_PROFILE" not in environ and "AWS_SHARED_CREDENTIALS_FILE" not in environ
    assert environ["AWS_ACCESS_KEY_ID"].startswith("ASIA")
    assert result.payload["home"] != str(home)
    assert result.payload["aws_dir"] is None


def test_a_test_may_pass_a_profile_explicitly(probe: Callable[..., Function]) -> None:
    fn = probe(environment={"AWS_PROFILE": "mine"})
    assert fn.invoke({}).payload["aws"]["AWS_PROFILE"] == "mine"


def test_each_test_starts_from_an_empty_account_first(
    services_fn: Function, lambda_aws: AwsEndpoint,
) -> None:
    # Writes through the function and the fixture; the next test must not see any of it.
    lambda_aws.client("s3").create_bucket(Bucket="left-behind")
    lambda_aws.client("sqs").create_queue(QueueName="left-behind")


def test_each_test_starts_from_an_empty_account_second(
    services_fn: Function, lambda_aws: AwsEndpoint,
) -> None:
    assert lambda_aws.client("s3").list_buckets()["Buckets"] == []
    assert "QueueUrls" not in lambda_aws.client("sqs").list_queues()


class _Listener:
    """A TCP listener on `host` that greets whoever connects."""

    def __init__(self, host: str) -> None:
        self.greeting = f"hello from {uuid.uuid4().hex}"
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(self.greeting.encode())
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.mark.docker
@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_a_container_reaches_moto_and_nothing_else_of_the_host(
    probe: Callable[..., Function], lambda_service: LambdaService,
) -> None:
    fn = probe()
    endpoint = fn.invoke({}).payload["aws"]["AWS_ENDPOINT_URL"]
    host_port = endpoint.removeprefix("http://")
    docker = lambda_service.backend("docker")
    assert isinstance(docker, DockerBackend)
    gateway = docker.network_for(fn.config).gateway
    assert host_port.startswith(f"{gateway}:")
    listener = _Listener(gateway)
    try:
        refused = fn.invoke({"connect": f"{gateway}:{listener.port}"}).payload
        assert listener.greeting not in refused["received"]
        reached = fn.invoke({"connect": host_port,
                             "send": "GET /moto-api/data.json HTTP/1.0\r\n\r\n"}).payload
        assert reached["connected"], reached
        assert reached["received"].startswith("HTTP/1."), reached
        assert " 200 " in reached["received"].splitlines()[0]
    finally:
        listener.close()
    firewall = docker.firewall
    assert firewall.active, firewall.reason  # as root with nft, as in CI
    assert int(host_port.rpartition(":")[2]) in docker.host_ports.allowed()


@pytest.mark.docker
@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_a_nodejs_function_uses_s3_and_lib_dynamodb(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    lambda_aws: AwsEndpoint,
) -> None:
    # The SDK for JavaScript v3 is the runtime's own (/var/runtime/node_modules), as in Lambda.
    fn = lambda_function("index.handler", code=functions_dir / "aws_node", runtime="nodejs22.x",
                         backend=backend, memory_size=512, timeout=30)
    lambda_aws.client("s3").create_bucket(Bucket="node-bucket")
    lambda_aws.client("s3").put_object(Bucket="node-bucket", Key="note", Body=b"hello v3")
    lambda_aws.client("dynamodb").create_table(
        TableName="node-items", KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    result = fn.invoke({"bucket": "node-bucket", "key": "note", "table": "node-items"})
    assert result.function_error is None, result.logs
    assert result.payload["item"] == {"pk": "note", "length": 8, "tags": ["node", "v3"]}
    body = lambda_aws.client("s3").get_object(Bucket="node-bucket", Key="note.upper")["Body"]
    assert body.read() == b"HELLO V3"
    item = lambda_aws.resource("dynamodb").Table("node-items").get_item(Key={"pk": "note"})
    assert item["Item"]["tags"] == ["node", "v3"]


def test_a_service_moto_lacks_is_moto_s_error_at_once_not_a_hang(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    python_runtime: RuntimeName, lambda_aws: AwsEndpoint,
) -> None:
    fn = lambda_function("app.unimplemented", code=functions_dir / "aws_services",
                         runtime=python_runtime, backend=backend, **SERVICES_OPTIONS)
    result = fn.invoke({})
    # A hang would end as Sandbox.Timedout (a function error); the SDK got an answer instead.
    assert result.function_error is None, result.logs
    assert result.payload["error"] == "ClientError"
    assert "(500)" in result.payload["message"]


@pytest.mark.docker
@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_an_open_network_function_reaches_moto_on_its_own_gateway(
    probe: Callable[..., Function], lambda_service: LambdaService, lambda_aws: AwsEndpoint,
) -> None:
    fn = probe(network="open")
    endpoint = fn.invoke({}).payload["aws"]["AWS_ENDPOINT_URL"]
    docker = lambda_service.backend("docker")
    assert isinstance(docker, DockerBackend)
    gateway = docker.network_for(fn.config).gateway
    assert endpoint.startswith(f"http://{gateway}:")
    lambda_aws.client("s3").create_bucket(Bucket="seen-from-open")
    reached = fn.invoke({"connect": endpoint.removeprefix("http://"),
                         "send": "GET /moto-api/data.json HTTP/1.0\r\n\r\n"}).payload
    assert "seen-from-open" in reached["received"], reached
