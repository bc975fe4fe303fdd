"""Per-test isolation: fresh execution environments for each test, when a suite wants them.

By default (`shared`) functions with identical configuration and code share warm environments
across the whole session, as one function in one account shares them across requests: module
state a test leaves behind (a global, a cache, a file in /tmp) is what the next test's invocation
sees. Under `per-test` (`--lambda-isolation`, or `@pytest.mark.lambda_isolation("per-test")` on
a test, class or module, the closest marker winning), the first invocation of a function in a
test discards its warm environments, and the test's teardown discards every environment its
functions used, so each test starts cold and leaves nothing warm behind. It costs a cold start
per function per test.

`invoke_handler` runs handlers in the test process, where module state is the test process's
own; isolation does not apply to it.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Generator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_lambda.plugin.markers import one_choice
from pytest_lambda.service import observe as _observe

if TYPE_CHECKING:
    from pytest_lambda.result import InvokeResult
    from pytest_lambda.service.function import Function

MARKER = "lambda_isolation"
MODES = ("shared", "per-test")
MARKER_HELP = (
    f"{MARKER}(mode): 'per-test' gives the test fresh Lambda execution environments (discarded "
    f"at its end); 'shared' lets it share warm ones with other tests. Overrides "
    f"--lambda-isolation; the closest marker wins."
)


def marker_mode(marker: pytest.Mark) -> str:
    """Return the mode a `lambda_isolation` marker names; raise ValueError when it is bad."""
    return one_choice(marker, "mode", MODES)


class Isolation:
    """Discard the environments a per-test test used, before its first use and at its end."""

    def __init__(self, default: str) -> None:
        self.default = default
        self._lock = threading.Lock()
        self._mode: str | None = None
        self._used: dict[tuple[str, str], Function] = {}

    # -- _observe.Watcher -----------------------------------------------------------------------

    def invoking(self, function: Function) -> None:
        with self._lock:
            if self._mode != "per-test":
                return
            key = (function.backend, function.config.pool_key())
            first = key not in self._used
            if first:
                self._used[key] = function
        if first:
            # Warm environments an earlier (shared) test left hold that test's state.
            function.reset()

    def invoked(self, function_name: str, backend: str, result: InvokeResult) -> None:
        pass

    # -- hooks ----------------------------------------------------------------------------------

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_setup(self, item: pytest.Item) -> None:
        marker = item.get_closest_marker(MARKER)
        mode = self.default
        if marker is not None:
            try:
                mode = marker_mode(marker)
            except ValueError as exc:
                pytest.fail(str(exc), pytrace=False)
        with self._lock:
            self._mode = mode
            self._used = {}

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtest_teardown(self, item: pytest.Item) -> Generator[None, Any, None]:
        yield  # after the test's fixtures are finalised: their invocations count too
        with self._lock:
            used, self._used = self._used, {}
            self._mode = None
        for function in used.values():
            try:
                function.reset()
            except Exception as exc:  # infrastructure trouble at teardown is a warning
                warnings.warn(
                    f"pytest-aws-lambda could not discard {function!r}'s environments after "
                    f"{item.nodeid}: {exc}",
                    pytest.PytestWarning,
                    stacklevel=1,
                )


def install(config: pytest.Config, default: str) -> None:
    """Register the isolation hooks for this session."""
    plugin = Isolation(default)
    config.pluginmanager.register(plugin, "lambda-isolation")
    _observe.add(plugin)
    config.add_cleanup(lambda: _observe.remove(plugin))
