"""Build the events AWS services send to Lambda functions, as plain dicts.

Each builder returns an event exactly as the service delivers it, with keyword parameters for
what a test varies and realistic defaults for the rest: region `us-east-1`, account
`123456789012`, consistent ARNs, the current time (frozen under freezegun) and fresh ids on
every call. A value AWS would never send raises `EventError`.

    from pytest_lambda import events

    event = events.s3_put(bucket="uploads", key="photos/cat.jpg", size=1024)
    event = events.api_gateway_rest("POST", "/orders", body={"sku": "A1"})

`python -m pytest_lambda event <name> [--param value ...]` prints the same events as JSON.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pytest_lambda.events._cli import BUILDERS
from pytest_lambda.events._cloudfront import cloudfront_origin_request, cloudfront_viewer_request
from pytest_lambda.events._cognito import (
    cognito_post_confirmation,
    cognito_pre_sign_up,
    cognito_pre_token_generation,
)
from pytest_lambda.events._common import EventError, InvalidProxyResponseError, records
from pytest_lambda.events._dynamodb import (
    dynamodb_insert,
    dynamodb_modify,
    dynamodb_remove,
    from_dynamodb_item,
    from_dynamodb_json,
    to_dynamodb_item,
    to_dynamodb_json,
)
from pytest_lambda.events._http import alb, api_gateway_http, api_gateway_rest, function_url
from pytest_lambda.events._messaging import md5_of_message_attributes, sns, sqs, sqs_batch
from pytest_lambda.events._responses import ProxyResponse, parse_proxy_response
from pytest_lambda.events._s3 import s3_copy, s3_delete, s3_put
from pytest_lambda.events._streams import (
    cloudwatch_logs,
    decode_cloudwatch_logs,
    eventbridge,
    kinesis,
    kinesis_batch,
    scheduled,
)


def batch(*events: Mapping[str, Any]) -> dict[str, Any]:
    """Return one event holding the `Records` of all `events`, in order.

    For sources that batch records (S3, SQS, SNS, DynamoDB Streams, Kinesis):
    `batch(s3_put(key="a"), s3_delete(key="b"))`. The records must come from one source.
    """
    items = records(events)
    if not items:
        raise EventError("batch() needs at least one event with records.")
    sources = {
        record.get("eventSource") or record.get("EventSource") for record in items
    }
    if len(sources) > 1:
        raise EventError(
            f"batch() got records of several sources ({', '.join(sorted(map(str, sources)))}); "
            f"Lambda delivers one source per event."
        )
    return {"Records": items}



__all__ = [
    "BUILDERS",
    "EventError",
    "InvalidProxyResponseError",
    "ProxyResponse",
    "alb",
    "api_gateway_http",
    "api_gateway_rest",
    "batch",
    "cloudfront_origin_request",
    "cloudfront_viewer_request",
    "cloudwatch_logs",
    "cognito_post_confirmation",
    "cognito_pre_sign_up",
    "cognito_pre_token_generation",
    "decode_cloudwatch_logs",
    "dynamodb_insert",
    "dynamodb_modify",
    "dynamodb_remove",
    "eventbridge",
    "from_dynamodb_item",
    "from_dynamodb_json",
    "function_url",
    "kinesis",
    "kinesis_batch",
    "md5_of_message_attributes",
    "parse_proxy_response",
    "s3_copy",
    "s3_delete",
    "s3_put",
    "scheduled",
    "sns",
    "sqs",
    "sqs_batch",
    "to_dynamodb_item",
    "to_dynamodb_json",
]
