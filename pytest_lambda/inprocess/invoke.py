"""Call a handler in the test process with Lambda's invocation contract.

`invoke_handler` is the fast path for unit tests: no container, no subprocess, so freezegun,
responses and moto's `mock_aws` (which patch only the test process) reach the handler. Around the
call it reproduces what the Python runtime and the Lambda service would do: the request and the
response pass through JSON with Lambda's payload limits, Lambda's environment variables are set
and then restored exactly, output is captured into `START`/`END`/`REPORT` logs, an exception
becomes `awslambdaric`'s error document, and the deadline is enforced.

The handler runs in a daemon thread started with `_thread`, not `threading.Thread`: freezegun
hands real time to callers within a few frames of the `threading` module, so a handler run by
`threading.Thread` would not see a frozen clock. The caller waits for that thread in real time.
A thread cannot be killed: at the deadline the harness returns `Sandbox.Timedout` and raises
`HandlerAbandoned` inside the handler's thread, which stops it the next time it runs Python code.
A handler blocked in C (a `time.sleep`, a socket read) runs on until that call returns; whatever
it does after the deadline is discarded, its output is no longer captured and it no longer sees
the invocation's environment variables.
"""

from __future__ import annotations

import _thread
import collections
import ctypes
import decimal
import importlib
import importlib.util
import json
import logging
import math
import os
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TextIO

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.function import (
    validate_environment,
    validate_function_name,
    validate_memory_size,
)
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.inprocess import scope as _scope
from pytest_lambda.inprocess.context import LambdaContext
from pytest_lambda.result import InvokeResult
from pytest_lambda.service import observe as _observe
from pytest_lambda.service.reporting import (
    billed_ms,
    exit_error,
    exit_reason,
    invocation_logs,
    report_line,
    response_too_large,
    timeout_error,
)
from pytest_lambda.system import clock as _clock

if TYPE_CHECKING:
    from pytest_lambda.config.packaging import Layer

Handler = Callable[[Any, Any], Any]

# How awslambdaric writes an error's traceback to the log: a no-break space for indentation.
_ERROR_INDENT = "\u00a0"

#: Handlers that have run in this process: a later call of one of them is a warm start.
_warm: set[object] = set()

#: The environments of handler strings, by configuration: their scope and loaded handler, the
#: most recently used last. Lambda may recycle an environment at any time; past
#: `_ENVIRONMENTS_MAX` the least recently used one goes, and its next call is a cold start.
_environments: collections.OrderedDict[object, tuple[_scope.Scope, Handler]] = (
    collections.OrderedDict())
_ENVIRONMENTS_MAX = 32

#: Where each running handler thread's output goes (its invocation's lines and request id), by
#: thread id. One map for the process, so that a stream a library kept from an earlier
#: invocation still routes the current one.
_sinks: dict[int, tuple[list[str], str]] = {}


class HandlerAbandoned(BaseException):
    """Raised inside a handler's thread that outlived its timeout, to stop it.

    It derives from BaseException so that a handler's `except Exception` does not swallow it.
    """


