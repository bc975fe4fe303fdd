"""DynamoDB Streams events, and DynamoDB's typed JSON in both directions."""

from __future__ import annotations

import itertools
import secrets
import time as _time
from base64 import b64decode
from collections.abc import Mapping, Sequence, Set
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pytest_lambda.config import names as _aws
from pytest_lambda.events._common import EventError, b64, now

_STREAM_VIEW_TYPES = ("NEW_AND_OLD_IMAGES", "NEW_IMAGE", "OLD_IMAGE", "KEYS_ONLY")
_MAX_DIGITS = 38
_sequence = itertools.count(int(_time.time() * 1000) * 10**8)


def _number(value: int | float | Decimal) -> str:
    """Return a number as DynamoDB's `N` text, checking DynamoDB's precision and range."""
    text = repr(value) if isinstance(value, float) else str(value)
    try:
        number = Decimal(text)
    except InvalidOperation:  # pragma: no cover - every int, float and Decimal converts
        raise EventError(f"{value!r} is not a number DynamoDB can store.") from None
    if not number.is_finite():
        raise EventError(f"DynamoDB cannot store {value!r}: numbers must be finite.")
    if number != 0:
        digits = len("".join(map(str, number.as_tuple().digits)).strip("0"))
        if digits > _MAX_DIGITS:
            raise EventError(
                f"DynamoDB keeps at most {_MAX_DIGITS} significant digits; {value!r} has {digits}."
            )
        if not -130 <= number.adjusted() <= 125:
            raise EventError(f"{value!r} is outside DynamoDB's number range (1E-130 to 1E+126).")
    return text


def to_dynamodb_json(value: Any) -> dict[str, Any]:
    """Return `value` as a DynamoDB attribute value in typed JSON, as streams deliver it.

    None is NULL, bool BOOL, int/float/Decimal N (as text), str S, bytes B (base64), a dict M,
    a list or tuple L, and a non-empty set of str, numbers or bytes SS, NS or BS.
    """
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": _number(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, (bytes, bytearray)):
        return {"B": b64(bytes(value))}
    if isinstance(value, Mapping):
        return {"M": to_dynamodb_item(value)}
    if isinstance(value, (list, tuple)):
        return {"L": [to_dynamodb_json(item) for item in value]}
    if isinstance(value, Set):
        return _set(value)
    raise EventError(f"DynamoDB has no type for {type(value).__name__} value {value!r}.")


def _set(values: Set[Any]) -> dict[str, Any]:
    if not values:
        raise EventError("DynamoDB cannot store an empty set: leave the attribute out instead.")
    if all(isinstance(v, str) for v in values):
        return {"SS": sorted(values)}
    if all(isinstance(v, (int, float, Decimal)) and not isinstance(v, bool) for v in values):
        return {"NS": sorted(_number(v) for v in values)}
    if all(isinstance(v, (bytes, bytearray)) for v in values):
        return {"BS": sorted(b64(bytes(v)) for v in values)}
    raise EventError(
        f"A DynamoDB set holds only strings, only numbers or only bytes, not {values!r}."
    )


