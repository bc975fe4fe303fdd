"""SQS and SNS events, and SQS's message-attribute checksum."""

from __future__ import annotations

import hashlib
import itertools
import secrets
import struct
import time as _time
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from pytest_lambda.config import names as _aws
from pytest_lambda.events._common import (
    EventError,
    b64,
    epoch_millis,
    iso_millis,
    json_text,
    new_uuid,
    now,
    upper_alnum,
)

#: A message attribute: a str (String), a number (Number), bytes (Binary), or boto3's form
#: `{"DataType": ..., "StringValue": ...}` / `{"DataType": ..., "BinaryValue": b"..."}`.
AttributeValue = str | int | float | Decimal | bytes | Mapping[str, Any]

_fifo_sequence = itertools.count(int(_time.time() * 1000) * 10**6)


def _message_text(body: Any, what: str) -> str:
    if isinstance(body, str):
        return body
    if isinstance(body, (Mapping, list, tuple)):
        return json_text(body, what)
    raise EventError(f"{what} must be a string, or a dict or list to send as JSON, not {body!r}.")


def _sqs_attribute(name: str, value: AttributeValue) -> dict[str, Any]:
    """Return one message attribute in the shape Lambda's SQS event carries."""
    if isinstance(value, Mapping):
        data_type = value.get("DataType")
        if not isinstance(data_type, str) or data_type.split(".")[0] not in (
            "String", "Number", "Binary"
        ):
            raise EventError(
                f"message attribute {name!r} needs a DataType of String, Number or Binary "
                f"(optionally with a .suffix), not {data_type!r}."
            )
        if data_type.startswith("Binary"):
            binary = value.get("BinaryValue")
            if not isinstance(binary, bytes):
                raise EventError(
                    f"message attribute {name!r} of type Binary needs BinaryValue bytes."
                )
            return {"binaryValue": b64(binary), "stringListValues": [], "binaryListValues": [],
                    "dataType": data_type}
        text = value.get("StringValue")
        if not isinstance(text, str):
            raise EventError(f"message attribute {name!r} of type {data_type} needs a StringValue.")
        return {"stringValue": text, "stringListValues": [], "binaryListValues": [],
                "dataType": data_type}
    if isinstance(value, bool):
        raise EventError(
            f"message attribute {name!r} is a bool, which SQS has no type for: pass 'true' or 1."
        )
    if isinstance(value, str):
        return _sqs_attribute(name, {"DataType": "String", "StringValue": value})
    if isinstance(value, (int, float, Decimal)):
        return _sqs_attribute(name, {"DataType": "Number", "StringValue": str(value)})
    if isinstance(value, bytes):
        return _sqs_attribute(name, {"DataType": "Binary", "BinaryValue": value})
    raise EventError(
        f"message attribute {name!r} must be a str, a number, bytes or a DataType dict, "
        f"not {type(value).__name__}."
    )


def md5_of_message_attributes(attributes: Mapping[str, Mapping[str, Any]]) -> str:
    """Return SQS's MD5 digest of message attributes, given in the SQS event's shape.

    This is AWS's documented algorithm: for each attribute in name order, the name, the data
    type and the value, each preceded by its 4-byte big-endian length, with a transport byte
    (1 for String and Number, 2 for Binary) before the value.
    """
    import base64

    digest = hashlib.md5()
    for name in sorted(attributes):
        attribute = attributes[name]
        data_type = attribute["dataType"]
        for part in (name.encode(), data_type.encode()):
            digest.update(struct.pack(">I", len(part)) + part)
        if data_type.startswith("Binary"):
            value = base64.b64decode(attribute["binaryValue"])
            digest.update(b"\x02")
        else:
            value = attribute["stringValue"].encode()
            digest.update(b"\x01")
        digest.update(struct.pack(">I", len(value)) + value)
    return digest.hexdigest()


