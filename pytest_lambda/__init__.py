"""pytest-aws-lambda: run AWS Lambda functions in Lambda-shaped execution environments."""

from __future__ import annotations

from pytest_lambda import events
from pytest_lambda.backends.docker.ephemeral import EphemeralStorageWarning
from pytest_lambda.config.packaging import Layer
from pytest_lambda.errors import (
    BackendUnavailableError,
    ConfigurationError,
    EnvironmentStartError,
    ImageBuildError,
    InvalidRequestContentException,
    InvokeError,
    LambdaHarnessError,
    RequestTooLargeException,
    ResourceNotFoundException,
    ServiceException,
)
from pytest_lambda.inprocess.context import LambdaContext
from pytest_lambda.inprocess.invoke import invoke_handler
from pytest_lambda.result import InvokeResult
from pytest_lambda.service.function import Function

__version__ = "0.1.0"

__all__ = [
    "BackendUnavailableError",
    "ConfigurationError",
    "EnvironmentStartError",
    "EphemeralStorageWarning",
    "Function",
    "ImageBuildError",
    "InvalidRequestContentException",
    "InvokeError",
    "InvokeResult",
    "LambdaContext",
    "LambdaHarnessError",
    "Layer",
    "RequestTooLargeException",
    "ResourceNotFoundException",
    "ServiceException",
    "__version__",
    "events",
    "invoke_handler",
]