def to_dynamodb_item(item: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Return an item (a dict of attribute names to plain values) in DynamoDB's typed JSON."""
    if not isinstance(item, Mapping):
        raise EventError(f"An item must be a dict of attribute names to values, not {item!r}.")
    for name in item:
        if not isinstance(name, str) or not name:
            raise EventError(f"Attribute names must be non-empty strings, not {name!r}.")
    return {name: to_dynamodb_json(value) for name, value in item.items()}


def _parse_number(text: str) -> int | Decimal:
    if any(c in text for c in ".eE"):
        return Decimal(text)
    return int(text)


def from_dynamodb_json(value: Mapping[str, Any]) -> Any:
    """Return the plain value of a DynamoDB typed-JSON attribute value.

    N becomes an int when it is written without a point or exponent, else a Decimal; B and
    BS become bytes; SS, NS and BS become sets.
    """
    if not isinstance(value, Mapping) or len(value) != 1:
        raise EventError(f"A typed attribute value has exactly one type key, not {value!r}.")
    ((kind, inner),) = value.items()
    if kind == "NULL":
        return None
    if kind in ("S", "BOOL"):
        return inner
    if kind == "N":
        return _parse_number(inner)
    if kind == "B":
        return b64decode(inner)
    if kind == "M":
        return from_dynamodb_item(inner)
    if kind == "L":
        return [from_dynamodb_json(item) for item in inner]
    if kind == "SS":
        return set(inner)
    if kind == "NS":
        return {_parse_number(item) for item in inner}
    if kind == "BS":
        return {b64decode(item) for item in inner}
    raise EventError(f"{kind!r} is not a DynamoDB attribute type.")


def from_dynamodb_item(image: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Return a typed-JSON item (a stream record's `NewImage`, say) as plain values."""
    return {name: from_dynamodb_json(value) for name, value in image.items()}


def _size(value: Mapping[str, Any]) -> int:
    """Return DynamoDB's size estimate of a typed attribute value, in bytes."""
    ((kind, inner),) = value.items()
    if kind == "S":
        return len(inner.encode())
    if kind == "N":
        return len(inner.lstrip("-").replace(".", "")) // 2 + 2
    if kind == "B":
        return len(b64decode(inner))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "BS", "NS"):
        return sum(_size({kind[0]: item}) for item in inner)
    if kind == "L":
        return 3 + sum(1 + _size(item) for item in inner)
    return 3 + sum(len(k.encode()) + 1 + _size(v) for k, v in inner.items())


def _record(
    event_name: str,
    *,
    old_image: Mapping[str, Any] | None,
    new_image: Mapping[str, Any] | None,
    key_names: Sequence[str],
    table: str,
    stream_view_type: str,
    stream_label: str,
    time: datetime | None,
    region: str,
    account_id: str,
    ttl: bool = False,
) -> dict[str, Any]:
    if stream_view_type not in _STREAM_VIEW_TYPES:
        raise EventError(
            f"stream_view_type must be one of {', '.join(_STREAM_VIEW_TYPES)}, "
            f"not {stream_view_type!r}."
        )
    if isinstance(key_names, str) or not key_names:
        raise EventError("key_names must be a list of the table's key attribute names.")
    source = new_image if new_image is not None else old_image
    assert source is not None
    keys: dict[str, Any] = {}
    for name in key_names:
        if name not in source:
            raise EventError(f"The item has no key attribute {name!r}: add it or pass key_names=.")
        if old_image is not None and new_image is not None and old_image.get(name) != source[name]:
            raise EventError(
                f"Key attribute {name!r} differs between old_image and new_image: an update "
                f"never changes a key."
            )
        keys[name] = source[name]
    change: dict[str, Any] = {
        "ApproximateCreationDateTime": int(now(time).timestamp()),
        "Keys": to_dynamodb_item(keys),
    }
    if new_image is not None and stream_view_type in ("NEW_AND_OLD_IMAGES", "NEW_IMAGE"):
        change["NewImage"] = to_dynamodb_item(new_image)
    if old_image is not None and stream_view_type in ("NEW_AND_OLD_IMAGES", "OLD_IMAGE"):
        change["OldImage"] = to_dynamodb_item(old_image)
    change["SequenceNumber"] = str(next(_sequence))
    change["SizeBytes"] = sum(
        len(name.encode()) + _size(value)
        for part in ("Keys", "NewImage", "OldImage")
        for name, value in change.get(part, {}).items()
    )
    change["StreamViewType"] = stream_view_type
    record: dict[str, Any] = {
        "eventID": secrets.token_hex(16),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": change,
        "eventSourceARN": (
            f"arn:aws:dynamodb:{region}:{account_id}:table/{table}/stream/{stream_label}"
        ),
    }
    if ttl:
        record["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    return {"Records": [record]}


_DEFAULT_ITEM = {"id": "item-1", "message": "Hello from DynamoDB!"}
_STREAM_LABEL = "2024-01-01T00:00:00.000"


def dynamodb_insert(
    new_image: Mapping[str, Any] | None = None,
    *,
    key_names: Sequence[str] = ("id",),
    table: str = "example-table",
    stream_view_type: str = "NEW_AND_OLD_IMAGES",
    stream_label: str = _STREAM_LABEL,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return a DynamoDB Streams INSERT record for `new_image`, given as plain Python values.

    `Keys` holds the `key_names` attributes of the item; which images the record carries
    follows `stream_view_type`, as DynamoDB does.
    """
    return _record(
        "INSERT", old_image=None, new_image=new_image if new_image is not None else _DEFAULT_ITEM,
        key_names=key_names, table=table, stream_view_type=stream_view_type,
        stream_label=stream_label, time=time, region=region, account_id=account_id,
    )


def dynamodb_modify(
    old_image: Mapping[str, Any] | None = None,
    new_image: Mapping[str, Any] | None = None,
    *,
    key_names: Sequence[str] = ("id",),
    table: str = "example-table",
    stream_view_type: str = "NEW_AND_OLD_IMAGES",
    stream_label: str = _STREAM_LABEL,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return a DynamoDB Streams MODIFY record for an item changed from `old_image`."""
    old = old_image if old_image is not None else _DEFAULT_ITEM
    new = new_image if new_image is not None else {**old, "message": "Updated!"}
    return _record(
        "MODIFY", old_image=old, new_image=new, key_names=key_names, table=table,
        stream_view_type=stream_view_type, stream_label=stream_label, time=time,
        region=region, account_id=account_id,
    )


def dynamodb_remove(
    old_image: Mapping[str, Any] | None = None,
    *,
    key_names: Sequence[str] = ("id",),
    ttl: bool = False,
    table: str = "example-table",
    stream_view_type: str = "NEW_AND_OLD_IMAGES",
    stream_label: str = _STREAM_LABEL,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return a DynamoDB Streams REMOVE record; `ttl=True` marks it as a TTL expiry."""
    return _record(
        "REMOVE", old_image=old_image if old_image is not None else _DEFAULT_ITEM,
        new_image=None, key_names=key_names, table=table, stream_view_type=stream_view_type,
        stream_label=stream_label, time=time, region=region, account_id=account_id, ttl=ttl,
    )