@dataclass
class _Outcome:
    body: bytes = b""
    error: dict[str, Any] | None = None
    exit_code: int | None = None
    log_lines: list[str] = field(default_factory=list)
    completed_at: float = 0.0


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
    the process again after each call (see `_inprocess_scope`); the libraries it imports from the
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
        located = _scope.locate(handler, code, layers, _task_root, requirements)
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
    lambda_env = _lambda_variables(name, memory_size, region, log_stream, handler)
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
    outcome = _Outcome()
    with _environment(lambda_env), _captured_output():
        # Import-time output (a handler string's module) is the init phase's log.
        caller = _thread.get_ident()
        outer = _sinks.get(caller)  # set when a handler invokes another handler
        _sinks[caller] = (init_lines, request_id)
        scope: _scope.Scope | None = None
        try:
            init_started = _clock.perf()
            if located is None:
                resolved, fault = _resolve(handler)
            elif key in _environments:
                scope, resolved = _environments[key]
                _environments.move_to_end(key)
                fault = None
            else:
                scope = located.new_scope()
                with scope.active():
                    resolved, fault = _resolve(handler)
            init_ms = (_clock.perf() - init_started) * 1000
        finally:
            _release(caller, init_lines)
            if outer is not None:
                _sinks[caller] = outer
        if located is None:
            key = _warm_key(handler, resolved)
        cold = key not in _warm
        init_log = _init_log(init_lines, region) if cold else ""
        if fault is not None:
            failed = _init_failure(fault, request_id, memory_size, init_ms, init_log)
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
            outcome, finished, started, ended = _run(
                resolved, json.loads(request), context, timeout, outcome
            )

    if outcome.exit_code is not None:
        _warm.discard(key)  # the runtime process is gone: the next call is a cold start
        _environments.pop(key, None)
    result = _result(
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


def _handler_name(handler: Handler | str) -> str:
    if isinstance(handler, str):
        return handler
    module = getattr(handler, "__module__", None) or "handler"
    return f"{module}.{getattr(handler, '__name__', type(handler).__name__)}"


def _task_root(handler: Handler | str) -> str | None:
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


def _lambda_variables(
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
    root = _task_root(handler)
    if root is not None:
        variables["LAMBDA_TASK_ROOT"] = root
    return variables


@contextmanager
def _environment(variables: Mapping[str, str]) -> Iterator[None]:
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


def _fault(error_type: str, message: str, trace: list[str] | None = None) -> dict[str, Any]:
    # An init fault carries no request id: awslambdaric builds it before any invocation.
    return {"errorMessage": message, "errorType": error_type, "requestId": "",
            "stackTrace": trace or []}


def _resolve(handler: Handler | str) -> tuple[Handler | None, dict[str, Any] | None]:
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
        return None, _fault(
            "Runtime.MalformedHandlerName",
            f"Bad handler '{handler}': not enough values to unpack (expected 2, got 1)",
        )
    if module_name.split(".")[0] in sys.builtin_module_names:
        return None, _fault(
            "Runtime.BuiltInModuleConflict",
            f"Cannot use built-in module {module_name} as a handler module",
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        return None, _fault(
            "Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}"
        )
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        return None, _fault(
            "Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}", trace
        )
    except Exception as exc:
        # A module that raises at import fails Lambda's init phase with the exception's type.
        frames = traceback.extract_tb(exc.__traceback__)
        trace = traceback.format_list(_user_frames(frames))
        return None, _fault(type(exc).__name__, str(exc), trace)
    try:
        return getattr(module, function_name), None
    except AttributeError:
        return None, _fault(
            "Runtime.HandlerNotFound",
            f"Handler '{function_name}' missing on module '{module_name}'",
        )


def _warm_key(handler: Handler | str, resolved: Handler | None) -> object:
    target: object = resolved if resolved is not None else handler
    module = getattr(target, "__module__", None)
    qualname = getattr(target, "__qualname__", None)
    if isinstance(module, str) and isinstance(qualname, str):
        return (module, qualname)
    return ("id", id(target)) if not isinstance(target, str) else ("name", target)


def _user_frames(frames: traceback.StackSummary) -> list[traceback.FrameSummary]:
    """Drop the harness's and importlib's frames from the top, as awslambdaric drops its own."""
    for index, frame in enumerate(frames):
        if frame.filename != __file__ and "importlib" not in frame.filename:
            return list(frames[index:])
    return []


def _error_log(error: Mapping[str, Any]) -> str:
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


# -- marshalling -------------------------------------------------------------------------------


def _encoder() -> Callable[[Any], str]:
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


def _marshal(response: Any, request_id: str) -> tuple[bytes, dict[str, Any] | None]:
    """Return the response body, or the `Runtime.MarshalError` document."""
    if isinstance(response, bytes):
        return response, None
    try:
        return _encoder()(response).encode("utf-8"), None
    except Exception as exc:
        return b"", {
            "errorMessage": f"Unable to marshal response: {exc}",
            "errorType": "Runtime.MarshalError",
            "requestId": request_id,
            "stackTrace": [],
        }


# -- running the handler -----------------------------------------------------------------------


class _Router:
    """A stand-in for sys.stdout/sys.stderr that sends handler threads' writes to their sink."""

    def __init__(self, original: TextIO) -> None:
        self._original = original

    @property
    def original(self) -> TextIO:
        return self._original

    def write(self, text: str) -> int:
        sink = _sinks.get(_thread.get_ident())
        if sink is None:
            return self._original.write(text)
        sink[0].append(text)
        return len(text)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._original.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)


class _LogCapture(logging.Handler):
    """Format handler threads' log records as the Python runtime's log lines, into their sinks.

    One instance for the process, like the runtime's one handler on the root logger: filters
    that libraries add to the root's handlers (Powertools Logger suppresses its own records
    there) stay in place from one invocation to the next.
    """

    def __init__(self) -> None:
        super().__init__(logging.NOTSET)

    def emit(self, record: logging.LogRecord) -> None:
        sink = _sinks.get(record.thread or 0)
        if sink is None:
            return
        lines, request_id = sink
        try:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            lines.append(
                f"[{record.levelname}]\t{stamp}.{int(record.msecs):03d}Z\t{request_id}\t"
                f"{record.getMessage()}\n"
            )
            if record.exc_info:
                lines.append("".join(traceback.format_exception(*record.exc_info)))
        except Exception:
            self.handleError(record)


_log_capture = _LogCapture()
_capturing = 0  # invocations in progress (one may run inside another's handler)


@contextmanager
def _captured_output() -> Iterator[None]:
    """Route registered threads' stdout, stderr and log records to their sinks meanwhile."""
    global _capturing
    out, err = sys.stdout, sys.stderr
    sys.stdout = _Router(out)
    sys.stderr = _Router(err)
    root = logging.getLogger()
    _capturing += 1
    root.addHandler(_log_capture)
    try:
        yield
    finally:
        _capturing -= 1
        if _capturing == 0:
            root.removeHandler(_log_capture)
        if isinstance(sys.stdout, _Router) and sys.stdout.original is out:
            sys.stdout = out
        if isinstance(sys.stderr, _Router) and sys.stderr.original is err:
            sys.stderr = err


def _run(
    handler: Handler, event: Any, context: LambdaContext, timeout: float, outcome: _Outcome
) -> tuple[_Outcome, bool, float, float]:
    """Run the handler in a daemon thread; return its outcome, whether it finished, and times."""
    done = threading.Event()
    request_id = context.aws_request_id
    registered = threading.Event()

    def body() -> None:
        _sinks[_thread.get_ident()] = (outcome.log_lines, request_id)
        registered.set()
        try:
            response, error = _marshal(handler(event, context), request_id)
            if error is not None:
                outcome.log_lines.append(_error_log(error))
            elif len(response) > _limits.RESPONSE_MAX_BYTES:
                error = response_too_large(len(response))
            outcome.body, outcome.error = response, error
        except SystemExit as exc:
            outcome.exit_code = exc.code if isinstance(exc.code, int) else 1
        except HandlerAbandoned:
            raise
        except Exception as exc:
            frames = traceback.extract_tb(exc.__traceback__)
            outcome.error = {
                "errorMessage": str(exc),
                "errorType": type(exc).__name__,
                "requestId": request_id,
                "stackTrace": traceback.format_list(_user_frames(frames)),
            }
            outcome.log_lines.append(_error_log(outcome.error))
        except BaseException:
            outcome.exit_code = 1  # the runtime process dies, as it would on a signal
        finally:
            outcome.completed_at = _clock.perf()
            _release(_thread.get_ident(), outcome.log_lines)
            done.set()

    def target() -> None:
        # HandlerAbandoned may arrive anywhere in body(), even after the handler returned.
        with suppress(HandlerAbandoned):
            body()

    started = _clock.perf()
    thread_id = _thread.start_new_thread(target, ())
    finished = done.wait(timeout)
    ended = _clock.perf()
    if not finished:
        registered.wait()
        _release(thread_id, outcome.log_lines)
        if not done.is_set():
            _abandon(thread_id)
        # Keep what the handler printed before the deadline; the thread may still write.
        return _Outcome(log_lines=list(outcome.log_lines)), False, started, ended
    return outcome, True, started, ended


def _release(thread_id: int, sink: list[str]) -> None:
    """Stop capturing the thread's output into `sink` (if it still goes there)."""
    entry = _sinks.get(thread_id)
    if entry is not None and entry[0] is sink:
        _sinks.pop(thread_id, None)


def _abandon(thread_id: int) -> None:
    """Raise HandlerAbandoned in the thread, delivered when it next runs Python code."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(HandlerAbandoned)
    )


# -- the result --------------------------------------------------------------------------------


def _max_memory_used_mb() -> int:
    """Return the test process's peak resident memory in MB (the function shares the process)."""
    try:
        import resource
    except ImportError:  # Windows
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak / (1024 * 1024 if sys.platform == "darwin" else 1024))


def _init_log(lines: list[str], region: str) -> str:
    """Return the init phase's log: Lambda's INIT_START line, then what the import printed."""
    from pytest_lambda.config.runtimes import init_start_line

    output = "".join(lines)
    if output and not output.endswith("\n"):
        output += "\n"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return init_start_line("python", version, region) + output


def _result(
    outcome: _Outcome, finished: bool, request_id: str, memory_size: int, timeout: float,
    *, duration_ms: float, init_ms: float | None, init_log: str,
) -> InvokeResult:
    status: str | None = None
    error_type: str | None = None
    trailer = ""
    error = outcome.error
    if not finished:
        duration_ms = timeout * 1000
        error, trailer = timeout_error(request_id, timeout)
        status, error_type = "timeout", "Sandbox.Timedout"
    elif outcome.exit_code is not None:
        reason = exit_reason(outcome.exit_code, f"exit status {outcome.exit_code}")
        error, trailer = exit_error(request_id, reason)
        status, error_type = "error", "Runtime.ExitError"
    elif error is not None and error["errorType"] == "Function.ResponseSizeTooLarge":
        status, error_type = "error", "Function.ResponseSizeTooLarge"
    logs = invocation_logs(
        init_log, request_id, "".join(outcome.log_lines), trailer,
        report_line(request_id, duration_ms, memory_size, _max_memory_used_mb(), init_ms,
                    status, error_type),
    )
    return InvokeResult(
        raw_payload=_encoder()(error).encode() if error is not None else outcome.body,
        request_id=request_id,
        function_error="Unhandled" if error is not None else None,
        logs=logs,
        cold_start=init_ms is not None,
        init_duration_ms=round(init_ms, 2) if init_ms is not None else None,
        duration_ms=round(duration_ms, 2),
        billed_duration_ms=billed_ms(duration_ms),
        max_memory_used_mb=_max_memory_used_mb(),
        memory_size_mb=memory_size,
    )


def _init_failure(
    fault: dict[str, Any], request_id: str, memory_size: int, init_ms: float, init_log: str
) -> InvokeResult:
    """Return what Lambda answers when the handler cannot be loaded (the init phase failed)."""
    error_type = fault["errorType"]
    logs = invocation_logs(
        init_log + _error_log(fault), request_id, "", "",
        report_line(request_id, init_ms, memory_size, _max_memory_used_mb(), None, "error",
                    error_type),
    )
    return InvokeResult(
        raw_payload=_encoder()(fault).encode(),
        request_id=request_id,
        function_error="Unhandled",
        logs=logs,
        cold_start=True,
        duration_ms=round(init_ms, 2),
        billed_duration_ms=billed_ms(init_ms),
        max_memory_used_mb=_max_memory_used_mb(),
        memory_size_mb=memory_size,
    )
