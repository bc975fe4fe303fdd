"""Kinesis, CloudWatch Logs subscription and EventBridge events."""

from __future__ import annotations

import base64
import gzip
import itertools
import json
import time as _time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pytest_lambda.config import names as _aws
from pytest_lambda.events._common import (
    EventError,
    b64,
    epoch_millis,
    iso_seconds,
    new_uuid,
    now,
    to_bytes,
)

_kinesis_sequence = itertools.count(49590338271490256608559692538361571095921575989136588898)
_log_event_id = itertools.count(int(_time.time() * 1000) * 10**40)

KinesisData = str | bytes | Mapping[str, Any] | Sequence[Any]


def _kinesis_record(
    data: KinesisData, *, partition_key: str, stream: str, shard_id: str,
    time: datetime | None, region: str, account_id: str,
) -> dict[str, Any]:
    sequence = str(next(_kinesis_sequence))
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": partition_key,
            "sequenceNumber": sequence,
            "data": b64(to_bytes(data, "data")),
            "approximateArrivalTimestamp": round(now(time).timestamp(), 3),
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{sequence}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{account_id}:role/example-function-role",
        "awsRegion": region,
        "eventSourceARN": f"arn:aws:kinesis:{region}:{account_id}:stream/{stream}",
    }


def kinesis(
    data: KinesisData = "Hello from Kinesis!",
    *,
    partition_key: str = "partition-1",
    stream: str = "example-stream",
    shard_id: str = "shardId-000000000000",
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return a Kinesis Data Streams event with one record.

    `data` is base64-encoded into the record: text as UTF-8, bytes as they are, a dict or a
    list as JSON. Sequence numbers grow from record to record.
    """
    return {"Records": [_kinesis_record(
        data, partition_key=partition_key, stream=stream, shard_id=shard_id, time=time,
        region=region, account_id=account_id,
    )]}


def kinesis_batch(items: Sequence[KinesisData], **options: Any) -> dict[str, Any]:
    """Return a Kinesis event with one record per item, all sharing `options` (as for kinesis)."""
    if isinstance(items, (str, bytes)) or not items:
        raise EventError("items must be a non-empty list of record payloads.")
    return {"Records": [kinesis(item, **options)["Records"][0] for item in items]}


def cloudwatch_logs(
    messages: str | Sequence[str] = ("Hello from CloudWatch Logs!",),
    *,
    log_group: str = "/aws/lambda/example-function",
    log_stream: str | None = None,
    subscription_filter: str = "example-filter",
    time: datetime | None = None,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return a CloudWatch Logs subscription event: `awslogs.data` is gzip + base64 JSON.

    Each message becomes one log event, one millisecond after the previous.
    `decode_cloudwatch_logs(event)` returns the decoded document.
    """
    if isinstance(messages, str):
        messages = [messages]
    if not messages or not all(isinstance(m, str) for m in messages):
        raise EventError("messages must be a string or a non-empty list of strings.")
    start = epoch_millis(now(time))
    document = {
        "messageType": "DATA_MESSAGE",
        "owner": account_id,
        "logGroup": log_group,
        "logStream": log_stream or _aws.log_stream_name(start / 1000),
        "subscriptionFilters": [subscription_filter],
        "logEvents": [
            {"id": str(next(_log_event_id)), "timestamp": start + offset, "message": message}
            for offset, message in enumerate(messages)
        ],
    }
    data = gzip.compress(json.dumps(document, separators=(",", ":")).encode(), mtime=0)
    return {"awslogs": {"data": b64(data)}}


def decode_cloudwatch_logs(event: Mapping[str, Any]) -> dict[str, Any]:
    """Return the document inside a CloudWatch Logs subscription event (gunzipped, parsed)."""
    try:
        data = event["awslogs"]["data"]
        return json.loads(gzip.decompress(base64.b64decode(data, validate=True)))  # type: ignore[no-any-return]
    except (KeyError, TypeError, ValueError, OSError, EOFError) as exc:
        raise EventError(
            f"Not a CloudWatch Logs subscription event (awslogs.data must be gzip + base64 "
            f"JSON): {exc}."
        ) from None


def eventbridge(
    detail: Mapping[str, Any] | None = None,
    *,
    detail_type: str = "Example Event",
    source: str = "com.example.app",
    resources: Sequence[str] = (),
    event_id: str | None = None,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return a custom EventBridge event, as a rule delivers it to a Lambda target."""
    if detail is not None and not isinstance(detail, Mapping):
        raise EventError(f"detail must be a dict, not {type(detail).__name__}.")
    if isinstance(resources, str) or not all(isinstance(r, str) for r in resources):
        raise EventError("resources must be a list of ARNs.")
    return {
        "version": "0",
        "id": event_id or new_uuid(),
        "detail-type": detail_type,
        "source": source,
        "account": account_id,
        "time": iso_seconds(now(time)),
        "region": region,
        "resources": list(resources),
        "detail": dict(detail) if detail is not None else {},
    }


def scheduled(
    *,
    rule: str = "example-schedule",
    event_id: str | None = None,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return the event an EventBridge schedule rule (`rate(...)` / `cron(...)`) sends."""
    return eventbridge(
        {}, detail_type="Scheduled Event", source="aws.events",
        resources=[f"arn:aws:events:{region}:{account_id}:rule/{rule}"], event_id=event_id,
        time=time, region=region, account_id=account_id,
    )
