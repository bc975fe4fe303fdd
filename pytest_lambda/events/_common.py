"""What every event builder shares: errors, ids, timestamps and header handling."""

from __future__ import annotations

import base64
import json
import secrets
import string
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from pytest_lambda.errors import LambdaHarnessError

#: A header or query value: one string, or several for a repeated name.
MultiValue = str | Sequence[str]

#: The body of an HTTP request: text, bytes (sent base64-encoded), or a value sent as JSON.
Body = str | bytes | Mapping[str, Any] | Sequence[Any] | None


class EventError(LambdaHarnessError, ValueError):
    """An event builder was given a value AWS would never send."""


class InvalidProxyResponseError(LambdaHarnessError, ValueError):
    """A handler's return value is not a proxy response (the caller would get a 502)."""


def now(at: datetime | None) -> datetime:
    """Return `at` as an aware UTC datetime, or the current time (frozen under freezegun)."""
    if at is None:
        return datetime.now(timezone.utc)
    if at.tzinfo is None:
        return at.replace(tzinfo=timezone.utc)
    return at.astimezone(timezone.utc)


def iso_millis(at: datetime) -> str:
    """Return `at` as `2024-01-02T03:04:05.678Z`, the form S3 and SNS use."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def iso_seconds(at: datetime) -> str:
    """Return `at` as `2024-01-02T03:04:05Z`, the form EventBridge uses."""
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch_millis(at: datetime) -> int:
    """Return `at` in milliseconds since the epoch."""
    return int(at.timestamp() * 1000)


def clf_time(at: datetime) -> str:
    """Return `at` as `02/Jan/2024:03:04:05 +0000`, the form API Gateway uses."""
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{at.day:02d}/{months[at.month - 1]}/{at.strftime('%Y:%H:%M:%S')} +0000"


def new_uuid() -> str:
    """Return a fresh random UUID as a string."""
    return str(uuid.uuid4())


def random_chars(length: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    """Return `length` random characters from `alphabet`."""
    return "".join(secrets.choice(alphabet) for _ in range(length))


def lower_alnum(length: int) -> str:
    """Return `length` random lowercase letters and digits (API ids, URL ids, client ids)."""
    return random_chars(length, string.ascii_lowercase + string.digits)


def upper_alnum(length: int) -> str:
    """Return `length` random uppercase letters and digits (principal and distribution ids)."""
    return random_chars(length, string.ascii_uppercase + string.digits)


def b64(data: bytes) -> str:
    """Return `data` base64-encoded as text."""
    return base64.b64encode(data).decode("ascii")


def to_bytes(data: str | bytes | Mapping[str, Any] | Sequence[Any], what: str) -> bytes:
    """Return a payload as bytes: text as UTF-8, a dict or list as JSON."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return data.encode("utf-8")
    if isinstance(data, (Mapping, list, tuple)):
        return json_text(data, what).encode("utf-8")
    raise EventError(
        f"{what} must be str, bytes, a dict or a list, not {type(data).__name__}."
    )


def json_text(value: Any, what: str) -> str:
    """Return `value` as compact JSON, or raise EventError naming `what`."""
    try:
        return json.dumps(value, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise EventError(f"{what} is not JSON-serialisable: {exc}.") from None


def multi_values(
    values: Mapping[str, MultiValue] | None, what: str
) -> dict[str, list[str]]:
    """Return a mapping of names to one value or a list of values as names to lists."""
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise EventError(f"{what} must be a dict of names to strings, not {type(values).__name__}.")
    result: dict[str, list[str]] = {}
    for name, value in values.items():
        if not isinstance(name, str):
            raise EventError(f"{what} names must be strings, not {name!r}.")
        items = [value] if isinstance(value, str) else list(value) if _is_seq(value) else None
        if items is None or not all(isinstance(v, str) for v in items):
            raise EventError(
                f"{what}[{name!r}] must be a string or a list of strings, not {value!r}."
            )
        result[name] = items
    return result


def _is_seq(value: object) -> bool:
    return isinstance(value, (list, tuple))


def merge_headers(
    defaults: Mapping[str, str], headers: Mapping[str, list[str]], *, lower: bool
) -> dict[str, list[str]]:
    """Return default headers overlaid by the caller's, names matched case-insensitively."""
    result: dict[str, list[str]] = {}
    given = {name.lower() for name in headers}
    for name, value in defaults.items():
        if name.lower() not in given:
            result[name.lower() if lower else name] = [value]
    for name, values in headers.items():
        key = name.lower() if lower else name
        result.setdefault(key, []).extend(values)
    return result


def find_header(headers: Mapping[str, list[str]], name: str) -> str | None:
    """Return the last value of header `name` (any case), or None."""
    for key, values in headers.items():
        if key.lower() == name.lower() and values:
            return values[-1]
    return None


def encode_body(body: Body) -> tuple[str | None, bool, str | None]:
    """Return (body text, isBase64Encoded, implied content type) for an HTTP event body.

    Text passes as is, bytes are base64-encoded as API Gateway does for binary media types,
    and a dict or list is sent as JSON with `application/json`.
    """
    if body is None:
        return None, False, None
    if isinstance(body, bytes):
        return b64(body), True, "application/octet-stream"
    if isinstance(body, str):
        return body, False, None
    if isinstance(body, (Mapping, list, tuple)):
        return json_text(body, "body"), False, "application/json"
    raise EventError(f"body must be str, bytes, a dict or a list, not {type(body).__name__}.")


def records(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Return the `Records` of each event in turn."""
    result: list[dict[str, Any]] = []
    for event in events:
        items = event.get("Records") if isinstance(event, Mapping) else None
        if not isinstance(items, list):
            raise EventError("batch() takes events that have a 'Records' list.")
        result.extend(items)
    return result
