"""The environment variables Lambda gives a function, set in `os.environ` for one invocation."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from pytest_lambda.config import names as _aws
from pytest_lambda.inprocess.handlers import Handler


def _handler_name(handler: Handler | str) -> str:
    if isinstance(handler, str):
        return handler
    module = getattr(handler, "__module__", None) or "handler"
    return f"{module}.{getattr(handler, '__name__', type(handler).__name__)}"


def task_root(handler: Handler | str) -> str | None:
    """Return the directory Lambda would have as LAMBDA_TASK_ROOT for this handler's module.

    For a handler string the module is found without importing it, so that the variable is
    set before the module's import-time code runs, as in Lambda.
    """
    if isinstance(handler, str):
        module_name = handler.rpartition(".")[0].replace("/", ".")
    else:
        module_name = getattr(handler, "__module__", "") or ""
    top = module_name.partition(".")[0]
    if not top:
        return None
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None:
        return None
    if spec.submodule_search_locations:  # a package: its parent directory is the root
        return os.path.dirname(os.path.abspath(list(spec.submodule_search_locations)[0]))
    if spec.origin and os.path.isfile(spec.origin):
        return os.path.dirname(os.path.abspath(spec.origin))
    return None


def lambda_variables(
    name: str, memory_size: int, region: str, log_stream: str, handler: Handler | str
) -> dict[str, str]:
    """Return the variables Lambda sets in a function's environment, for this invocation."""
    variables = {
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info[0]}.{sys.version_info[1]}",
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": _aws.log_group_name(name),
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        # The execution role's credentials in Lambda; fakes here, so that a handler never
        # reaches real AWS with the developer's own credentials.
        "AWS_ACCESS_KEY_ID": "ASIAPYTESTLAMBDAFAKE",
        "AWS_SECRET_ACCESS_KEY": "pytest-aws-lambda-fake-secret-access-key",
        "AWS_SESSION_TOKEN": "pytest-aws-lambda-fake-session-token",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "_HANDLER": _handler_name(handler),
        "_X_AMZN_TRACE_ID": _aws.new_trace_id(),
    }
    root = task_root(handler)
    if root is not None:
        variables["LAMBDA_TASK_ROOT"] = root
    return variables


@contextmanager
def patched_environ(variables: Mapping[str, str]) -> Iterator[None]:
    """Set `variables` in os.environ, and leave os.environ exactly as it was on exit."""
    saved = dict(os.environ)
    try:
        os.environ.update(variables)
        yield
    finally:
        for key in [k for k in os.environ if k not in saved]:
            os.environ.pop(key, None)
        for key, value in saved.items():
            if os.environ.get(key) != value:
                os.environ[key] = value
