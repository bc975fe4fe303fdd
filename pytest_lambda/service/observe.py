"""Who hears about invocations: the plugin's per-test watchers.

`Function.invoke` and `invoke_handler` report here, and the plugin registers watchers that turn
those reports into failure-report sections (`plugin.report_logs`) and per-test isolation
(`plugin.isolation`). Nothing here knows pytest: without watchers a report costs one empty loop.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from pytest_lambda.result import InvokeResult
    from pytest_lambda.service.function import Function


class Watcher(Protocol):
    """Told about each invocation, before it starts and when it has a result, and before a
    function's environments are provisioned (`invoking` alone)."""

    def invoking(self, function: Function) -> None: ...

    def invoked(self, function_name: str, backend: str, result: InvokeResult) -> None: ...


_watchers: list[Watcher] = []
_lock = threading.Lock()


def add(watcher: Watcher) -> None:
    """Start telling `watcher` about invocations."""
    with _lock:
        _watchers.append(watcher)


def remove(watcher: Watcher) -> None:
    """Stop telling `watcher` about invocations (a no-op when it was not added)."""
    with _lock:
        if watcher in _watchers:
            _watchers.remove(watcher)


def invoking(function: Function) -> None:
    """Report that `function` is about to be invoked, or to have environments provisioned."""
    for watcher in list(_watchers):
        watcher.invoking(function)


def invoked(function_name: str, backend: str, result: InvokeResult) -> None:
    """Report an invocation's result; `backend` is "docker", "process" or "in-process"."""
    for watcher in list(_watchers):
        watcher.invoked(function_name, backend, result)
