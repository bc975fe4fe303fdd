"""pytest-aws-lambda: run AWS Lambda functions in Lambda-shaped execution environments."""

from __future__ import annotations

from . import events
from ._context import LambdaContext
from ._deps import Layer
from ._ephemeral import EphemeralStorageWarning
from ._errors import (
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
from ._function import Function
from ._inprocess import invoke_handler
from ._result import InvokeResult

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
