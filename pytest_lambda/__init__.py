"""pytest-aws-lambda: run AWS Lambda functions in Lambda-shaped execution environments.

The public names are importable from here; each loads its part of the package on first use, so
importing the pytest plugin costs pytest runs little.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from pytest_lambda import events
    from pytest_lambda.aws import AwsEndpoint, AwsEndpointWarning
    from pytest_lambda.backends.docker.ephemeral import EphemeralStorageWarning
    from pytest_lambda.config.arch import Architecture
    from pytest_lambda.config.function import NetworkMode
    from pytest_lambda.config.packaging import Layer
    from pytest_lambda.config.runtimes import RuntimeName
    from pytest_lambda.config.settings import BackendName, ImagePolicy
    from pytest_lambda.errors import (
        AsyncTimeoutError,
        AwsEndpointError,
        BackendUnavailableError,
        ConfigurationError,
        EnvironmentStartError,
        ImageBuildError,
        InvalidRequestContentException,
        InvokeError,
        LambdaHarnessError,
        RequestTooLargeException,
        ResourceNotFoundException,
        TooManyRequestsException,
    )
    from pytest_lambda.inprocess.context import LambdaContext
    from pytest_lambda.inprocess.invoke import invoke_handler
    from pytest_lambda.lambda_api.api import LambdaAPI
    from pytest_lambda.result import InvokeResult
    from pytest_lambda.service.asynchronous import AsyncAttempt, AsyncResult
    from pytest_lambda.service.destinations import AwsTarget
    from pytest_lambda.service.function import Function, FunctionFactory
    from pytest_lambda.service.service import LambdaService

#: Where each public name lives.
_WHERE = {
    "events": "pytest_lambda.events",
    "EphemeralStorageWarning": "pytest_lambda.backends.docker.ephemeral",
    "Architecture": "pytest_lambda.config.arch",
    "NetworkMode": "pytest_lambda.config.function",
    "Layer": "pytest_lambda.config.packaging",
    "RuntimeName": "pytest_lambda.config.runtimes",
    "BackendName": "pytest_lambda.config.settings",
    "ImagePolicy": "pytest_lambda.config.settings",
    "BackendUnavailableError": "pytest_lambda.errors",
    "ConfigurationError": "pytest_lambda.errors",
    "EnvironmentStartError": "pytest_lambda.errors",
    "ImageBuildError": "pytest_lambda.errors",
    "InvalidRequestContentException": "pytest_lambda.errors",
    "InvokeError": "pytest_lambda.errors",
    "LambdaHarnessError": "pytest_lambda.errors",
    "RequestTooLargeException": "pytest_lambda.errors",
    "LambdaContext": "pytest_lambda.inprocess.context",
    "invoke_handler": "pytest_lambda.inprocess.invoke",
    "InvokeResult": "pytest_lambda.result",
    "Function": "pytest_lambda.service.function",
    "FunctionFactory": "pytest_lambda.service.function",
    "LambdaService": "pytest_lambda.service.service",
    "AwsEndpoint": "pytest_lambda.aws",
    "AwsEndpointError": "pytest_lambda.errors",
    "AwsEndpointWarning": "pytest_lambda.aws",
    "LambdaAPI": "pytest_lambda.lambda_api.api",
    "AwsTarget": "pytest_lambda.service.destinations",
    "AsyncAttempt": "pytest_lambda.service.asynchronous",
    "AsyncResult": "pytest_lambda.service.asynchronous",
    "AsyncTimeoutError": "pytest_lambda.errors",
    "ResourceNotFoundException": "pytest_lambda.errors",
    "TooManyRequestsException": "pytest_lambda.errors",
}

__all__ = [
    "Architecture",
    "BackendName",
    "BackendUnavailableError",
    "ConfigurationError",
    "EnvironmentStartError",
    "EphemeralStorageWarning",
    "Function",
    "FunctionFactory",
    "ImageBuildError",
    "ImagePolicy",
    "InvalidRequestContentException",
    "InvokeError",
    "InvokeResult",
    "LambdaContext",
    "LambdaHarnessError",
    "LambdaService",
    "Layer",
    "NetworkMode",
    "RequestTooLargeException",
    "RuntimeName",
    "__version__",
    "events",
    "invoke_handler",
    "AwsEndpoint",
    "AwsEndpointError",
    "AwsEndpointWarning",
    "LambdaAPI",
    "AwsTarget",
    "AsyncAttempt",
    "AsyncResult",
    "AsyncTimeoutError",
    "ResourceNotFoundException",
    "TooManyRequestsException",
]


def __getattr__(name: str) -> Any:
    """Import a public name's module on first use."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'pytest_lambda' has no attribute {name!r}")
    value = importlib.import_module(module) if name == "events" else getattr(
        importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
