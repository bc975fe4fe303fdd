"""The exceptions the harness raises.

Function errors (a handler that raises, times out or crashes) are never raised: they are data on
the `InvokeResult`. Exceptions here are for misuse (bad configuration), for errors of the Invoke
operation itself (what Lambda's Invoke API would answer with an error code), and for trouble in the
harness's own infrastructure (no Docker engine, an image that does not build).
"""

from __future__ import annotations


class LambdaHarnessError(Exception):
    """Base class of every exception pytest-aws-lambda raises.

    Its message never carries a URL's password: a mirror or engine URL quoted in it (or in a
    tool's output it quotes) shows `user:***@` instead.
    """

    def __init__(self, *args: object) -> None:
        from pytest_lambda.system.redact import redact

        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ConfigurationError(LambdaHarnessError, ValueError):
    """A function's configuration is one Lambda would refuse, or the harness cannot honour."""


class InvokeError(LambdaHarnessError):
    """The Invoke operation itself failed; `.error_type` is Lambda's error code."""

    error_type: str = "ServiceException"
    status_code: int = 500

    def __init__(self, message: str, *, error_type: str | None = None) -> None:
        super().__init__(message)
        if error_type is not None:
            self.error_type = error_type

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else ""


class InvalidRequestContentException(InvokeError):
    """The request body is not valid JSON (Lambda answers 400)."""

    error_type = "InvalidRequestContentException"
    status_code = 400


class RequestTooLargeException(InvokeError):
    """The synchronous request payload is over Lambda's 6,291,456-byte limit (413)."""

    error_type = "RequestTooLargeException"
    status_code = 413


class BackendUnavailableError(LambdaHarnessError):
    """The requested execution backend cannot run here (for example, no Docker engine answers)."""


class EnvironmentStartError(LambdaHarnessError):
    """An execution environment (container or process) could not be started."""


class ImageBuildError(LambdaHarnessError):
    """A runtime image could not be built."""


class AwsEndpointError(LambdaHarnessError):
    """The session's AWS endpoint (moto, or the URL `--lambda-aws` names) cannot serve."""


class ResourceNotFoundException(InvokeError):
    """No function (or version, or alias) by that name (Lambda answers 404)."""

    error_type = "ResourceNotFoundException"
    status_code = 404


class InvalidParameterValueException(InvokeError):
    """A parameter of the request is not one Lambda accepts (400)."""

    error_type = "InvalidParameterValueException"
    status_code = 400


class ValidationException(InvokeError):
    """A parameter fails the operation's constraints (pattern, length, enum) (400)."""

    error_type = "ValidationException"
    status_code = 400


class ResourceConflictException(InvokeError):
    """The resource already exists, or is in use (409)."""

    error_type = "ResourceConflictException"
    status_code = 409


class TooManyRequestsException(InvokeError):
    """The invocation was throttled (429).

    `.reason` says which limit, as Lambda's `Reason` (for example
    `ReservedFunctionConcurrentInvocationLimitExceeded`); `.limit` is the reserved concurrency
    that throttled it, when that was the reason, else None.
    """

    error_type = "TooManyRequestsException"
    status_code = 429

    def __init__(self, message: str, *, reason: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit = limit


class AsyncTimeoutError(LambdaHarnessError, TimeoutError):
    """Asynchronous events were still queued or running when `wait_for_async` gave up."""
