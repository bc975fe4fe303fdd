"""The plugin state's cleanup: it runs to its end through a KeyboardInterrupt."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from pytest_lambda.plugin.state import PluginState, finish_despite_interrupts


class _SlowService:
    """A service whose close() is interrupted (SIGINT, as execnet sends) half-way through."""

    def __init__(self) -> None:
        self.finished = False
        self.waited: bool | None = None

    def close(self, *, wait: bool = True) -> None:
        self.waited = wait
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(20):
            time.sleep(0.01)
        self.finished = True


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                    reason="SIGINT is delivered to the main thread")
def test_close_finishes_through_a_keyboard_interrupt_then_raises_it() -> None:
    state = PluginState(settings={})
    service = _SlowService()
    state._service = service  # type: ignore[assignment]  # a stand-in that only finishes slowly
    with pytest.raises(KeyboardInterrupt):
        state.close()
    assert service.finished
    assert service.waited is False  # the process exits next: the engine's part is handed off


def test_errors_of_the_work_reach_the_caller() -> None:
    def fail() -> None:
        raise OSError("engine gone")

    with pytest.raises(OSError, match="engine gone"):
        finish_despite_interrupts(fail)


def test_work_runs_once_and_returns() -> None:
    calls: list[int] = []
    finish_despite_interrupts(lambda: calls.append(1))
    assert calls == [1]
