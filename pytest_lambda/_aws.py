"""The account, region and names the harness uses when a test does not say."""

from __future__ import annotations

import secrets
import time

from . import _clock

DEFAULT_REGION = "us-east-1"
DEFAULT_ACCOUNT_ID = "123456789012"
DEFAULT_FUNCTION_NAME = "test-function"


def function_arn(
    name: str,
    region: str = DEFAULT_REGION,
    account: str = DEFAULT_ACCOUNT_ID,
    qualifier: str | None = None,
) -> str:
    """Return the ARN of function `name`, ending in `:qualifier` when one is given."""
    arn = f"arn:aws:lambda:{region}:{account}:function:{name}"
    return arn if qualifier is None else f"{arn}:{qualifier}"


def log_group_name(function_name: str) -> str:
    """Return the CloudWatch log group Lambda writes a function's logs to."""
    return f"/aws/lambda/{function_name}"


def log_stream_name(now: float | None = None, version: str = "$LATEST") -> str:
    """Return a fresh log stream name in Lambda's shape, `YYYY/MM/DD/[$LATEST]<32 hex>`.

    The date is today's (UTC, real time unless `now` is given, in seconds since the epoch).
    """
    day = time.strftime("%Y/%m/%d", time.gmtime(_clock.wall() if now is None else now))
    return f"{day}/[{version}]{secrets.token_hex(16)}"
