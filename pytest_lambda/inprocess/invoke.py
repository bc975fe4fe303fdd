"""Call a handler in the test process with Lambda's invocation contract.

`invoke_handler` is the fast path for unit tests: no container, no subprocess, so freezegun,
responses and moto's `mock_aws` (which patch only the test process) reach the handler. Around the
call it reproduces what the Python runtime and the Lambda service would do: the request and the
response pass through JSON with Lambda's payload limits, Lambda's environment variables are set
and then restored exactly (`variables.py`), output is captured into `START`/`END`/`REPORT` logs
(`capture.py`, `results.py`), an exception becomes `awslambdaric`'s error document
(`handlers.py`), and the deadline is enforced (`running.py`). This module validates the call,
keeps the process's warm environments, and puts those together.
"""

from __future__ import annotations

import _thread
import collections
import json
import os
import uuid
from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Any

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.function import (
    validate_environment,
    validate_function_name,
    validate_memory_size,
)
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.inprocess import results as _results
from pytest_lambda.inprocess import scope as _scope
from pytest_lambda.inprocess.capture import captured_output, release, sinks
from pytest_lambda.inprocess.context import LambdaContext
from pytest_lambda.inprocess.handlers import Handler, resolve
from pytest_lambda.inprocess.running import Outcome, run
from pytest_lambda.inprocess.variables import lambda_variables, patched_environ, task_root
from pytest_lambda.result import InvokeResult
from pytest_lambda.service import observe as _observe
from pytest_lambda.system import clock as _clock

if TYPE_CHECKING:
    from pytest_lambda.config.packaging import Layer

#: Handlers that have run in this process: a later call of one of them is a warm start.
_warm: set[object] = set()

#: The environments of handler strings, by configuration: their scope and loaded handler, the
#: most recently used last. Lambda may recycle an environment at any time; past
#: `_ENVIRONMENTS_MAX` the least recently used one goes, and its next call is a cold start.
_environments: collections.OrderedDict[object, tuple[_scope.Scope, Handler]] = (
    collections.OrderedDict())
_ENVIRONMENTS_MAX = 32


