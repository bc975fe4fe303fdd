"""Handlers for the Runtime API parity tests: a huge exception, and what a trace id gives."""

import os


def raise_huge(event, context):
    # awslambdaric sends the X-Ray error cause (with this message) in a request header.
    raise ValueError("x" * event.get("length", 100_000))


def trace(event, context):
    result = {"env": os.environ.get("_X_AMZN_TRACE_ID")}
    if event.get("powertools"):
        import io
        import json

        from aws_lambda_powertools import Logger

        stream = io.StringIO()
        logger = Logger(service="parity", logger_handler=None, stream=stream)
        logger.info("traced")
        result["logger"] = json.loads(stream.getvalue().splitlines()[-1])
    return result


def handler(event, context):
    return {"request_id": context.aws_request_id}
