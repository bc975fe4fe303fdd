"""`Function`: the handle `lambda_function(...)` and `LambdaService.function(...)` return, and
`FunctionFactory`: the type of the `lambda_function` fixture."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.arch import Architecture
from pytest_lambda.config.function import NetworkMode
from pytest_lambda.config.packaging import Layer
from pytest_lambda.config.runtimes import RuntimeName
from pytest_lambda.config.settings import BackendName
from pytest_lambda.service import observe as _observe

if TYPE_CHECKING:
    from pytest_lambda.config.function import FunctionConfig
    from pytest_lambda.result import InvokeResult
    from pytest_lambda.service.control import ControlPlane


class Function:
    """A configured Lambda function, invoked in execution environments of one backend.

    Functions with identical configuration and code share warm environments across tests within
    the pytest session, as Lambda reuses an execution environment across invocations.
    """

    def __init__(self, service: ControlPlane, config: FunctionConfig, backend: str) -> None:
        self._service = service
        self.config = config
        self.backend = backend

    @property
    def name(self) -> str:
        """The function's name (`AWS_LAMBDA_FUNCTION_NAME` inside the environment)."""
        return self.config.name

    @property
    def arn(self) -> str:
        """The function's ARN, in the region and account the environment reports."""
        return self.config.arn

    def invoke(
        self, event: Any = None, *, client_context: dict[str, Any] | None = None,
        trace_id: str | None = None,
    ) -> InvokeResult:
        """Invoke the function synchronously (RequestResponse) and return the result.

        `event` is any JSON-serialisable value, or bytes sent as they are. `client_context` is a
        dict the function sees as `context.client_context`. `trace_id` is the X-Ray trace header
        the runtime gets (`Lambda-Runtime-Trace-Id`, `_X_AMZN_TRACE_ID` in the function), in
        Lambda's form `Root=1-...;Parent=...;Sampled=0`; by default each call gets a new one.
        Function errors (exceptions,
        timeouts, crashes) are on the result; errors of the Invoke operation itself raise an
        `InvokeError` subclass.
        """
        _observe.invoking(self)
        result = self._service.invoke(
            self.config, event, backend=self.backend, client_context=client_context,
            trace_id=trace_id,
        )
        _observe.invoked(self.name, self.backend, result)
        return result

    def reset(self) -> None:
        """Discard the function's warm environments: the next invocation is a cold start."""
        self._service.reset(self.config, self.backend)

    def __repr__(self) -> str:
        config = self.config
        what = (f"image {config.image.reference}" if config.image is not None
                else f"{config.runtime_name} {config.handler}")
        return f"<Function {self.name} {what} on {self.backend}>"


class FunctionFactory(Protocol):
    """The `lambda_function` fixture: makes a `Function` (see `LambdaService.function`, which
    takes the same arguments)."""

    def __call__(
        self,
        handler: str | None = None,
        *,
        code: str | PathLike[str] | None = None,
        runtime: RuntimeName | None = None,
        image: str | None = None,
        command: Sequence[str] | None = None,
        entry_point: Sequence[str] | None = None,
        working_directory: str | None = None,
        architecture: Architecture | None = None,
        memory_size: int = _limits.MEMORY_DEFAULT_MB,
        timeout: int = _limits.TIMEOUT_DEFAULT_S,
        ephemeral_storage: int = _limits.EPHEMERAL_STORAGE_DEFAULT_MB,
        environment: Mapping[str, str] | None = None,
        name: str | None = None,
        region: str = _aws.DEFAULT_REGION,
        account_id: str = _aws.DEFAULT_ACCOUNT_ID,
        layers: Sequence[str | PathLike[str] | Layer] | None = None,
        requirements: str | PathLike[str] | Literal[True] | None = None,
        network: NetworkMode = "isolated",
        backend: BackendName | None = None,
        debug_port: int | None = None,
    ) -> Function: ...
