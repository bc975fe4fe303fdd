"""What an invocation carries to the runtime, encoded and checked as Lambda's Invoke API does:
the payload, the client context and the trace header.
"""

from __future__ import annotations

import base64
import json

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.errors import (
    InvalidRequestContentException,
    InvokeError,
    RequestTooLargeException,
)


def encode_payload(event: object) -> bytes:
    """Return the request body Lambda would receive for `event`, or raise the Invoke error."""
    if event is None:
        body = b"{}"
    elif isinstance(event, (bytes, bytearray, memoryview)):
        body = bytes(event)
    else:
        try:
            # JSON has no NaN or Infinity, and Lambda refuses a body that carries them.
            body = json.dumps(event, allow_nan=False).encode()
        except (TypeError, ValueError) as exc:
            hint = ("JSON has no NaN or Infinity, so Lambda refuses them: replace them with "
                    "null or a string" if "Out of range float" in str(exc)
                    else "pass JSON-serialisable values or bytes")
            raise InvalidRequestContentException(
                f"Could not serialise the event to JSON ({exc}): {hint}."
            ) from None
    if len(body) > _limits.SYNC_REQUEST_MAX_BYTES:
        raise RequestTooLargeException(
            f"{len(body)} byte payload is too large for the RequestResponse invocation type "
            f"(limit {_limits.SYNC_REQUEST_MAX_BYTES} bytes)"
        )
    if isinstance(event, (bytes, bytearray, memoryview)):
        try:
            json.loads(body, parse_constant=_refuse_constant)
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidRequestContentException(
                f"Could not parse request body into json: Could not parse payload into json: "
                f"{exc}"
            ) from None
    return body


def encode_async_payload(event: object, limit: int, operation: str) -> bytes:
    """Return the body of an asynchronous invocation, checked against its smaller `limit`."""
    body = encode_payload(event)
    if len(body) > limit:
        raise RequestTooLargeException(
            f"{len(body)} byte payload is too large for {operation} (limit {limit} bytes)"
        )
    return body


def _refuse_constant(token: str) -> object:
    """Refuse the NaN and Infinity that Python's JSON reader accepts and Lambda's does not."""
    raise ValueError(
        f"Non-standard token '{token}': JSON has no NaN or Infinity (send null or a string)"
    )


def encode_client_context(client_context: object) -> str | None:
    """Return the client context as the JSON text the runtime receives, checking Lambda's limit."""
    if client_context is None:
        return None
    if not isinstance(client_context, dict):
        raise InvokeError(
            f"client_context must be a dict, not {type(client_context).__name__}.",
            error_type="InvalidParameterValueException",
        )
    try:
        text = json.dumps(client_context, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvokeError(
            f"client_context is not JSON-serialisable: {exc}.",
            error_type="InvalidParameterValueException",
        ) from None
    encoded = base64.b64encode(text.encode())
    if len(encoded) > _limits.CLIENT_CONTEXT_MAX_BYTES:
        raise InvokeError(
            f"Client context must be smaller than {_limits.CLIENT_CONTEXT_MAX_BYTES} bytes once "
            f"base64-encoded (it is {len(encoded)}).",
            error_type="InvalidParameterValueException",
        )
    return text


def encode_trace_id(trace_id: object) -> str | None:
    """Return the caller's X-Ray trace header after checking it (None: a new one per call)."""
    if trace_id is None:
        return None
    try:
        return _aws.validate_trace_id(trace_id)
    except ValueError as exc:
        raise InvokeError(str(exc), error_type="InvalidParameterValueException") from None

