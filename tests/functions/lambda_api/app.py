"""Functions for the Lambda API tests: one that answers, one that fails, one that calls others
through boto3 (reaching the harness's Lambda API through AWS_ENDPOINT_URL_LAMBDA)."""

import json
import os


def echo(event, context):
    return {
        "event": event,
        "request_id": context.aws_request_id,
        "invoked_arn": context.invoked_function_arn,
        "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "endpoint": os.environ.get("AWS_ENDPOINT_URL_LAMBDA"),
        "initialization_type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
    }


def fail(event, context):
    raise ValueError(f"cannot process order {event.get('order')}")


def caller(event, context):
    import boto3

    client = boto3.client("lambda")
    answer = client.invoke(FunctionName=event["target"], Payload=json.dumps(event["payload"]))
    queued = client.invoke(FunctionName=event["target"], InvocationType="Event",
                           Payload=json.dumps({"async": True}))
    return {
        "status": answer["StatusCode"],
        "executed_version": answer["ExecutedVersion"],
        "payload": json.loads(answer["Payload"].read()),
        "event_status": queued["StatusCode"],
        "event_request_id": queued["ResponseMetadata"]["RequestId"],
    }