def invoke_handler(
    handler: Handler | str,
    event: Any = None,
    *,
    timeout: float = _limits.TIMEOUT_DEFAULT_S,
    memory_size: int = _limits.MEMORY_DEFAULT_MB,
    environment: Mapping[str, str] | None = None,
    function_name: str | None = None,
    context: LambdaContext | None = None,
    code: str | os.PathLike[str] | None = None,
    layers: Sequence[str | os.PathLike[str] | Layer] | None = None,
    requirements: str | os.PathLike[str] | bool | None = None,
) -> InvokeResult:
    """Call `handler(event, context)` in this process as Lambda would, and return the result.

    `handler` is a callable or a ``"module.function"`` string (imported with Lambda's variables
    set). The event goes through JSON as the Invoke API sends it: a request over 6 MB raises
    `RequestTooLargeException`, bytes that are not JSON raise `InvalidRequestContentException`.
    The handler gets a fresh `LambdaContext` (or `context`, used as given) and Lambda's
    environment variables plus `environment`; `os.environ` is restored exactly afterwards.
    Function errors are data on the result, never raised: an exception gives `awslambdaric`'s
    error document, an unserialisable result `Runtime.MarshalError`, a response over 6 MB
    `Function.ResponseSizeTooLarge`, and a handler still running after `timeout` seconds
    (real time, fractions allowed) `Sandbox.Timedout`. Not thread-safe: `os.environ` and
    `sys.stdout` are process-wide, so run one invocation at a time per process.

    A ``"module.function"`` handler is imported as an execution environment imports it: from
    `code` (a directory or a .zip, as `lambda_function` takes it; default: found on `sys.path`)
    and `layers` (directories or .zips whose `python/` folders go on the path), once per distinct
    configuration (handler, code, layers, environment, name, memory, timeout), so a new
    configuration is a cold start with new module globals and the same one again is warm. The
    function's own modules and the paths, variables and import hooks it sets are taken out of
    the process again after each call (see `scope.py`); the libraries it imports from the
    test's environment stay shared, with whatever the import did to them.

    `requirements` (a ``requirements.txt`` relative to `code`, or to the handler's directory
    without `code`; ``True`` for ``requirements.txt`` there) is installed for this interpreter
    into a cached directory of its own, on `sys.path` after the code only while the function
    imports or runs: the test's own environment is not changed. A `pytest_lambda.Layer` with
    requirements in `layers` gets them in its ``python/`` folder.
    """
    __tracebackhide__ = True
    timeout = _check_timeout(timeout)
    memory_size = validate_memory_size(memory_size)
    variables = validate_environment(environment)
    if context is not None:
        if not isinstance(context, LambdaContext):
            raise ConfigurationError(
                f"context must be a pytest_lambda.LambdaContext, not {type(context).__name__}."
            )
        if function_name is not None and function_name != context.function_name:
            raise ConfigurationError(
                f"function_name={function_name!r} differs from the context's function_name "
                f"{context.function_name!r}: pass one of them."
            )
        if str(memory_size) != context.memory_limit_in_mb:
            raise ConfigurationError(
                f"memory_size={memory_size} differs from the context's memory_limit_in_mb "
                f"{context.memory_limit_in_mb!r}: pass memory_size={context.memory_limit_in_mb}."
            )
    name = validate_function_name(
        context.function_name if context is not None else function_name
        or _aws.DEFAULT_FUNCTION_NAME
    )
    located: _scope.Located | None = None
    if isinstance(handler, str):
        located = _scope.locate(handler, code, layers, task_root, requirements)
    elif code is not None or layers is not None or requirements is not None:
        what = "code= and layers=" if requirements is None else "requirements="
        raise ConfigurationError(
            f"{what} load a handler given as a 'module.function' string: pass "
            f"handler='module.function' with them, or call the callable without them."
        )
    from pytest_lambda.service.payload import (
        encode_payload,  # the Invoke API's own checks; not needed at import
    )

    request = encode_payload(event)

    request_id = context.aws_request_id if context is not None else str(uuid.uuid4())
    region = context.invoked_function_arn.split(":")[3] if context is not None else (
        _aws.DEFAULT_REGION
    )
    log_stream = context.log_stream_name if context is not None else _aws.log_stream_name()
    lambda_env = lambda_variables(name, memory_size, region, log_stream, handler)
    if context is not None:
        lambda_env["AWS_LAMBDA_LOG_GROUP_NAME"] = context.log_group_name
    if located is not None and located.task_root is not None:
        lambda_env["LAMBDA_TASK_ROOT"] = located.task_root
    lambda_env.update(variables)
    # A handler string's environment: one per distinct configuration, as in Lambda.
    key: object = None
    if located is not None:
        key = (handler, located.identity, tuple(sorted(variables.items())), name, memory_size,
               timeout, region)

    init_lines: list[str] = []
    outcome = Outcome()
    with patched_environ(lambda_env), captured_output():
        # Import-time output (a handler string's module) is the init phase's log.
        caller = _thread.get_ident()
        outer = sinks.get(caller)  # set when a handler invokes another handler
        sinks[caller] = (init_lines, request_id)
        scope: _scope.Scope | None = None
        try:
            init_started = _clock.perf()
            if located is None:
                resolved, fault = resolve(handler)
            elif key in _environments:
                scope, resolved = _environments[key]
                _environments.move_to_end(key)
                fault = None
            else:
                scope = located.new_scope()
                with scope.active():
                    resolved, fault = resolve(handler)
            init_ms = (_clock.perf() - init_started) * 1000
        finally:
            release(caller, init_lines)
            if outer is not None:
                sinks[caller] = outer
        if located is None:
            key = _warm_key(handler, resolved)
        cold = key not in _warm
        init_log = _results.init_log(init_lines, region) if cold else ""
        if fault is not None:
            failed = _results.init_failure(fault, request_id, memory_size, init_ms, init_log)
            _observe.invoked(name, "in-process", failed)
            return failed
        assert resolved is not None
        _warm.add(key)
        if scope is not None:
            _environments[key] = (scope, resolved)
            while len(_environments) > _ENVIRONMENTS_MAX:
                _warm.discard(_environments.popitem(last=False)[0])
        if context is None:
            context = LambdaContext(
                function_name=name,
                memory_limit_in_mb=memory_size,
                timeout=timeout,
                aws_request_id=request_id,
                region=region,
                log_group_name=lambda_env["AWS_LAMBDA_LOG_GROUP_NAME"],
                log_stream_name=log_stream,
            )
        with scope.active() if scope is not None else nullcontext():
            outcome, finished, started, ended = run(
                resolved, json.loads(request), context, timeout, outcome
            )

    if outcome.exit_code is not None:
        _warm.discard(key)  # the runtime process is gone: the next call is a cold start
        _environments.pop(key, None)
    result = _results.result(
        outcome, finished, request_id, memory_size, timeout,
        duration_ms=((outcome.completed_at if finished else ended) - started) * 1000,
        init_ms=init_ms if cold else None,
        init_log=init_log,
    )
    _observe.invoked(name, "in-process", result)
    return result


def _check_timeout(timeout: object) -> float:
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise ConfigurationError(
            f"timeout must be a number of seconds, not {timeout!r}."
        )
    if not 0 < timeout <= _limits.TIMEOUT_MAX_S:
        raise ConfigurationError(
            f"timeout={timeout} is outside Lambda's range: pass more than 0 and at most "
            f"{_limits.TIMEOUT_MAX_S} seconds."
        )
    return float(timeout)


def _warm_key(handler: Handler | str, resolved: Handler | None) -> object:
    target: object = resolved if resolved is not None else handler
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return (module, qualname)
    return ("id", id(target)) if not isinstance(target, str) else ("name", target)
