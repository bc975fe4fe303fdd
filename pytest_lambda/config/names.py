"""The account, region and names the harness uses when a test does not say."""

from __future__ import annotations

import re
import secrets
import time

from pytest_lambda.system import clock as _clock

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


_TRACE_ID_RE = re.compile(r"^Root=1-[0-9a-f]{8}-[0-9a-f]{24}(;[A-Za-z]+=[^;=\s]+)*$")


def new_trace_id(now: float | None = None) -> str:
    """Return a X-Ray trace header in Lambda's form, `Root=1-<epoch>-<id>;Parent=..;Sampled=0`.

    Lambda gives every invocation one (the runtime reads it from `Lambda-Runtime-Trace-Id` and
    sets `_X_AMZN_TRACE_ID`); not sampled, because no X-Ray daemon listens here.
    """
    epoch = int(_clock.wall() if now is None else now)
    return f"Root=1-{epoch:08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"


def validate_trace_id(value: object) -> str:
    """Return `value` if it is an X-Ray trace header Lambda would pass on, else raise ValueError."""
    if not isinstance(value, str) or not _TRACE_ID_RE.match(value):
        raise ValueError(
            f"trace_id={value!r} is not an X-Ray trace header: pass one like "
            f"'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0', or "
            f"None for a new one."
        )
    return value
