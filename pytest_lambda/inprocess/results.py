"""The `InvokeResult` of an in-process invocation: payload, error and Lambda's log lines."""

from __future__ import annotations

import sys
from typing import Any

from pytest_lambda.inprocess.handlers import encoder, error_log
from pytest_lambda.inprocess.running import Outcome
from pytest_lambda.result import InvokeResult
from pytest_lambda.service.reporting import (
    billed_ms,
    exit_error,
    exit_reason,
    invocation_logs,
    report_line,
    timeout_error,
)


def _max_memory_used_mb() -> int:
    """Return the test process's peak resident memory in MB (the function shares the process)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / (1024 * 1024 if sys.platform == "darwin" else 1024))


def init_log(lines: list[str], region: str) -> str:
    """Return the init phase's log: Lambda's INIT_START line, then what the import printed."""
    from pytest_lambda.config.runtimes import init_start_line

    output = "".join(lines)
    if output and not output.endswith("\n"):
        output += "\n"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return init_start_line("python", version, region) + output


def result(
    outcome: Outcome, finished: bool, request_id: str, memory_size: int, timeout: float,
    *, duration_ms: float, init_ms: float | None, init_log: str,
) -> InvokeResult:
    """Return the result of a handler's run: its response, or the error Lambda reports for a
    function error, an exit or a timeout, with the invocation's log and REPORT line."""
    status: str | None = None
    error_type: str | None = None
    trailer = ""
    error = outcome.error
    if not finished:
        duration_ms = timeout * 1000
        error, trailer = timeout_error(request_id, timeout)
        status, error_type = "timeout", "Sandbox.Timedout"
    elif outcome.exit_code is not None:
        reason = exit_reason(outcome.exit_code, f"exit status {outcome.exit_code}")
        error, trailer = exit_error(request_id, reason)
        status, error_type = "error", "Runtime.ExitError"
    elif error is not None and error["errorType"] == "Function.ResponseSizeTooLarge":
        status, error_type = "error", "Function.ResponseSizeTooLarge"
    logs = invocation_logs(
        init_log, request_id, "".join(outcome.log_lines), trailer,
        report_line(request_id, duration_ms, memory_size, _max_memory_used_mb(), init_ms,
                    status, error_type),
    )
    return InvokeResult(
        raw_payload=encoder()(error).encode() if error is not None else outcome.body,
        request_id=request_id,
        function_error="Unhandled" if error is not None else None,
        logs=logs,
        cold_start=init_ms is not None,
        init_duration_ms=round(init_ms, 2) if init_ms is not None else None,
        duration_ms=round(duration_ms, 2),
        billed_duration_ms=billed_ms(duration_ms),
        max_memory_used_mb=_max_memory_used_mb(),
        memory_size_mb=memory_size,
    )


def init_failure(
    fault: dict[str, Any], request_id: str, memory_size: int, init_ms: float, init_log: str
) -> InvokeResult:
    """Return what Lambda answers when the handler cannot be loaded (the init phase failed)."""
    error_type = fault["errorType"]
    logs = invocation_logs(
        init_log + error_log(fault), request_id, "", "",
        report_line(request_id, init_ms, memory_size, _max_memory_used_mb(), None, "error",
                    error_type),
    )
    return InvokeResult(
        raw_payload=encoder()(fault).encode(),
        request_id=request_id,
        function_error="Unhandled",
        logs=logs,
        cold_start=True,
        duration_ms=round(init_ms, 2),
        billed_duration_ms=billed_ms(init_ms),
        max_memory_used_mb=_max_memory_used_mb(),
        memory_size_mb=memory_size,
    )
