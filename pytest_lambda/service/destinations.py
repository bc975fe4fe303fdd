"""Delivery of asynchronous invocation records to destinations and dead-letter queues.

Records go where Lambda sends them: an SQS queue (the record as the message body), an SNS topic
(the record as the message), an EventBridge bus (an event from source `lambda`, detail type
"Lambda Function Invocation Result - Success" or "- Failure"), or another Lambda function of the
service (invoked asynchronously with the record as its event). A dead-letter queue (SQS or SNS)
gets the original event with the attributes `RequestID`, `ErrorCode` and `ErrorMessage`.

SQS, SNS and EventBridge are reached through an AWS endpoint (the session's moto) with the
credentials given; boto3 is imported on first use.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pytest_lambda.service.asynchronous import (
    AsyncResult,
    Delivery,
    QueuedEvent,
    dead_letter_attributes,
)


@dataclass(frozen=True)
class AwsTarget:
    """An AWS endpoint and the credentials to use with it: where the Lambda API sends
    destination records and dead letters (`lambda_api_aws`, `LambdaAPI.use_aws`)."""

    url: str
    """The endpoint's URL, as the test process reaches it (`http://127.0.0.1:5000`)."""
    access_key_id: str = "testing"
    """The access key ID the records are signed with."""
    secret_access_key: str = "testing"
    """The secret access key the records are signed with."""
    session_token: str | None = None
    """The session token, for temporary credentials."""


#: Queues an event for a Lambda function destination: (function ARN, payload).
LambdaTarget = Callable[[str, bytes], None]


class Destinations:
    """Send invocation records and dead letters; remember nothing but the clients."""

    def __init__(self, invoke_function: LambdaTarget, endpoint: AwsTarget | None = None) -> None:
        self._invoke_function = invoke_function
        #: Where records go; None: `default_endpoint`'s answer, asked when a record is sent.
        self.endpoint = endpoint
        #: The session's own AWS endpoint, found (and started) on first need.
        self.default_endpoint: Callable[[], AwsTarget | None] | None = None
        self._clients: dict[tuple[str, str], Any] = {}
        self._queue_urls: dict[str, str] = {}
        self._clients_for: AwsTarget | None = endpoint
        self._lock = threading.Lock()

    def deliver(self, event: QueuedEvent, result: AsyncResult) -> tuple[Delivery, ...]:
        """Send `result`'s record to the destination its condition calls for, and a failed
        event to the dead-letter queue; return what went where."""
        config = event.config
        deliveries = []
        if result.ok:
            if config.on_success is not None:
                deliveries.append(self._send("on-success", config.on_success, result))
        else:
            if config.on_failure is not None:
                deliveries.append(self._send("on-failure", config.on_failure, result))
            if config.dead_letter is not None:
                deliveries.append(self._dead_letter(config.dead_letter, event))
        return tuple(deliveries)

    def _send(self, kind: Any, arn: str, result: AsyncResult) -> Delivery:
        body = json.dumps(result.record)
        try:
            service, region = _service_of(arn)
            if service == "lambda":
                self._invoke_function(arn, body.encode())
            elif service == "sqs":
                self._client("sqs", region).send_message(QueueUrl=self._queue_url(arn, region),
                                                          MessageBody=body)
            elif service == "sns":
                self._client("sns", region).publish(TopicArn=arn, Message=body)
            else:
                outcome = "Success" if result.ok else "Failure"
                answer = self._client("events", region).put_events(Entries=[{
                    "Source": "lambda",
                    "DetailType": f"Lambda Function Invocation Result - {outcome}",
                    "Detail": body,
                    "EventBusName": arn,
                    "Resources": [arn, result.record["requestContext"]["functionArn"]],
                }])
                if answer.get("FailedEntryCount"):
                    raise RuntimeError(f"PutEvents refused the record: {answer['Entries']}")
        except Exception as exc:
            return Delivery(kind, arn, _why(exc))
        return Delivery(kind, arn)

    def _dead_letter(self, arn: str, event: QueuedEvent) -> Delivery:
        attributes = dead_letter_attributes(event)
        body = event.payload.decode(errors="replace")
        try:
            service, region = _service_of(arn)
            if service == "sqs":
                self._client("sqs", region).send_message(
                    QueueUrl=self._queue_url(arn, region), MessageBody=body,
                    MessageAttributes={k: {"DataType": t, "StringValue": v}
                                       for k, (t, v) in attributes.items()},
                )
            elif service == "sns":
                self._client("sns", region).publish(
                    TopicArn=arn, Message=body,
                    MessageAttributes={k: {"DataType": t, "StringValue": v}
                                       for k, (t, v) in attributes.items()},
                )
            else:
                raise ValueError("a dead-letter queue is an SQS queue or an SNS topic")
        except Exception as exc:
            return Delivery("dead-letter", arn, _why(exc))
        return Delivery("dead-letter", arn)

    def _queue_url(self, arn: str, region: str) -> str:
        with self._lock:
            known = self._queue_urls.get(arn)
        if known is not None:
            return known
        parts = arn.split(":")
        answer = self._client("sqs", region).get_queue_url(QueueName=parts[5],
                                                            QueueOwnerAWSAccountId=parts[4])
        with self._lock:
            url = self._queue_urls[arn] = str(answer["QueueUrl"])
        return url

    def _client(self, service: str, region: str) -> Any:
        endpoint = self.endpoint
        if endpoint is None and self.default_endpoint is not None:
            endpoint = self.default_endpoint()
        if endpoint is not self._clients_for:
            with self._lock:  # another endpoint: other clients, other queues
                self._clients.clear()
                self._queue_urls.clear()
                self._clients_for = endpoint
        if endpoint is None:
            raise RuntimeError(
                "no AWS endpoint (--lambda-aws=off): give the Lambda API one "
                "(LambdaAPI(aws=AwsTarget(url)), or the lambda_api_aws fixture) so that records "
                "can reach SQS, SNS or EventBridge"
            )
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                import boto3
                from botocore.config import Config

                client = boto3.session.Session().client(
                    service, region_name=region, endpoint_url=endpoint.url,
                    aws_access_key_id=endpoint.access_key_id,
                    aws_secret_access_key=endpoint.secret_access_key,
                    aws_session_token=endpoint.session_token,
                    config=Config(retries={"max_attempts": 2, "mode": "standard"}),
                )
                self._clients[(service, region)] = client
            return client


def _service_of(arn: str) -> tuple[str, str]:
    parts = arn.split(":")
    return parts[2], parts[3]


def _why(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"
