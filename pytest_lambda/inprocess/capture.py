"""Output capture for in-process invocations: each handler thread's stdout, stderr and log
records go to its own invocation's lines, formatted as the Python runtime writes them.

`sys.stdout` and `sys.stderr` are replaced by routers and one logging handler sits on the root
logger while any invocation runs; a thread that is not registered (`sinks`) writes through.
"""

from __future__ import annotations

import _thread
import logging
import sys
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO

#: Where each running handler thread's output goes (its invocation's lines and request id), by
#: thread id. One map for the process, so that a stream a library kept from an earlier
#: invocation still routes the current one.
sinks: dict[int, tuple[list[str], str]] = {}


class _Router:
    """A stand-in for sys.stdout/sys.stderr that sends handler threads' writes to their sink."""

    def __init__(self, original: TextIO) -> None:
        self._original = original

    @property
    def original(self) -> TextIO:
        return self._original

    def write(self, text: str) -> int:
        sink = sinks.get(_thread.get_ident())
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
        sink = sinks.get(record.thread or 0)
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
def captured_output() -> Iterator[None]:
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


def release(thread_id: int, sink: list[str]) -> None:
    """Stop capturing the thread's output into `sink` (if it still goes there)."""
    entry = sinks.get(thread_id)
    if entry is not None and entry[0] is sink:
        sinks.pop(thread_id, None)
