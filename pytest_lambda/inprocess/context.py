"""The context object a handler receives, with the real Python runtime's attributes and types.

`LambdaContext` mirrors `awslambdaric`'s context: `memory_limit_in_mb` is a string, `identity` is
always an object, `client_context` is None unless a client context was given, and
`get_remaining_time_in_millis()` counts down to a deadline fixed when the context is made.

The countdown reads `time.time()` at each call, as the real runtime does, so under freezegun it
follows the frozen clock: a test that ticks the clock by a second sees a second less remaining.
The harness's own deadline enforcement never reads this countdown; it keeps real time.
"""

from __future__ import annotations

import logging
import sys
import time
import uuid
from collections.abc import Mapping
from typing import Any

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws

#: The W3C trace-context fields the real runtime surfaces through `LambdaContext.w3c()`.
W3C_FIELDS = ("traceparent", "tracestate", "baggage")


class CognitoIdentity:
    """The Amazon Cognito identity that invoked the function (both ids None when there is none)."""

    __slots__ = ("cognito_identity_id", "cognito_identity_pool_id")

    def __init__(
        self, cognito_identity_id: str | None = None, cognito_identity_pool_id: str | None = None
    ) -> None:
        self.cognito_identity_id = cognito_identity_id
        self.cognito_identity_pool_id = cognito_identity_pool_id

    def __repr__(self) -> str:
        return (
            f"CognitoIdentity([cognito_identity_id={self.cognito_identity_id},"
            f"cognito_identity_pool_id={self.cognito_identity_pool_id}])"
        )


class Client:
    """The mobile client application that invoked the function."""

    __slots__ = (
        "installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name",
    )
    installation_id: str | None
    app_title: str | None
    app_version_name: str | None
    app_version_code: str | None
    app_package_name: str | None

    def __init__(self, fields: Mapping[str, Any]) -> None:
        for name in self.__slots__:
            setattr(self, name, fields.get(name))

    def __repr__(self) -> str:
        inner = ",".join(f"{name}={getattr(self, name)}" for name in self.__slots__)
        return f"Client([{inner}])"


class ClientContext:
    """The client context of the invocation: `client`, `custom` and `env`."""

    __slots__ = ("custom", "env", "client")

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self.custom: Any = fields.get("custom")
        self.env: Any = fields.get("env")
        client = fields.get("client")
        self.client: Client | None = Client(client) if isinstance(client, Mapping) else None

    def __repr__(self) -> str:
        return f"ClientContext([custom={self.custom},env={self.env},client={self.client}])"


class LambdaContext:
    """A Lambda context object, as the Python runtime passes it to a handler.

    Every argument has a realistic default: `aws_request_id` is a fresh UUID for each context,
    the ARN, log group and log stream follow from the function name, region and account, and
    the deadline is `timeout` seconds from now. `memory_limit_in_mb` may be given as an int but
    is stored as a string, as the real runtime has it. `identity` takes the Invoke API's
    `{"cognitoIdentityId": ..., "cognitoIdentityPoolId": ...}`; `client_context` takes
    `{"client": {...}, "custom": {...}, "env": {...}}` (a `w3c` key feeds `w3c()`).
    """

    def __init__(
        self,
        *,
        function_name: str = _aws.DEFAULT_FUNCTION_NAME,
        function_version: str = "$LATEST",
        memory_limit_in_mb: int | str = _limits.MEMORY_DEFAULT_MB,
        timeout: float = _limits.TIMEOUT_DEFAULT_S,
        aws_request_id: str | None = None,
        region: str = _aws.DEFAULT_REGION,
        account_id: str = _aws.DEFAULT_ACCOUNT_ID,
        invoked_function_arn: str | None = None,
        log_group_name: str | None = None,
        log_stream_name: str | None = None,
        identity: Mapping[str, Any] | None = None,
        client_context: Mapping[str, Any] | None = None,
        tenant_id: str | None = None,
    ) -> None:
        self.function_name = function_name
        self.function_version = function_version
        self.memory_limit_in_mb = str(memory_limit_in_mb)
        self.aws_request_id = aws_request_id if aws_request_id is not None else str(uuid.uuid4())
        self.invoked_function_arn = (
            invoked_function_arn
            if invoked_function_arn is not None
            else _aws.function_arn(function_name, region, account_id)
        )
        self.log_group_name = (
            log_group_name if log_group_name is not None else _aws.log_group_name(function_name)
        )
        self.log_stream_name = (
            log_stream_name if log_stream_name is not None else _aws.log_stream_name()
        )
        self.tenant_id = tenant_id
        ids = identity or {}
        self.identity = CognitoIdentity(
            ids.get("cognitoIdentityId"), ids.get("cognitoIdentityPoolId")
        )
        self._w3c: dict[str, str] = {}
        self.client_context: ClientContext | None = None
        if client_context is not None:
            fields = dict(client_context)
            w3c = fields.pop("w3c", None)
            if isinstance(w3c, Mapping):
                self._w3c = {k: w3c[k] for k in W3C_FIELDS if isinstance(w3c.get(k), str)}
            self.client_context = ClientContext(fields)
        self._deadline_ms = int(time.time() * 1000) + int(timeout * 1000)

    @property
    def deadline_ms(self) -> int:
        """The deadline, in milliseconds since the epoch (Lambda-Runtime-Deadline-Ms)."""
        return self._deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        """Return the milliseconds left before the deadline, never less than 0."""
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def w3c(self) -> dict[str, str]:
        """Return the W3C trace context (traceparent, tracestate, baggage) of the invocation."""
        return dict(self._w3c)

    def log(self, msg: object) -> None:
        """Write `msg` to the function's log, as `context.log()` does in the real runtime."""
        for handler in logging.getLogger().handlers:
            sink = getattr(handler, "log_sink", None)
            if sink is not None:
                sink.log(str(msg))
                return
        sys.stdout.write(str(msg))

    def __repr__(self) -> str:
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"log_group_name={self.log_group_name},"
            f"log_stream_name={self.log_stream_name},"
            f"function_name={self.function_name},"
            f"memory_limit_in_mb={self.memory_limit_in_mb},"
            f"function_version={self.function_version},"
            f"invoked_function_arn={self.invoked_function_arn},"
            f"client_context={self.client_context},"
            f"identity={self.identity},"
            f"tenant_id={self.tenant_id}])"
        )
