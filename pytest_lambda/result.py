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
    request_id: str
    status_code: int = 200
    function_error: str | None = None
    logs: str = ""
    cold_start: bool = False
    init_duration_ms: float | None = None
    duration_ms: float = 0.0
    billed_duration_ms: int = 0
    max_memory_used_mb: int = 0
    memory_size_mb: int = 128
    executed_version: str = "$LATEST"
    payload: Any = field(init=False, repr=False)
    error: dict[str, Any] | None = field(init=False, repr=False)

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
