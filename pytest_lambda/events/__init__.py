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

from collections.abc import Callable, Mapping
from typing import Any

from ._cli import batch_command
from ._cloudfront import cloudfront_origin_request, cloudfront_viewer_request
from ._cognito import (
    cognito_post_confirmation,
    cognito_pre_sign_up,
    cognito_pre_token_generation,
)
from ._common import EventError, InvalidProxyResponseError, records
from ._dynamodb import (
    dynamodb_insert,
    dynamodb_modify,
    dynamodb_remove,
    from_dynamodb_item,
    from_dynamodb_json,
    to_dynamodb_item,
    to_dynamodb_json,
)
from ._http import alb, api_gateway_http, api_gateway_rest, function_url
from ._messaging import md5_of_message_attributes, sns, sqs, sqs_batch
from ._responses import ProxyResponse, parse_proxy_response
from ._s3 import s3_copy, s3_delete, s3_put
from ._streams import (
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


#: The builders the command line offers, by name: `python -m pytest_lambda event <name>`.
BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "alb": alb,
    "api-gateway-http": api_gateway_http,
    "api-gateway-rest": api_gateway_rest,
    "cloudfront-origin-request": cloudfront_origin_request,
    "cloudfront-viewer-request": cloudfront_viewer_request,
    "cloudwatch-logs": cloudwatch_logs,
    "cognito-post-confirmation": cognito_post_confirmation,
    "cognito-pre-sign-up": cognito_pre_sign_up,
    "cognito-pre-token-generation": cognito_pre_token_generation,
    "dynamodb-insert": dynamodb_insert,
    "dynamodb-modify": dynamodb_modify,
    "dynamodb-remove": dynamodb_remove,
    "eventbridge": eventbridge,
    "function-url": function_url,
    "kinesis": kinesis,
    "kinesis-batch": batch_command(kinesis_batch, kinesis, "items"),
    "s3-copy": s3_copy,
    "s3-delete": s3_delete,
    "s3-put": s3_put,
    "scheduled": scheduled,
    "sns": sns,
    "sqs": sqs,
    "sqs-batch": batch_command(sqs_batch, sqs, "bodies", exclude=("message_id",)),
}

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
