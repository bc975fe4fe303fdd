"""The host's side of the in-container agent: tunnels the test host opens into the container.

With `--lambda-connect=published` nothing in the container connects to the host. The agent
(`_agent/agent.c`) serves the Runtime API on 127.0.0.1:9001 inside the container; the host keeps
a few authenticated, idle tunnels open to the agent's port 9000, and the agent pairs each
connection of the runtime (or of the wrapper's log stream) with one of them. When a tunnel's
first byte arrives, the connection it carries is handed to the environment's Runtime API server
as if it had been accepted there, and a fresh idle tunnel replaces it.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pytest_lambda.runtime_api.server import RuntimeAPIServer

#: The agent's ports inside the container.
AGENT_RUNTIME_PORT = 9001
AGENT_TUNNEL_PORT = 9000
#: Idle tunnels kept open per environment: the runtime, its log stream and an extension's
#: connections take one each, and are replaced at once.
SPARE = 3


class Tunnels:
    """Keep `SPARE` idle tunnels open to an agent and hand their connections to `server`."""

    def __init__(self, server: RuntimeAPIServer, secret: str, *, timeout: float = 30.0) -> None:
        self._server = server
        #: Proves the host's tunnels to the agent (given to it in its environment).
        self.secret = secret
        self._secret = secret.encode() + b"\n"
        self._timeout = timeout
        self._address: tuple[str, int] | None = None
        self._lock = threading.Lock()
        self._idle: set[socket.socket] = set()
        self._closed = False

    def start(self, address: tuple[str, int]) -> None:
        """Open the tunnels to the agent at `address` (retrying while the container starts)."""
        self._address = address
        for _ in range(SPARE):
            self._spawn()

    def _spawn(self) -> None:
        threading.Thread(target=self._run, name=f"lambda-tunnel:{self._server.port}",
                         daemon=True).start()

    def _connect(self) -> socket.socket | None:
        assert self._address is not None
        deadline = time.monotonic() + self._timeout
        delay = 0.005
        while not self._closed and not self._server.closed:
            try:
                conn = socket.create_connection(self._address, timeout=5)
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                conn.sendall(self._secret)
                conn.settimeout(None)
                return conn
            except OSError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(delay)  # the agent is not listening yet
                delay = min(delay * 2, 0.1)
        return None

    def _run(self) -> None:
        conn = self._connect()
        if conn is None:
            return
        with self._lock:
            if self._closed:
                conn.close()
                return
            self._idle.add(conn)
        try:
            first = conn.recv(1)
        except OSError:
            first = b""
        with self._lock:
            self._idle.discard(conn)
            closed = self._closed
        if first != b"\x01" or closed:
            conn.close()
            return  # the agent or the environment is gone
        self._spawn()  # replace it before serving, so the next connection finds one waiting
        self._server.adopt(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = list(self._idle), set()
        for conn in idle:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()
