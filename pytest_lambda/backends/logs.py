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
    """Read an environment's output streams in a background thread; `take()` returns what
    arrived since the last take.

    A process backend gives each process (the runtime, each extension) a pipe of its own
    (`add`), and lines are merged whole: a `print` that reaches the pipe as two writes (its
    text, then its newline) is never split by another process's line, as Lambda keeps each
    process's lines whole. The output ends (`eof`, `on_eof`) when every stream has ended.
    """

    def __init__(
        self,
        source: socket.socket | int,
        *,
        initial: bytes = b"",
        on_eof: Callable[[], None] | None = None,
        name: str = "lambda-logs",
    ) -> None:
        self._lock = threading.Lock()
        self._buf = bytearray(initial)
        #: Each open stream's file descriptor: (its socket or None, its unfinished line).
        self._sources: dict[int, tuple[socket.socket | None, bytearray]] = {}
        self._on_eof = on_eof
        self.eof = threading.Event()
        self.add(source)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def add(self, source: socket.socket | int, initial: bytes = b"") -> None:
        """Read another stream too (a pipe's read end or a socket; the pump closes it), whose
        first bytes, already read, are `initial`."""
        if isinstance(source, socket.socket):
            source.setblocking(False)
            fd, sock = source.fileno(), source
        else:
            os.set_blocking(source, False)
            fd, sock = source, None
        with self._lock:
            self._sources[fd] = (sock, bytearray(initial))

    def pending(self) -> int:
        """Return how many bytes a `take()` would return now (read so far)."""
        with self._lock:
            self._read_available()
            return len(self._buf) + sum(len(line) for _, line in self._sources.values())

    def _read_available(self) -> None:
        """Read everything readable now into whole lines; call with the lock held."""
        for fd, (sock, line) in list(self._sources.items()):
            while True:
                try:
                    data = sock.recv(65536) if sock is not None else os.read(fd, 65536)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    data = b""
                if not data:  # this stream ended: its last words, whole or not
                    self._buf += line
                    del self._sources[fd]
                    self._close(fd, sock)
                    break
                line += data
                end = line.rfind(b"\n") + 1
                if end:
                    self._buf += line[:end]
                    del line[:end]
        if not self._sources:
            self.eof.set()

    def _run(self) -> None:
        try:
            while not self.eof.is_set():
                with self._lock:
                    fds = list(self._sources)
                try:
                    select.select(fds, [], [], 1.0)
                except (OSError, ValueError):
                    break
                with self._lock:
                    self._read_available()
        finally:
            self.eof.set()
            if self._on_eof is not None:
                self._on_eof()

    def take(self) -> str:
        """Return (and forget) the output received so far, draining what is already readable;
        a line not finished yet is given as it is."""
        with self._lock:
            self._read_available()
            for _, line in self._sources.values():
                self._buf += line
                line.clear()
            data = bytes(self._buf)
            self._buf.clear()
        return data.decode("utf-8", "replace")

    @staticmethod
    def _close(fd: int, sock: socket.socket | None) -> None:
        try:
            if sock is not None:
                sock.close()
            else:
                os.close(fd)
        except OSError:
            pass

    def close(self) -> None:
        """Stop reading and close the streams."""
        self.eof.set()
        with self._lock:
            sources, self._sources = self._sources, {}
        for fd, (sock, _) in sources.items():
            self._close(fd, sock)
