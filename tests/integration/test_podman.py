"""Podman's Docker-compatible API as the Docker backend's engine (docs/engines.md).

Runs only when `PYTEST_LAMBDA_PODMAN_HOST` names a rootful Podman's API socket on this machine
(for example `unix:///run/podman/podman.sock`, from `podman system service`); skipped
otherwise. CI has no Podman, so CI skips it: run it by hand after changing the Docker backend.
The runtime images must be in Podman's store (`DOCKER_HOST=$PYTEST_LAMBDA_PODMAN_HOST
python -m pytest_lambda build-images --runtime python3.13 --runtime provided.al2023`), or the
run builds them first.

A user's suite runs in a pytester subprocess with DOCKER_HOST pointing at Podman: a Python
function, a custom runtime, a layer, a timeout, an out-of-memory kill and the session's AWS
endpoint, then the run must leave no container or network of its own behind in Podman.
"""

from __future__ import annotations

import os
import time
from typing import Any

import pytest

PODMAN_HOST = os.environ.get("PYTEST_LAMBDA_PODMAN_HOST", "")

pytestmark = [
    pytest.mark.docker,
    pytest.mark.skipif(not PODMAN_HOST, reason="PYTEST_LAMBDA_PODMAN_HOST is not set (a rootful "
                                               "Podman's API socket)"),
]

APP = """\
import os, time

def handler(event, context):
    action = event.get("action")
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "allocate":
        blocks = [bytearray(1024 * 1024) for _ in range(event["mb"])]
        return len(blocks)
    if action == "s3":
        import boto3
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="podman-bucket")
        return sorted(b["Name"] for b in s3.list_buckets()["Buckets"])
    if action == "layer":
        return open("/opt/greeting.txt").read()
    return {"hello": event.get("name"), "uid": os.getuid(), "memory": context.memory_limit_in_mb}
"""

BOOTSTRAP = """\
#!/bin/bash
set -euo pipefail
API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
while true; do
  HEADERS="$(mktemp)"
  EVENT=$(curl -sS -LD "$HEADERS" "$API/next")
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)
  curl -sS "$API/$REQUEST_ID/response" -d "{\\"echo\\": $EVENT}" >/dev/null
done
"""

SUITE = """\
from pathlib import Path

import pytest

HERE = Path(__file__).parent


def python(lambda_function, **kwargs):
    return lambda_function("app.handler", code=HERE / "fn", runtime="python3.13", **kwargs)


def test_hello(lambda_function):
    result = python(lambda_function, timeout=30).invoke({"name": "podman"})
    assert result.ok, result.logs
    assert result.payload == {"hello": "podman", "uid": 993, "memory": "128"}


def test_custom_runtime(lambda_function):
    fn = lambda_function("function.handler", code=HERE / "custom", runtime="provided.al2023",
                         timeout=30)
    result = fn.invoke({"n": 1})
    assert result.ok, result.logs
    assert result.payload == {"echo": {"n": 1}}


def test_layer(lambda_function):
    fn = python(lambda_function, timeout=30, layers=[HERE / "layer"])
    assert fn.invoke({"action": "layer"}).payload == "hello from a layer"


def test_timeout(lambda_function):
    fn = python(lambda_function, timeout=1, environment={"CASE": "timeout"})
    result = fn.invoke({"action": "sleep", "seconds": 5})
    assert result.error is not None and result.error["errorType"] == "Sandbox.Timedout"
    assert fn.invoke({}).ok  # a fresh environment serves the next one


def test_out_of_memory(lambda_function):
    fn = python(lambda_function, timeout=60, memory_size=128, environment={"CASE": "oom"})
    result = fn.invoke({"action": "allocate", "mb": 400})
    assert result.error is not None and result.error["errorType"] == "Runtime.OutOfMemory"
    assert result.max_memory_used_mb == 128


def test_aws_endpoint(lambda_function, lambda_aws):
    fn = python(lambda_function, timeout=60, environment={"CASE": "aws"})
    result = fn.invoke({"action": "s3"})
    assert result.ok, result.logs
    assert result.payload == ["podman-bucket"]
    names = [b["Name"] for b in lambda_aws.client("s3").list_buckets()["Buckets"]]
    assert names == ["podman-bucket"]
"""


def _own(client: Any) -> tuple[list[Any], list[Any]]:
    label = {"label": "pytest-lambda.session"}
    return client.api.containers(all=True, filters=label), client.api.networks(filters=label)


def test_a_suite_runs_on_podman_and_leaves_nothing_behind(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import docker

    pytest.importorskip("moto")
    podman = docker.DockerClient(base_url=PODMAN_HOST, timeout=30)
    before = _own(podman)
    fn = pytester.mkdir("fn")
    (fn / "app.py").write_text(APP)
    custom = pytester.mkdir("custom")
    (custom / "bootstrap").write_text(BOOTSTRAP)
    (custom / "bootstrap").chmod(0o755)
    layer = pytester.mkdir("layer")
    (layer / "greeting.txt").write_text("hello from a layer")
    pytester.makepyfile(test_suite=SUITE)
    monkeypatch.setenv("DOCKER_HOST", PODMAN_HOST)
    result = pytester.runpytest_subprocess("--lambda-backend=docker", "-p", "no:cacheprovider",
                                           "-p", "no:randomly", "-v")
    result.stdout.fnmatch_lines(["lambda: engine: Podman * (Docker API) at *"])
    result.assert_outcomes(passed=6)
    deadline = time.monotonic() + 60  # the session's reaper removes its containers
    while _own(podman) != before and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _own(podman) == before