def sqs(
    body: str | Mapping[str, Any] | Sequence[Any] = "Hello from SQS!",
    *,
    queue: str = "example-queue",
    message_attributes: Mapping[str, AttributeValue] | None = None,
    message_group_id: str | None = None,
    message_deduplication_id: str | None = None,
    message_id: str | None = None,
    receive_count: int = 1,
    time: datetime | None = None,
    sender_id: str | None = None,
    trace_header: str | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return an SQS event with one message; a dict or list `body` is sent as JSON.

    A `queue` whose name ends in `.fifo` gives FIFO fields: `MessageGroupId` (default
    `"default"`), `MessageDeduplicationId` (default the body's SHA-256, as content-based
    deduplication makes it) and a growing `SequenceNumber`. `md5OfBody` and, with attributes,
    `md5OfMessageAttributes` are computed as SQS computes them.
    """
    text = _message_text(body, "body")
    fifo = queue.endswith(".fifo")
    if not fifo and message_deduplication_id is not None:
        raise EventError(
            f"message_deduplication_id applies to FIFO queues only: name the queue "
            f"'{queue}.fifo' or drop it."
        )
    if isinstance(receive_count, bool) or not isinstance(receive_count, int) or receive_count < 1:
        raise EventError(
            f"receive_count must be a whole number of 1 or more, not {receive_count!r}."
        )
    sent = now(time)
    attributes: dict[str, str] = {
        "ApproximateReceiveCount": str(receive_count),
        "SentTimestamp": str(epoch_millis(sent)),
        "SenderId": sender_id or f"AIDA{upper_alnum(17)}",
        "ApproximateFirstReceiveTimestamp": str(epoch_millis(sent + timedelta(milliseconds=12))),
    }
    if trace_header is not None:
        attributes["AWSTraceHeader"] = trace_header
    if fifo:
        attributes["SequenceNumber"] = str(next(_fifo_sequence))
        attributes["MessageGroupId"] = message_group_id or "default"
        attributes["MessageDeduplicationId"] = (
            message_deduplication_id or hashlib.sha256(text.encode()).hexdigest()
        )
    elif message_group_id is not None:
        attributes["MessageGroupId"] = message_group_id  # fair queues take a group id too
    message_attrs = {
        name: _sqs_attribute(name, value) for name, value in (message_attributes or {}).items()
    }
    record: dict[str, Any] = {
        "messageId": message_id or new_uuid(),
        "receiptHandle": "AQEB" + b64(secrets.token_bytes(150)),
        "body": text,
        "attributes": attributes,
        "messageAttributes": message_attrs,
        "md5OfBody": hashlib.md5(text.encode()).hexdigest(),
    }
    if message_attrs:
        record["md5OfMessageAttributes"] = md5_of_message_attributes(message_attrs)
    record.update({
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:{region}:{account_id}:{queue}",
        "awsRegion": region,
    })
    return {"Records": [record]}


def sqs_batch(
    bodies: Sequence[str | Mapping[str, Any] | Sequence[Any]], **options: Any
) -> dict[str, Any]:
    """Return an SQS event with one message per body, all sharing `options` (as for `sqs`)."""
    if isinstance(bodies, (str, bytes)) or not bodies:
        raise EventError("bodies must be a non-empty list of message bodies.")
    if "message_id" in options:
        raise EventError("message_id names one message: build messages with sqs() and batch().")
    return {"Records": [sqs(body, **options)["Records"][0] for body in bodies]}


def _sns_attribute(name: str, value: Any) -> dict[str, str]:
    if isinstance(value, bool):
        raise EventError(f"message attribute {name!r} is a bool: pass 'true' or 1.")
    if isinstance(value, str):
        return {"Type": "String", "Value": value}
    if isinstance(value, (int, float, Decimal)):
        return {"Type": "Number", "Value": str(value)}
    if isinstance(value, bytes):
        return {"Type": "Binary", "Value": b64(value)}
    if isinstance(value, (list, tuple)):
        return {"Type": "String.Array", "Value": json_text(list(value), f"attribute {name!r}")}
    raise EventError(
        f"message attribute {name!r} must be a str, number, bytes or list, "
        f"not {type(value).__name__}."
    )


def sns(
    message: str | Mapping[str, Any] | Sequence[Any] = "Hello from SNS!",
    *,
    subject: str | None = None,
    topic: str = "example-topic",
    message_attributes: Mapping[str, Any] | None = None,
    message_id: str | None = None,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return an SNS notification event; a dict or list `message` is sent as JSON.

    Message attributes map str to String, numbers to Number, bytes to Binary (base64) and a
    list to String.Array.
    """
    topic_arn = f"arn:aws:sns:{region}:{account_id}:{topic}"
    subscription_arn = f"{topic_arn}:{new_uuid()}"
    return {"Records": [{
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription_arn,
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id or new_uuid(),
            "TopicArn": topic_arn,
            "Subject": subject,
            "Message": _message_text(message, "message"),
            "Timestamp": iso_millis(now(time)),
            "SignatureVersion": "1",
            "Signature": b64(secrets.token_bytes(256)),
            "SigningCertUrl": (
                f"https://sns.{region}.amazonaws.com/SimpleNotificationService-"
                f"{secrets.token_hex(16)}.pem"
            ),
            "UnsubscribeUrl": (
                f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                f"{subscription_arn}"
            ),
            "MessageAttributes": {
                name: _sns_attribute(name, value)
                for name, value in (message_attributes or {}).items()
            },
        },
    }]}
