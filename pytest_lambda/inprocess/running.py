"""Run a handler on a thread of its own, within its deadline.

The handler runs in a daemon thread started with `_thread`, not `threading.Thread`: freezegun
hands real time to callers within a few frames of the `threading` module, so a handler run by
`threading.Thread` would not see a frozen clock. The caller waits for that thread in real time.
A thread cannot be killed: at the deadline the caller gets an unfinished outcome and
`HandlerAbandoned` is raised inside the handler's thread, which stops it the next time it runs
Python code. A handler blocked in C (a `time.sleep`, a socket read) runs on until that call
returns; whatever it does after the deadline is discarded and its output no longer captured.
"""

from __future__ import annotations

import _thread
import ctypes
import threading
import traceback
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from pytest_lambda.config import limits as _limits
from pytest_lambda.inprocess.capture import release, sinks
from pytest_lambda.inprocess.context import LambdaContext
from pytest_lambda.inprocess.handlers import Handler, error_log, marshal, user_frames
from pytest_lambda.service.reporting import response_too_large
from pytest_lambda.system import clock as _clock


class HandlerAbandoned(BaseException):
    """Raised inside a handler's thread that outlived its timeout, to stop it.

    It derives from BaseException so that a handler's `except Exception` does not swallow it.
    """


@dataclass
class Outcome:
    """What a handler's run gave: its response body or error document, or the exit it made."""

    body: bytes = b""
    error: dict[str, Any] | None = None
    exit_code: int | None = None
    log_lines: list[str] = field(default_factory=list)
    completed_at: float = 0.0


def run(
    handler: Handler, event: Any, context: LambdaContext, timeout: float, outcome: Outcome
) -> tuple[Outcome, bool, float, float]:
    """Run the handler in a daemon thread; return its outcome, whether it finished, and times."""
    done = threading.Event()
    request_id = context.aws_request_id
    registered = threading.Event()

    def body() -> None:
        sinks[_thread.get_ident()] = (outcome.log_lines, request_id)
        registered.set()
        try:
            response, error = marshal(handler(event, context), request_id)
            if error is not None:
                outcome.log_lines.append(error_log(error))
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
                "stackTrace": traceback.format_list(user_frames(frames)),
            }
            outcome.log_lines.append(error_log(outcome.error))
        except BaseException:
            outcome.exit_code = 1  # the runtime process dies, as it would on a signal
        finally:
            outcome.completed_at = _clock.perf()
            release(_thread.get_ident(), outcome.log_lines)
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
        release(thread_id, outcome.log_lines)
        if not done.is_set():
            abandon(thread_id)
        # Keep what the handler printed before the deadline; the thread may still write.
        return Outcome(log_lines=list(outcome.log_lines)), False, started, ended
    return outcome, True, started, ended


def abandon(thread_id: int) -> None:
    """Raise HandlerAbandoned in the thread, delivered when it next runs Python code."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread_id), ctypes.py_object(HandlerAbandoned)
    )
