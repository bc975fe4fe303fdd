"""S3 event notifications, as Lambda receives them from a bucket."""

from __future__ import annotations

import hashlib
import itertools
import time as _time
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from pytest_lambda.config import names as _aws
from pytest_lambda.events._common import (
    EventError,
    b64,
    iso_millis,
    new_uuid,
    now,
    random_chars,
    upper_alnum,
)

_sequence = itertools.count(int(_time.time() * 1000) << 16)


def _sequencer() -> str:
    """Return an S3 sequencer: hex that grows with each event, as S3's does per key."""
    return f"{next(_sequence):018X}"


def _record(
    event_name: str,
    *,
    bucket: str,
    key: str,
    size: int | None,
    etag: str | None,
    version_id: str | None,
    region: str,
    time: datetime | None,
    principal_id: str | None,
    source_ip: str,
    configuration_id: str,
) -> dict[str, Any]:
    if not bucket or not isinstance(bucket, str):
        raise EventError(f"bucket must be a non-empty bucket name, not {bucket!r}.")
    if not isinstance(key, str) or not key:
        raise EventError(f"key must be a non-empty object key, not {key!r}.")
    owner = principal_id or f"A{upper_alnum(13)}"
    obj: dict[str, Any] = {"key": quote_plus(key, safe="/")}
    if size is not None:
        obj["size"] = size
    if etag is not None:
        obj["eTag"] = etag
    if version_id is not None:
        obj["versionId"] = version_id
    obj["sequencer"] = _sequencer()
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": iso_millis(now(time)),
        "eventName": event_name,
        "userIdentity": {"principalId": f"AWS:{owner}"},
        "requestParameters": {"sourceIPAddress": source_ip},
        "responseElements": {
            "x-amz-request-id": upper_alnum(16),
            "x-amz-id-2": b64(random_chars(56).encode())[:76],
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {
                "name": bucket,
                "ownerIdentity": {"principalId": owner},
                "arn": f"arn:aws:s3:::{bucket}",
            },
            "object": obj,
        },
    }


def _object_facts(
    body: bytes | str | None, size: int | None, etag: str | None
) -> tuple[int, str]:
    data = body.encode() if isinstance(body, str) else body
    if data is not None:
        if size is not None and size != len(data):
            raise EventError(f"size={size} disagrees with the body's {len(data)} bytes.")
        size = len(data)
    if size is None:
        size = 1024
    if size < 0:
        raise EventError(f"size must be 0 or more bytes, not {size}.")
    if etag is None:
        etag = hashlib.md5(data if data is not None else new_uuid().encode()).hexdigest()
    return size, etag


def s3_put(
    bucket: str = "example-bucket",
    key: str = "uploads/example.txt",
    *,
    body: bytes | str | None = None,
    size: int | None = None,
    etag: str | None = None,
    version_id: str | None = None,
    region: str = _aws.DEFAULT_REGION,
    time: datetime | None = None,
    principal_id: str | None = None,
    source_ip: str = "198.51.100.10",
    configuration_id: str = "pytest-lambda-notification",
) -> dict[str, Any]:
    """Return an `ObjectCreated:Put` notification for one object.

    `key` is the object key as written (the event carries it URL-encoded, spaces as `+`, as
    S3 sends it). Give `body` to derive `size` and `eTag` (its MD5) from the content.
    """
    size, etag = _object_facts(body, size, etag)
    return {"Records": [_record(
        "ObjectCreated:Put", bucket=bucket, key=key, size=size, etag=etag,
        version_id=version_id, region=region, time=time, principal_id=principal_id,
        source_ip=source_ip, configuration_id=configuration_id,
    )]}


def s3_copy(
    bucket: str = "example-bucket",
    key: str = "copies/example.txt",
    *,
    body: bytes | str | None = None,
    size: int | None = None,
    etag: str | None = None,
    version_id: str | None = None,
    region: str = _aws.DEFAULT_REGION,
    time: datetime | None = None,
    principal_id: str | None = None,
    source_ip: str = "198.51.100.10",
    configuration_id: str = "pytest-lambda-notification",
) -> dict[str, Any]:
    """Return an `ObjectCreated:Copy` notification for the copy written at `key`."""
    size, etag = _object_facts(body, size, etag)
    return {"Records": [_record(
        "ObjectCreated:Copy", bucket=bucket, key=key, size=size, etag=etag,
        version_id=version_id, region=region, time=time, principal_id=principal_id,
        source_ip=source_ip, configuration_id=configuration_id,
    )]}


def s3_delete(
    bucket: str = "example-bucket",
    key: str = "uploads/example.txt",
    *,
    version_id: str | None = None,
    delete_marker: bool = False,
    region: str = _aws.DEFAULT_REGION,
    time: datetime | None = None,
    principal_id: str | None = None,
    source_ip: str = "198.51.100.10",
    configuration_id: str = "pytest-lambda-notification",
) -> dict[str, Any]:
    """Return an `ObjectRemoved:Delete` notification (no size or eTag, as S3 sends it).

    `delete_marker=True` gives `ObjectRemoved:DeleteMarkerCreated`, the event of a delete in a
    versioned bucket; it carries the marker's version id.
    """
    if delete_marker and version_id is None:
        version_id = random_chars(32)
    name = "ObjectRemoved:DeleteMarkerCreated" if delete_marker else "ObjectRemoved:Delete"
    return {"Records": [_record(
        name, bucket=bucket, key=key, size=None, etag=None, version_id=version_id,
        region=region, time=time, principal_id=principal_id, source_ip=source_ip,
        configuration_id=configuration_id,
    )]}
