"""What the control plane asks of one execution environment: a wait that a debugger holds open,
whether its init timed out, the error its exit means, and its shutdown."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pytest_lambda.backends.base import ExecutionEnvironment
from pytest_lambda.service.reporting import (
    exit_error,
    exit_reason,
)

if TYPE_CHECKING:
    pass

def wait_unless_debugged(env: ExecutionEnvironment, predicate: Callable[[], bool],
                          timeout: float) -> bool:
    """Wait up to `timeout` for `predicate`, and on while a debugger holds the environment:
    a function stopped at a breakpoint is not timed out (docs/debugging.md)."""
    server = env.server
    if server.wait_for(predicate, timeout=timeout):
        return True
    while env.debugger_holds() and not env.exited.is_set():
        if server.wait_for(predicate, timeout=0.2):
            return True
    return server.wait_for(predicate, timeout=0)

def shut_down(env: ExecutionEnvironment, reason: str) -> None:
    """Run the environment's shutdown phase, then destroy it."""
    try:
        env.shutdown(reason)
    finally:
        env.destroy()


def init_timed_out(env: ExecutionEnvironment) -> bool:
    server = env.server
    return server.ready_at is None and server.init_error is None and not env.exited.is_set()


class StaleEnvironment(Exception):
    """A warm environment exited before the runtime took the invocation."""


def runtime_exit_error(env: ExecutionEnvironment, request_id: str) -> tuple[dict[str, Any], str]:
    """Return the document and log lines for a runtime that exited."""
    info = env.exit_info()
    error_type = "Runtime.OutOfMemory" if info.oom_killed else "Runtime.ExitError"
    return exit_error(request_id, exit_reason(info.code, info.describe()), error_type)
