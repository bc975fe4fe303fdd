"""What the Python runtime (awslambdaric) does around a handler, reproduced in the test process.

It loads a ``"module.function"`` handler (or takes a callable) and reports a load failure with
the runtime's fault document (`Runtime.ImportModuleError`, `Runtime.HandlerNotFound`, ...),
renders a function error as the runtime's `[ERROR]` log record, and marshals a response with
the runtime's JSON encoder (`Runtime.MarshalError` when it cannot).
"""

from __future__ import annotations

import decimal
import importlib
import json
import math
import os
import sys
import traceback
from collections.abc import Callable, Mapping
from typing import Any

from pytest_lambda.errors import ConfigurationError

Handler = Callable[[Any, Any], Any]

# How awslambdaric writes an error's traceback to the log: a no-break space for indentation.
_ERROR_INDENT = "\u00a0"
#: The harness's own frames (this package's modules) start a handler's traceback.
_HARNESS_DIR = os.path.dirname(os.path.abspath(__file__))


def fault(error_type: str, message: str, trace: list[str] | None = None) -> dict[str, Any]:
    # An init fault carries no request id: awslambdaric builds it before any invocation.
    return {"errorMessage": message, "errorType": error_type, "requestId": "",
            "stackTrace": trace or []}


def resolve(handler: Handler | str) -> tuple[Handler | None, dict[str, Any] | None]:
    """Return the handler callable, or the fault document the Python runtime reports."""
    if not isinstance(handler, str):
        if not callable(handler):
            raise ConfigurationError(
                f"handler must be a callable or a 'module.function' string, not "
                f"{type(handler).__name__}."
            )
        return handler, None
    module_name, dot, function_name = handler.rpartition(".")
    if not dot:
        return None, fault(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        )
    if module_name.split(".")[0] in sys.builtin_module_names:
        return None, fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        return None, fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        )
    except Exception as exc:
        # A module that raises at import fails Lambda's init phase with the exception's type.
        frames = traceback.extract_tb(exc.__traceback__)
        trace = traceback.format_list(user_frames(frames))
        return None, fault(type(exc).__name__, str(exc), trace)
    try:
        return getattr(module, function_name), None
    except AttributeError:
        return None, fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )


def user_frames(frames: traceback.StackSummary) -> list[traceback.FrameSummary]:
    """Drop the harness's and importlib's frames from the top, as awslambdaric drops its own."""
    for index, frame in enumerate(frames):
        if (os.path.dirname(os.path.abspath(frame.filename)) != _HARNESS_DIR
                and "importlib" not in frame.filename):
            return list(frames[index:])
    return []


def error_log(error: Mapping[str, Any]) -> str:
    """Return the `[ERROR]` record the Python runtime writes for a function error."""
    head = "[ERROR]"
    if error.get("errorType"):
        head += f" {error['errorType']}"
    if error.get("errorMessage"):
        head += (":" if error.get("errorType") else "") + f" {error['errorMessage']}"
    lines = [head, "Traceback (most recent call last):"]
    for element in error.get("stackTrace") or []:
        for line in str(element).splitlines():
            stripped = line.lstrip(" ")
            lines.append(_ERROR_INDENT * (len(line) - len(stripped)) + stripped)
    return "\n".join(lines) + "\n"


def encoder() -> Callable[[Any], str]:
    """Return the JSON encoder of the Python runtime: simplejson, Decimal as a number, NaN kept."""
    ensure_ascii = sys.version_info < (3, 12)  # awslambdaric stops escaping on python3.12+
    try:
        simplejson = importlib.import_module("simplejson")  # awslambdaric's own encoder
    except ImportError:  # the same output as long as no Decimal needs more than a float
        def default(obj: Any) -> Any:
            if isinstance(obj, decimal.Decimal):
                return math.nan if obj.is_nan() else (
                    int(obj) if obj == obj.to_integral_value() else float(obj)
                )
            raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

        encoder = json.JSONEncoder(ensure_ascii=ensure_ascii, allow_nan=True, default=default)
        return encoder.encode

    class Encoder(simplejson.JSONEncoder):  # type: ignore[misc,name-defined]
        def default(self, obj: Any) -> Any:
            if isinstance(obj, decimal.Decimal):
                return math.nan if obj.is_nan() else simplejson.RawJSON(str(obj))
            return super().default(obj)

    return Encoder(use_decimal=False, ensure_ascii=ensure_ascii, allow_nan=True).encode  # type: ignore[no-any-return]


def marshal(response: Any, request_id: str) -> tuple[bytes, dict[str, Any] | None]:
    """Return the response body, or the `Runtime.MarshalError` document."""
    if isinstance(response, bytes):
        return response, None
    try:
        return encoder()(response).encode("utf-8"), None
    except Exception as exc:
        return b"", {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
            "requestId": request_id,
            "stackTrace": [],
        }
