"""Collect an execution environment's output and cut it into per-invocation logs.

The runtime's stdout and stderr reach the host on one stream (a pipe for a process, a socket for
a container). A runtime writes its output before it posts the response that ends an invocation,
and by the time the host has read that response the output's bytes are already in the host's
receive buffer, so a non-blocking drain at that moment (`take()`) attributes every line to the
invocation that printed it, without waiting and without a timer.
"""

from __future__ import annotations

import os
import select
import socket
import threading
from collections.abc import Callable


class LogPump:
    """Read a stream in a background thread; `take()` returns what arrived since the last take."""

    def __init__(
        self,
        source: socket.socket | int,
        *,
        initial: bytes = b"",
        on_eof: Callable[[], None] | None = None,
        name: str = "lambda-logs",
    ) -> None:
        self._source = source
        if isinstance(source, socket.socket):
            source.setblocking(False)
            self._fd = source.fileno()
        else:
            os.set_blocking(source, False)
            self._fd = source
        self._lock = threading.Lock()
        self._buf = bytearray(initial)
        self._on_eof = on_eof
        self.eof = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _read_available(self) -> None:
        """Append everything readable now; call with the lock held."""
        while not self.eof.is_set():
            try:
                if isinstance(self._source, socket.socket):
                    data = self._source.recv(65536)
                else:
                    data = os.read(self._fd, 65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                self.eof.set()
                return
            self._buf += data

    def _run(self) -> None:
        try:
            while not self.eof.is_set():
                try:
                    select.select([self._fd], [], [], 1.0)
                except (OSError, ValueError):
                    break
                with self._lock:
                    self._read_available()
        finally:
            self.eof.set()
            if self._on_eof is not None:
                self._on_eof()

    def take(self) -> str:
        """Return (and forget) the output received so far, draining what is already readable."""
        with self._lock:
            self._read_available()
            data = bytes(self._buf)
            self._buf.clear()
        return data.decode("utf-8", "replace")

    def close(self) -> None:
        """Stop reading and close the stream."""
        self.eof.set()
        try:
            if isinstance(self._source, socket.socket):
                self._source.close()
            else:
                os.close(self._source)
        except OSError:
            pass
