"""The result of one invocation, shared by every backend and by in-process invocation."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def decode_payload(raw: bytes) -> Any:
    """Return `raw` decoded as JSON, or `raw` itself when it is not JSON."""
    try:
        return json.loads(raw)
    except (UnicodeDecodeError, ValueError):
        return raw


@dataclass(frozen=True)
class InvokeResult:
    """What one synchronous invocation returned, as Lambda's Invoke API and logs report it.

    `payload` is the response decoded as JSON (or the raw bytes when it is not JSON); for a
    function error it is the error document, which is also on `error`.
    """

    raw_payload: bytes
    """The response's bytes, as the function's runtime sent them."""
    request_id: str
    """The invocation's request ID (`context.aws_request_id` in the function)."""
    status_code: int = 200
    """The Invoke operation's HTTP status: 200 for a synchronous invocation, function errors
    included."""
    function_error: str | None = None
    """`None`, or `"Unhandled"` when the function failed (Invoke's `X-Amz-Function-Error`)."""
    logs: str = ""
    """This invocation's log lines from `START` to `REPORT`; a cold start's init output and
    `INIT_START` come first, as in CloudWatch."""
    cold_start: bool = False
    """Whether this invocation started a new execution environment."""
    init_duration_ms: float | None = None
    """The `Init Duration` of a cold start's `REPORT` line; `None` on a warm start."""
    duration_ms: float = 0.0
    """The `Duration` of the `REPORT` line."""
    billed_duration_ms: int = 0
    """The `Billed Duration` of the `REPORT` line: the duration rounded up to the millisecond."""
    max_memory_used_mb: int = 0
    """The `Max Memory Used` of the `REPORT` line (from the container's memory cgroup)."""
    memory_size_mb: int = 128
    """The function's memory setting, as the `REPORT` line says it."""
    executed_version: str = "$LATEST"
    """The version that ran (`$LATEST`)."""
    payload: Any = field(init=False, repr=False)
    """The response decoded as JSON, or the raw bytes when it is not JSON; for a function
    error, the error document."""
    error: dict[str, Any] | None = field(init=False, repr=False)
    """The error document (`errorType`, `errorMessage`, `stackTrace`) of a function error, else
    `None`."""

    def __post_init__(self) -> None:
        payload = decode_payload(self.raw_payload)
        object.__setattr__(self, "payload", payload)
        error = None
        if self.function_error is not None:
            error = payload if isinstance(payload, dict) else {"errorMessage": repr(payload)}
        object.__setattr__(self, "error", error)

    @property
    def ok(self) -> bool:
        """True when the function returned without a function error."""
        return self.function_error is None

    def __repr__(self) -> str:
        outcome = "ok" if self.ok else f"{self.function_error}: {self.error!r}"
        return (
            f"InvokeResult(request_id={self.request_id!r}, {outcome}, "
            f"duration_ms={self.duration_ms:.2f}, cold_start={self.cold_start})"
        )
