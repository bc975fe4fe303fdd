"""invoke_handler: a handler called in the test process with Lambda's invocation contract."""

from __future__ import annotations

import json
import logging
import math
import os
import re
import sys
import textwrap
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import pytest

from pytest_lambda import (
    ConfigurationError,
    InvalidRequestContentException,
    InvokeResult,
    LambdaContext,
    RequestTooLargeException,
    invoke_handler,
)
from pytest_lambda.config.limits import RESPONSE_MAX_BYTES, SYNC_REQUEST_MAX_BYTES

REPORT = re.compile(
    r"^REPORT RequestId: (?P<id>[0-9a-f-]{36})\tDuration: (?P<duration>\d+\.\d\d) ms\t"
    r"Billed Duration: (?P<billed>\d+) ms\tMemory Size: (?P<memory>\d+) MB\t"
    r"Max Memory Used: \d+ MB\t(Init Duration: \d+\.\d\d ms\t)?(Status: \w+\t)?"
    r"(Error Type: [\w.]+\t)?$"
)


def echo(event: Any, context: Any) -> Any:
    return {"event": event, "request_id": context.aws_request_id}


def report_line(result: InvokeResult) -> re.Match[str]:
    line = result.logs.splitlines()[-1]
    match = REPORT.match(line)
    assert match, line
    return match


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Return a directory on sys.path for handler modules written by the test."""
    monkeypatch.syspath_prepend(str(tmp_path))
    return tmp_path


def write_module(directory: Path, name: str, source: str) -> None:
    (directory / f"{name}.py").write_text(textwrap.dedent(source))
    sys.modules.pop(name, None)


# -- success ---------------------------------------------------------------------------------------


def test_success_returns_the_handlers_result() -> None:
    result = invoke_handler(echo, {"a": 1})
    assert result.ok and result.function_error is None
    assert result.status_code == 200
    assert result.payload == {"event": {"a": 1}, "request_id": result.request_id}
    assert result.executed_version == "$LATEST"
    assert result.memory_size_mb == 128
    assert result.billed_duration_ms == math.ceil(result.duration_ms)
    lines = result.logs.splitlines()
    assert re.fullmatch(
        rf"INIT_START Runtime Version: python:{sys.version_info[0]}\.{sys.version_info[1]}"
        r"\.v\d+\tRuntime Version ARN: arn:aws:lambda:us-east-1::runtime:[0-9a-f]{64}",
        lines[0],
    ), lines[0]
    assert lines[1] == f"START RequestId: {result.request_id} Version: $LATEST"
    assert lines[-2] == f"END RequestId: {result.request_id}"
    match = report_line(result)
    assert match["id"] == result.request_id
    assert match["memory"] == "128"
    assert float(match["duration"]) == result.duration_ms


def test_each_invocation_gets_a_fresh_request_id() -> None:
    assert invoke_handler(echo).request_id != invoke_handler(echo).request_id


def test_no_event_is_an_empty_object() -> None:
    assert invoke_handler(echo).payload["event"] == {}


def test_event_and_result_pass_through_json() -> None:
    event: dict[str, Any] = {"items": (1, 2), "nested": {"x": None}}
    seen: dict[str, Any] = {}

    def handler(event: Any, context: Any) -> Any:
        seen["event"] = event
        event["nested"]["x"] = "changed"
        return {"tuple": (1, 2), "decimal": Decimal("1.10"), "text": "ü"}

    result = invoke_handler(handler, event)
    assert seen["event"]["items"] == [1, 2]
    assert event["nested"]["x"] is None  # the handler got a copy
    assert result.payload == {"tuple": [1, 2], "decimal": 1.1, "text": "ü"}


@pytest.mark.parametrize("value", [
    {"decimal": Decimal("1.10"), "nan": Decimal("NaN")},
    {"float": 1.5, "nan": float("nan"), "text": "ü", "list": (1, None)},
    "plain",
    None,
])
def test_result_is_encoded_as_awslambdaric_encodes_it(value: Any) -> None:
    marshaller = pytest.importorskip("awslambdaric.lambda_runtime_marshaller")
    result = invoke_handler(lambda event, context: value)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("AWS_EXECUTION_ENV", f"AWS_Lambda_python{sys.version_info[0]}."
                     f"{sys.version_info[1]}")
        expected, _ = marshaller.LambdaMarshaller().marshal_response(value)
    assert result.raw_payload == expected.encode()


def test_bytes_result_passes_through_unchanged() -> None:
    result = invoke_handler(lambda event, context: b"\x00raw")
    assert result.ok
    assert result.raw_payload == b"\x00raw"


# -- function errors -------------------------------------------------------------------------------


def failing_handler(event: Any, context: Any) -> Any:
    return helper_that_raises(event["n"])


def helper_that_raises(n: int) -> Any:
    raise ValueError(f"bad n: {n}")


def test_exception_gives_awslambdarics_error_document() -> None:
    result = invoke_handler(failing_handler, {"n": 3})
    assert result.function_error == "Unhandled"
    assert result.status_code == 200
    assert list(result.payload) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert result.payload["errorMessage"] == "bad n: 3"
    assert result.payload["errorType"] == "ValueError"
    assert result.payload["requestId"] == result.request_id
    trace = result.payload["stackTrace"]
    assert len(trace) == 2
    assert trace[0].startswith(f'  File "{__file__}", line ') and "in failing_handler" in trace[0]
    assert "in helper_that_raises" in trace[1]
    assert not any("pytest_lambda" in frame for frame in trace)
    assert result.error == result.payload
    assert "[ERROR] ValueError: bad n: 3\nTraceback (most recent call last):\n" in result.logs


def test_unserialisable_result_is_a_marshal_error() -> None:
    marshaller = pytest.importorskip("awslambdaric.lambda_runtime_marshaller")
    exception = pytest.importorskip("awslambdaric.lambda_runtime_exception")
    with pytest.raises(exception.FaultException) as fault:
        marshaller.LambdaMarshaller().marshal_response({"s": {1, 2}})
    result = invoke_handler(lambda event, context: {"s": {1, 2}})
    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorMessage": fault.value.msg,
        "errorType": "Runtime.MarshalError",
        "requestId": result.request_id,
        "stackTrace": [],
    }
    assert result.payload["errorMessage"] == (
        "Unable to marshal response: Object of type set is not JSON serializable"
    )
    assert "[ERROR] Runtime.MarshalError: Unable to marshal response" in result.logs


def test_sys_exit_is_a_runtime_exit_error() -> None:
    def handler(event: Any, context: Any) -> None:
        sys.exit(3)

    result = invoke_handler(handler)
    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {result.request_id} Error: Runtime exited with error: "
                        f"exit status 3",
    }
    assert invoke_handler(handler).cold_start  # the runtime died: the next call starts cold


# -- timeout ---------------------------------------------------------------------------------------


def test_timeout_returns_sandbox_timedout_at_the_deadline() -> None:
    progress = {"count": 0}

    def spin(event: Any, context: Any) -> None:
        print("started")
        while True:
            progress["count"] += 1

    started = time.perf_counter()
    result = invoke_handler(spin, timeout=0.2)
    elapsed = time.perf_counter() - started
    assert 0.2 <= elapsed < 1.5
    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": f"RequestId: {result.request_id} Error: Task timed out after 0.20 seconds",
    }
    assert result.duration_ms == 200.0
    assert "started\n" in result.logs
    assert re.search(rf"Z {result.request_id} Task timed out after 0\.20 seconds\n", result.logs)
    match = report_line(result)
    assert "Status: timeout\tError Type: Sandbox.Timedout\t" in match.group(0)
    # The abandoned thread is stopped the next time it runs Python code.
    time.sleep(0.05)
    stopped_at = progress["count"]
    time.sleep(0.05)
    assert progress["count"] == stopped_at


def test_a_handler_that_swallows_exceptions_is_still_stopped() -> None:
    done = threading.Event()

    def stubborn(event: Any, context: Any) -> None:
        try:
            while True:
                pass
        except Exception:  # HandlerAbandoned is not an Exception
            pass
        finally:
            done.set()

    invoke_handler(stubborn, timeout=0.1)
    assert done.wait(2)


def test_output_after_the_deadline_is_not_in_the_logs(capsys: pytest.CaptureFixture[str]) -> None:
    def slow(event: Any, context: Any) -> None:
        print("printed in time")
        time.sleep(0.3)  # a C call: the thread finishes it after the deadline
        print("printed late")

    result = invoke_handler(slow, timeout=0.1)
    assert "printed in time" in result.logs and "printed late" not in result.logs
    time.sleep(0.3)
    assert "printed late" not in capsys.readouterr().out  # abandoned before printing


# -- payload limits --------------------------------------------------------------------------------


def test_request_over_6_mb_raises_request_too_large() -> None:
    overhead = len(json.dumps(""))
    invoke_handler(echo, "x" * (SYNC_REQUEST_MAX_BYTES - overhead))  # exactly at the limit
    with pytest.raises(RequestTooLargeException) as info:
        invoke_handler(echo, "x" * (SYNC_REQUEST_MAX_BYTES - overhead + 1))
    assert info.value.status_code == 413


def test_non_json_bytes_raise_invalid_request_content() -> None:
    with pytest.raises(InvalidRequestContentException):
        invoke_handler(echo, b"\x00not json")
    assert invoke_handler(echo, b'{"raw": true}').payload["event"] == {"raw": True}


@pytest.mark.parametrize("event", [
    float("nan"), float("inf"), {"x": [1, float("-inf")]}, {"nested": {"n": float("nan")}},
])
def test_event_with_nan_or_infinity_raises_invalid_request_content(event: Any) -> None:
    # Lambda's JSON has no NaN or Infinity: it refuses such a body before a runtime sees it.
    with pytest.raises(InvalidRequestContentException) as info:
        invoke_handler(echo, event)
    assert "NaN" in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize("body", [b"NaN", b'{"x": NaN}', b"[Infinity]", b'{"y": -Infinity}'])
def test_bytes_with_nan_or_infinity_raise_invalid_request_content(body: bytes) -> None:
    with pytest.raises(InvalidRequestContentException) as info:
        invoke_handler(echo, body)
    assert str(info.value).startswith(
        "Could not parse request body into json: Could not parse payload into json: "
        "Non-standard token"
    )


def test_unserialisable_event_raises_invalid_request_content() -> None:
    with pytest.raises(InvalidRequestContentException):
        invoke_handler(echo, {"when": object()})


def test_response_over_the_limit_is_function_response_size_too_large() -> None:
    at_limit = "x" * (RESPONSE_MAX_BYTES - 2)
    assert invoke_handler(lambda event, context: at_limit).ok
    over = at_limit + "y"
    result = invoke_handler(lambda event, context: over)
    assert result.function_error == "Unhandled"
    assert result.payload == {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({RESPONSE_MAX_BYTES + 1} bytes) exceeded "
                        f"maximum allowed payload size (6291556 bytes).",
    }
    assert "Error Type: Function.ResponseSizeTooLarge" in result.logs


# -- environment -----------------------------------------------------------------------------------


def test_lambda_environment_is_set_for_the_call() -> None:
    def handler(event: Any, context: Any) -> dict[str, str]:
        return {k: v for k, v in os.environ.items()
                if k.startswith(("AWS_", "_HANDLER", "_X_AMZN", "GREETING", "LAMBDA_"))}

    result = invoke_handler(handler, memory_size=512, function_name="orders",
                            environment={"GREETING": "hi"})
    env = result.payload
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "orders"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/orders"
    assert re.match(r"^\d{4}/\d\d/\d\d/\[\$LATEST\][0-9a-f]{32}$",
                    env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
    assert env["AWS_EXECUTION_ENV"] == (
        f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}"
    )
    assert env["_HANDLER"].endswith(".handler")
    assert env["_X_AMZN_TRACE_ID"].startswith("Root=1-")
    assert env["GREETING"] == "hi"
    assert env["AWS_ACCESS_KEY_ID"] != os.environ.get("AWS_ACCESS_KEY_ID")
    assert "Memory Size: 512 MB" in result.logs


@pytest.mark.parametrize("outcome", ["ok", "raise", "timeout", "exit"])
def test_environment_is_restored_exactly(outcome: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_REGION", "eu-north-1")  # overridden during the call
    monkeypatch.setenv("KEEP_ME", "1")
    before = dict(os.environ)

    def handler(event: Any, context: Any) -> None:
        os.environ["ADDED_BY_HANDLER"] = "x"
        os.environ.pop("KEEP_ME")
        os.environ["PATH"] = "/changed"
        if outcome == "raise":
            raise RuntimeError("boom")
        if outcome == "timeout":
            time.sleep(0.3)
        if outcome == "exit":
            raise SystemExit(1)

    invoke_handler(handler, timeout=0.1, environment={"EXTRA": "y"})
    assert dict(os.environ) == before


def test_environment_is_restored_when_the_call_is_refused() -> None:
    before = dict(os.environ)
    with pytest.raises(RequestTooLargeException):
        invoke_handler(echo, "x" * (SYNC_REQUEST_MAX_BYTES + 1))
    assert dict(os.environ) == before


@pytest.mark.parametrize(("options", "message"), [
    ({"environment": {"AWS_REGION": "x"}}, "reserved keys"),
    ({"environment": {"AB": 1}}, "must be a string"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": 901}, "timeout"),
    ({"timeout": "3"}, "timeout"),
    ({"memory_size": 64}, "memory"),
    ({"function_name": "has space"}, "functionName"),
])
def test_bad_configuration_raises_configuration_error(options: dict[str, Any],
                                                      message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        invoke_handler(echo, **options)


# -- logs ------------------------------------------------------------------------------------------


def test_logs_capture_stdout_stderr_logging_and_context_log() -> None:
    def handler(event: Any, context: Any) -> None:
        print("to stdout")
        print("to stderr", file=sys.stderr)
        logging.getLogger("app").warning("careful: %s", 42)
        context.log("via context\n")

    out, err = sys.stdout, sys.stderr
    result = invoke_handler(handler)
    assert sys.stdout is out and sys.stderr is err
    lines = result.logs.splitlines()
    body = lines[lines.index(f"START RequestId: {result.request_id} Version: $LATEST") + 1:-2]
    assert body[0] == "to stdout"
    assert body[1] == "to stderr"
    assert re.match(rf"^\[WARNING\]\t\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{{3}}Z\t"
                    rf"{result.request_id}\tcareful: 42$", body[2])
    assert body[3] == "via context"


def test_a_stream_kept_from_an_earlier_invocation_still_captures() -> None:
    kept: dict[str, TextIO] = {}

    def handler(event: Any, context: Any) -> None:
        stream = kept.setdefault("stream", sys.stdout)  # as a StreamHandler keeps it
        stream.write(f"call {event['n']}\n")

    invoke_handler(handler, {"n": 1})
    assert "call 2\n" in invoke_handler(handler, {"n": 2}).logs


def test_powertools_logger_of_a_handler_module_is_captured(
        module_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aws_lambda_powertools")
    # Powertools keeps its cold-start flag in the library, which the test process shares with
    # every in-process environment (docs/unit-testing.md): an earlier test's Powertools handler
    # has spent it. A fresh library, as a new environment has in Lambda:
    monkeypatch.setattr("aws_lambda_powertools.logging.logger.is_cold_start", True)
    write_module(module_dir, "inproc_powertools", """
        from aws_lambda_powertools import Logger

        logger = Logger(service="orders")

        @logger.inject_lambda_context
        def handler(event, context):
            logger.info("handling", extra={"order": event["order"]})
            return "done"
    """)
    first = invoke_handler("inproc_powertools.handler", {"order": 7})
    second = invoke_handler("inproc_powertools.handler", {"order": 8})
    for result, order in ((first, 7), (second, 8)):
        assert result.payload == "done", result.error
        lines = [line for line in result.logs.splitlines() if "handling" in line]
        assert len(lines) == 1, result.logs  # Powertools' own line, not a second copy
        record = json.loads(lines[0])
        assert record["message"] == "handling" and record["order"] == order
        assert record["function_request_id"] == result.request_id
        assert record["function_memory_size"] == "128"
        assert record["cold_start"] is (order == 7)


def test_a_handler_may_invoke_another_handler() -> None:
    def inner(event: Any, context: Any) -> str:
        print("inner output")
        return "inner result"

    def outer(event: Any, context: Any) -> str:
        print("outer before")
        result = invoke_handler(inner)
        print("outer after")
        return f"{result.payload} / {'inner output' in result.logs}"

    result = invoke_handler(outer)
    assert result.payload == "inner result / True"
    assert "outer before\nouter after\n" in result.logs
    assert "inner output" not in result.logs


def test_other_threads_output_is_not_captured(capsys: pytest.CaptureFixture[str]) -> None:
    def handler(event: Any, context: Any) -> None:
        print("inside")

    invoke_handler(handler)
    print("outside")
    assert capsys.readouterr().out == "outside\n"


def test_log_records_still_reach_the_tests_handlers(caplog: pytest.LogCaptureFixture) -> None:
    def handler(event: Any, context: Any) -> None:
        logging.getLogger("app").error("seen by caplog")

    invoke_handler(handler)
    assert "seen by caplog" in caplog.text


# -- cold starts and context -----------------------------------------------------------------------


def test_first_call_of_a_handler_is_a_cold_start() -> None:
    def handler(event: Any, context: Any) -> None:
        return None

    first, second = invoke_handler(handler), invoke_handler(handler)
    assert first.cold_start and first.init_duration_ms is not None
    assert "Init Duration: " in first.logs
    assert not second.cold_start and second.init_duration_ms is None
    assert "Init Duration" not in second.logs


def test_context_counts_down_from_the_timeout() -> None:
    result = invoke_handler(
        lambda event, context: [context.get_remaining_time_in_millis(),
                                context.memory_limit_in_mb, context.function_name,
                                context.invoked_function_arn],
        timeout=2, memory_size=256, function_name="fn",
    )
    remaining, memory, name, arn = result.payload
    assert 1900 < remaining <= 2000
    assert (memory, name) == ("256", "fn")
    assert arn == "arn:aws:lambda:us-east-1:123456789012:function:fn"


def test_a_given_context_is_used_as_is() -> None:
    context = LambdaContext(function_name="given", region="eu-west-1",
                            client_context={"custom": {"k": "v"}})
    result = invoke_handler(
        lambda event, ctx: [ctx is context, os.environ["AWS_REGION"],
                            os.environ["AWS_LAMBDA_FUNCTION_NAME"]],
        context=context,
    )
    assert result.payload == [True, "eu-west-1", "given"]
    assert result.request_id == context.aws_request_id
    with pytest.raises(ConfigurationError, match="function_name"):
        invoke_handler(echo, context=context, function_name="other")
    with pytest.raises(ConfigurationError, match="memory_size"):
        invoke_handler(echo, context=context, memory_size=256)


# -- handler strings -------------------------------------------------------------------------------


def test_handler_string_is_imported_with_lambdas_environment(module_dir: Path) -> None:
    write_module(module_dir, "inproc_app", """
        import os

        REGION_AT_IMPORT = os.environ["AWS_REGION"]

        def handler(event, context):
            return [REGION_AT_IMPORT, os.environ["LAMBDA_TASK_ROOT"], os.environ["_HANDLER"]]
    """)
    result = invoke_handler("inproc_app.handler")
    assert result.payload == ["us-east-1", str(module_dir), "inproc_app.handler"]
    assert result.cold_start


def test_import_output_is_the_init_phases_log(module_dir: Path) -> None:
    write_module(module_dir, "inproc_noisy", """
        print("loading configuration")

        def handler(event, context):
            print("handling")
    """)
    cold = invoke_handler("inproc_noisy.handler")
    assert cold.logs.startswith("INIT_START Runtime Version: python:")
    assert cold.logs.index("loading configuration") < cold.logs.index("START RequestId")
    assert cold.logs.index("START RequestId") < cold.logs.index("handling")
    assert re.search(r"\tInit Duration: \d+\.\d\d ms\t", cold.logs)
    warm = invoke_handler("inproc_noisy.handler")
    assert warm.logs.startswith("START RequestId") and "loading" not in warm.logs


@pytest.mark.parametrize(("handler", "source", "error_type", "message"), [
    ("no_such_module_xyz.handler", None, "Runtime.ImportModuleError",
     "Unable to import module 'no_such_module_xyz': No module named 'no_such_module_xyz'"),
    ("inproc_missing.nothing", "x = 1\n", "Runtime.HandlerNotFound",
     "Handler 'nothing' missing on module 'inproc_missing'"),
    ("handler", None, "Runtime.MalformedHandlerName",
     "Bad handler 'handler': not enough values to unpack (expected 2, got 1)"),
    ("inproc_syntax.handler", "def handler(:\n", "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'inproc_syntax': "),
    ("inproc_raises.handler", "raise KeyError('CONFIG')\n", "KeyError", "'CONFIG'"),
    ("sys.handler", None, "Runtime.BuiltInModuleConflict",
     "Cannot use built-in module sys as a handler module"),
])
def test_handler_string_faults_match_the_python_runtime(
    module_dir: Path, handler: str, source: str | None, error_type: str, message: str
) -> None:
    if source is not None:
        write_module(module_dir, handler.rpartition(".")[0], source)
    result = invoke_handler(handler)
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == error_type
    assert result.payload["errorMessage"].startswith(message)
    assert result.payload["requestId"] == ""
    assert f"[ERROR] {error_type}: " in result.logs
    assert report_line(result)


def test_non_callable_handler_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="callable"):
        invoke_handler(42)  # type: ignore[arg-type]  # not a handler, on purpose


# -- other libraries in the same process -----------------------------------------------------------


def test_works_inside_moto_mock_aws() -> None:
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")

    def handler(event: Any, context: Any) -> dict[str, Any]:
        s3 = boto3.client("s3")  # region and credentials come from Lambda's environment
        s3.put_object(Bucket=event["bucket"], Key="out.txt", Body=b"written by the handler")
        return {"keys": [o["Key"] for o in s3.list_objects_v2(Bucket=event["bucket"])["Contents"]]}

    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="results")
        result = invoke_handler(handler, {"bucket": "results"})
        body = boto3.client("s3", region_name="us-east-1").get_object(
            Bucket="results", Key="out.txt")["Body"].read()
    assert result.ok, result.error
    assert result.payload == {"keys": ["out.txt"]}
    assert body == b"written by the handler"


def test_works_with_responses() -> None:
    responses = pytest.importorskip("responses")
    requests = pytest.importorskip("requests")

    def handler(event: Any, context: Any) -> Any:
        reply = requests.get("https://api.example.com/rates", timeout=5)
        return {"status": reply.status_code, "rate": reply.json()["rate"]}

    with responses.RequestsMock() as mocked:
        mocked.get("https://api.example.com/rates", json={"rate": 1.25})
        result = invoke_handler(handler)
        assert len(mocked.calls) == 1
    assert result.payload == {"status": 200, "rate": 1.25}


def test_remaining_time_follows_a_frozen_clock_the_handler_ticks() -> None:
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2024-06-01 12:00:00") as frozen:
        def handler(event: Any, context: Any) -> list[Any]:
            before = context.get_remaining_time_in_millis()
            frozen.tick(2.5)
            return [before, context.get_remaining_time_in_millis(), time.time()]

        result = invoke_handler(handler, timeout=3)
    before, after, now = result.payload
    assert (before, after) == (3000, 500)
    assert now == 1717243202.5  # the handler saw the frozen clock


def test_timeout_fires_in_real_time_under_a_frozen_clock() -> None:
    freezegun = pytest.importorskip("freezegun")

    def waits_for_the_clock(event: Any, context: Any) -> None:
        while context.get_remaining_time_in_millis() > 0:  # never true: the clock is frozen
            time.sleep(0.005)

    started = time.perf_counter()  # freezegun freezes perf_counter too: measure outside
    with freezegun.freeze_time("2024-06-01 12:00:00"):
        result = invoke_handler(waits_for_the_clock, timeout=0.2)
    elapsed = time.perf_counter() - started
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert 0.2 <= elapsed < 1.5
