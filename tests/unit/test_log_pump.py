"""The log stream of an environment (`backends/logs.py`): lines of different processes never
tear into each other, as each process's lines stay whole in Lambda's logs."""

from __future__ import annotations

import os
import threading

from pytest_lambda.backends.logs import LogPump


def _wait(predicate: object, timeout: float = 5.0) -> None:
    done = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():  # type: ignore[operator]
            return
        done.wait(0.01)
    raise AssertionError("timed out")


def test_a_line_written_in_two_parts_is_not_split_by_another_process_line() -> None:
    runtime_r, runtime_w = os.pipe()
    extension_r, extension_w = os.pipe()
    pump = LogPump(runtime_r)
    pump.add(extension_r)
    try:
        os.write(runtime_w, b"[function] handling")  # print()'s text, then its newline
        _wait(lambda: pump.pending() > 0)
        os.write(extension_w, b"[extension] got INVOKE\n")
        _wait(lambda: pump.pending() > len(b"[function] handling"))
        os.write(runtime_w, b" abc\n")
        _wait(lambda: pump.pending() >= 2 * 20)
        text = pump.take()
        assert sorted(text.splitlines()) == ["[extension] got INVOKE", "[function] handling abc"]
    finally:
        for fd in (runtime_w, extension_w):
            os.close(fd)
        _wait(pump.eof.is_set)
        pump.close()


def test_an_unfinished_line_is_given_at_take_and_the_stream_ends_with_its_last_writer() -> None:
    runtime_r, runtime_w = os.pipe()
    extension_r, extension_w = os.pipe()
    ended = threading.Event()
    pump = LogPump(runtime_r, initial=b"first\n", on_eof=ended.set)
    pump.add(extension_r)
    os.write(runtime_w, b"no newline")
    _wait(lambda: pump.pending() >= len(b"first\nno newline"))
    assert pump.take() == "first\nno newline"
    os.close(runtime_w)
    threading.Event().wait(0.1)
    assert not ended.is_set()  # the extension still writes
    os.write(extension_w, b"last words")
    os.close(extension_w)
    _wait(ended.is_set)
    assert pump.take() == "last words"
    pump.close()
