"""Invocations through the real awslambdaric, on every backend and Python runtime."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest

import pytest_lambda
from pytest_lambda import (
    BackendName,
    Function,
    FunctionFactory,
    InvalidRequestContentException,
    LambdaService,
    RequestTooLargeException,
    RuntimeName,
)


@pytest.fixture
def probe(
    lambda_function: FunctionFactory, functions_dir: Path, target: tuple[BackendName, RuntimeName],
) -> Function:
    backend, runtime = target
    return lambda_function(
        "app.handler",
        code=functions_dir / "probe",
        runtime=runtime,
        backend=backend,
        memory_size=256,
        timeout=5,
        environment={"GREETING": "hi", "PATH_EXTRA": "x"},
    )


def test_hello_example(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    python_runtime: RuntimeName,
) -> None:
    fn = lambda_function(
        "app.handler", code=functions_dir / "hello", runtime=python_runtime, memory_size=256,
        timeout=5, environment={"GREETING": "hi"}, backend=backend,
    )
    result = fn.invoke({"name": "ada"})
    assert result.payload == {"message": "hi ada"}
    assert result.function_error is None
    assert result.status_code == 200


def test_success_reports_lambda_figures(
    probe: Function, target: tuple[BackendName, RuntimeName],
) -> None:
    probe.reset()
    result = probe.invoke({"hello": "world"})
    assert result.function_error is None and result.error is None
    assert result.payload["event"] == {"hello": "world"}
    assert result.cold_start and result.payload["cold"] is True
    assert result.init_duration_ms is not None and result.init_duration_ms > 0
    assert result.duration_ms > 0
    assert result.billed_duration_ms >= result.duration_ms
    assert 1 <= result.max_memory_used_mb <= 256
    assert re.fullmatch(r"[0-9a-f-]{36}", result.request_id)
    report = result.logs.splitlines()[-1]
    assert report.startswith(f"REPORT RequestId: {result.request_id}\tDuration: ")
    assert "\tMemory Size: 256 MB\t" in report and "\tInit Duration: " in report
    assert f"Max Memory Used: {result.max_memory_used_mb} MB" in report
    # Lambda's form: INIT_START Runtime Version: python:3.13.v<N>\tRuntime Version ARN: ...
    version = target[1].replace("python", "python:")
    assert re.match(
        rf"INIT_START Runtime Version: {re.escape(version)}\.v\d+\t"
        r"Runtime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}\n",
        result.logs,
    ), result.logs.splitlines()[0]

    warm = probe.invoke({})
    assert not warm.cold_start and warm.payload["cold"] is False
    assert warm.init_duration_ms is None
    assert "Init Duration" not in warm.logs


def test_environment_variables_are_lambdas(
    probe: Function, target: tuple[BackendName, RuntimeName],
) -> None:
    backend, runtime = target
    payload = probe.invoke({}).payload
    env = payload["env"]
    name = probe.name
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == name
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == f"/aws/lambda/{name}"
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}",
                        env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == f"AWS_Lambda_{runtime}"
    assert env["_HANDLER"] == "app.handler"
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SECRET_ACCESS_KEY"]
    assert env["AWS_SESSION_TOKEN"]
    assert env["TZ"] == ":UTC" and env["LANG"] == "en_US.UTF-8"
    assert env["PATH"].startswith("/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin")
    assert env["LD_LIBRARY_PATH"].endswith("/opt/lib")
    assert env["GREETING"] == "hi"
    assert ":" in env["AWS_LAMBDA_RUNTIME_API"]
    # The ARN agrees with the region and account the environment reports.
    assert probe.arn == f"arn:aws:lambda:{env['AWS_REGION']}:123456789012:function:{name}"
    ctx = payload["context"]
    assert ctx["invoked_function_arn"] == probe.arn
    assert ctx["function_name"] == name and ctx["function_version"] == "$LATEST"
    assert ctx["memory_limit_in_mb"] == "256"
    assert ctx["log_group_name"] == env["AWS_LAMBDA_LOG_GROUP_NAME"]
    assert ctx["log_stream_name"] == env["AWS_LAMBDA_LOG_STREAM_NAME"]
    # Lambda's X-Ray daemon address in a container; loopback on a host, where nothing listens
    # at Lambda's and a link-local packet could leave the machine.
    daemon = "169.254.79.129" if backend == "docker" else "127.0.0.1"
    assert env["AWS_XRAY_DAEMON_ADDRESS"] == f"{daemon}:2000"
    assert (env["_AWS_XRAY_DAEMON_ADDRESS"], env["_AWS_XRAY_DAEMON_PORT"]) == (daemon, "2000")
    if backend == "docker":
        assert env["LAMBDA_TASK_ROOT"] == "/var/task" == payload["cwd"]
        assert env["LAMBDA_RUNTIME_DIR"] == "/var/runtime"
        assert payload["uid"] == 993
        assert payload["python"] == runtime.removeprefix("python")
        assert payload["sys_path"][0] == "/var/task"
    else:
        assert payload["cwd"] == env["LAMBDA_TASK_ROOT"]


def test_handler_exception_is_the_runtimes_error_document(probe: Function) -> None:
    result = probe.invoke({"action": "raise", "message": "kaput"})
    assert result.function_error == "Unhandled"
    assert result.status_code == 200
    error = result.error
    assert error is not None and result.payload == error
    assert error["errorType"] == "ValueError"
    assert error["errorMessage"] == "kaput"
    assert error["requestId"] == result.request_id
    assert isinstance(error["stackTrace"], list) and "app.py" in "".join(error["stackTrace"])
    assert "[ERROR] ValueError: kaput" in result.logs
    # The environment survives a handled error: the next invocation is warm.
    assert not probe.invoke({}).cold_start


def test_client_context_reaches_the_function(probe: Function) -> None:
    cc = {
        "custom": {"tenant": "acme"},
        "env": {"platform": "test"},
        "client": {
            "installation_id": "i-1", "app_title": "app", "app_version_name": "1.0",
            "app_version_code": "1", "app_package_name": "com.example",
        },
    }
    got = probe.invoke({}, client_context=cc).payload["context"]["client_context"]
    assert got["custom"] == {"tenant": "acme"}
    assert got["env"] == {"platform": "test"}
    assert got["client"]["installation_id"] == "i-1"
    assert probe.invoke({}).payload["context"]["client_context"] is None


def test_remaining_time_counts_down_from_the_timeout(probe: Function) -> None:
    remaining = probe.invoke({}).payload["remaining_ms"]
    assert 4000 < remaining <= 5000


def test_logs_hold_only_their_invocations_lines(probe: Function) -> None:
    probe.invoke({})
    first = probe.invoke({"action": "print", "lines": ["one", "two"], "stderr": "err-1"})
    second = probe.invoke({"action": "print", "lines": ["three"], "stderr": "err-2"})
    lines = first.logs.splitlines()
    assert lines[0] == f"START RequestId: {first.request_id} Version: $LATEST"
    assert lines[1:4] == ["one", "two", "err-1"]
    assert lines[4] == f"END RequestId: {first.request_id}"
    assert lines[5].startswith(f"REPORT RequestId: {first.request_id}")
    assert "three" not in first.logs and "one" not in second.logs
    assert second.logs.splitlines()[1:3] == ["three", "err-2"]


def test_bytes_are_sent_as_they_are(probe: Function) -> None:
    assert probe.invoke(b'{"raw": [1, 2]}').payload["event"] == {"raw": [1, 2]}
    assert probe.invoke(b'"just a string"').payload["event"] == "just a string"
    assert probe.invoke().payload["event"] == {}


def test_invoke_errors_are_raised_with_lambdas_codes(probe: Function) -> None:
    with pytest.raises(InvalidRequestContentException) as bad:
        probe.invoke(b"not json")
    assert bad.value.error_type == "InvalidRequestContentException"
    with pytest.raises(RequestTooLargeException) as big:
        probe.invoke({"x": "a" * (6 * 1024 * 1024)})
    assert big.value.error_type == "RequestTooLargeException"
    assert isinstance(big.value, pytest_lambda.InvokeError)


def test_runtime_exit_replaces_the_environment(probe: Function) -> None:
    probe.invoke({})
    crashed = probe.invoke({"action": "exit", "code": 3})
    assert crashed.function_error == "Unhandled"
    assert crashed.error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: Runtime exited with error: "
        "exit status 3",
    }
    after = probe.invoke({})
    assert after.cold_start and after.function_error is None


def test_concurrent_invocations_get_their_own_environments(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    lambda_service: LambdaService, python_runtime: RuntimeName,
) -> None:
    fn = lambda_function("app.handler", code=functions_dir / "probe", runtime=python_runtime,
                         backend=backend, timeout=10, name=f"concurrent-{backend}")
    fn.reset()
    results = []
    barrier = threading.Barrier(3)

    def call() -> None:
        barrier.wait()
        results.append(fn.invoke({"action": "sleep", "seconds": 0.5}))

    threads = [threading.Thread(target=call) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3 and all(r.function_error is None for r in results)
    assert all(r.cold_start for r in results)
    assert lambda_service.warm_count(fn.config, backend) == 3
    again = [fn.invoke({}) for _ in range(3)]
    assert not any(r.cold_start for r in again)
