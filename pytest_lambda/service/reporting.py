"""Lambda's words: the log lines and error documents every invocation path writes.

The service (containers, processes) and in-process invocation both report through these, so
their results have one shape.
"""

from __future__ import annotations

import math
import time
from typing import Any

from pytest_lambda.config import limits as _limits
from pytest_lambda.system import clock as _clock


def billed_ms(duration_ms: float) -> int:
    """Return the billed duration of `duration_ms`: the reported duration (two decimals) rounded
    up to the millisecond, so that `Billed Duration` never disagrees with `Duration`."""
    return math.ceil(round(duration_ms, 2))


def report_line(
    request_id: str, duration_ms: float, memory_size: int, max_memory: int,
    init_ms: float | None = None, status: str | None = None, error_type: str | None = None,
) -> str:
    """Return the `REPORT` line, with `Init Duration` last as Lambda writes it."""
    fields = [
        f"REPORT RequestId: {request_id}",
        f"Duration: {duration_ms:.2f} ms",
        f"Billed Duration: {billed_ms(duration_ms)} ms",
        f"Memory Size: {memory_size} MB",
        f"Max Memory Used: {max_memory} MB",
    ]
    if init_ms is not None:
        fields.append(f"Init Duration: {init_ms:.2f} ms")
    if status is not None:
        fields.append(f"Status: {status}")
    if error_type is not None:
        fields.append(f"Error Type: {error_type}")
    return "\t".join(fields) + "\t\n"


def invocation_logs(before: str, request_id: str, output: str, trailer: str, report: str,
                    version: str = "$LATEST") -> str:
    """Return one invocation's log text: what came before, START, output, END, REPORT."""
    if output and not output.endswith("\n"):
        output += "\n"
    return (
        before
        + f"START RequestId: {request_id} Version: {version}\n"
        + output
        + trailer
        + f"END RequestId: {request_id}\n"
        + report
    )


def iso_now() -> str:
    """Return the real time as CloudWatch prints it: `2026-11-23T14:30:06.994Z`."""
    now = _clock.wall()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now % 1 * 1000):03d}Z"


def timeout_error(request_id: str, seconds: float) -> tuple[dict[str, Any], str]:
    """Return Lambda's timeout document and the log line it writes before `END`."""
    message = f"Task timed out after {seconds:.2f} seconds"
    document = {"errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: {message}"}
    return document, f"{iso_now()} {request_id} {message}\n"


def exit_error(request_id: str, reason: str, error_type: str = "Runtime.ExitError"
               ) -> tuple[dict[str, Any], str]:
    """Return the document and log lines for a runtime that exited (`reason` in Lambda's words)."""
    message = f"RequestId: {request_id} Error: {reason}"
    return {"errorType": error_type, "errorMessage": message}, f"{message}\n{error_type}\n"


def exit_reason(code: int | None, description: str) -> str:
    """Return `Runtime exited ...` for an exit code (0 gives no reason) or signal description."""
    if code == 0:
        return "Runtime exited without providing a reason"
    return f"Runtime exited with error: {description}"


def response_too_large(size: int) -> dict[str, Any]:
    """Return Lambda's document for a response over the Runtime API's limit."""
    return {
        "errorType": "Function.ResponseSizeTooLarge",
        "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload "
                        f"size ({_limits.RESPONSE_MAX_BYTES} bytes).",
    }
