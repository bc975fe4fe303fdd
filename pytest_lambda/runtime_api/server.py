"""The host side of the Lambda Runtime API, one listening port per execution environment.

`RuntimeAPIServer` accepts the environment's connections and hands each request to the
router its path belongs to: the runtime's routes (`runtime.py`, 2018-06-01) or the Extensions,
Logs and Telemetry APIs (`extensions.py`, `telemetry.py`). Both routers move one shared
`Lifecycle` (`lifecycle.py`) and neither knows the other; HTTP itself is `wire.py`. The service
and the backends drive the environment through this class's public methods.

The same port also accepts the environment's log stream: a connection whose first line is
`PYTEST-LAMBDA-LOGS <token>` carries the runtime's stdout and stderr (see `backends/logs.py`).
With extensions, the environment's wrapper also reports on it: `PYTEST-LAMBDA-EXTENSIONS <token>
<names>` (held open until every launched extension registered or exited, then answered `GO` or
`STOP`), `PYTEST-LAMBDA-EXTEXIT <token> <code> <name>` and `PYTEST-LAMBDA-EXIT <token> <code>`
(the runtime's exit status).

Only the environment a port belongs to may use it (Lambda serves the Runtime API inside the
sandbox alone). The environment gives the server an `authorize(peer)` check: True admits the
connection, False closes it at once, None holds it (at most `MAX_WAITING` of them, for
`ADMISSION_TIMEOUT` seconds) until the environment knows who it is and calls `admit_waiting()`.
A refused connection never gets a thread. Admitted ones are capped (`MAX_CONNECTIONS`) and must
send their first line within `FIRST_LINE_TIMEOUT` seconds; after that a connection is the
runtime's and may idle for as long as its handler runs.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable

from pytest_lambda.runtime_api import extensions as _extensions
from pytest_lambda.runtime_api.extensions import ExtensionsAPI
from pytest_lambda.runtime_api.lifecycle import Invocation, Lifecycle
from pytest_lambda.runtime_api.runtime import API_PREFIX, RuntimeRoutes
from pytest_lambda.runtime_api.telemetry import Telemetry
from pytest_lambda.runtime_api.wire import (
    NOT_FOUND,
    ConnectionClosed,
    Reader,
    Reply,
    Request,
    serve_http,
)

LOG_STREAM_MAGIC = b"PYTEST-LAMBDA-LOGS "
_CONTROL_MAGIC = b"PYTEST-LAMBDA-"

#: Connections one server serves at once: a runtime and its extensions use a handful.
MAX_CONNECTIONS = 64
#: Connections held until the environment can tell whether they are its own.
MAX_WAITING = 16
#: Seconds a held connection waits for the environment to say whose it is.
ADMISSION_TIMEOUT = 30.0
#: Seconds an admitted connection may take to send its first line.
FIRST_LINE_TIMEOUT = 10.0

#: `authorize(peer)`: True admits, False refuses, None cannot tell yet (see the module docstring).
Authorize = Callable[[tuple[str, int]], "bool | None"]


def _drop(conn: socket.socket) -> None:
    try:
        conn.close()
    except OSError:
        pass


class RuntimeAPIServer:
    """Serve the Runtime API for one execution environment on an ephemeral port.

    The service hands invocations over with `dispatch()`; runtime progress is observable through
    `wait_for()`, which wakes on every state change (first `/next`, `/init/error`, a response,
    `close()`). `lifecycle` holds that state; `extensions` and `telemetry` are the environment's
    Extensions API and Logs/Telemetry subscriptions.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        *,
        on_log_stream: Callable[[socket.socket, bytes], None] | None = None,
        log_token: str | None = None,
        on_runtime_exit: Callable[[int], None] | None = None,
        authorize: Authorize | None = None,
    ) -> None:
        self._listener = socket.create_server((host, 0), backlog=1024)
        self._authorize = authorize
        self._waiting: dict[socket.socket, tuple[tuple[str, int], float]] = {}
        self.first_line_timeout = FIRST_LINE_TIMEOUT
        #: Connections closed unserved (not the environment's own, or over the cap).
        self.refused = 0
        self.host = host
        self.port: int = self._listener.getsockname()[1]
        self._on_log_stream = on_log_stream
        self._on_runtime_exit = on_runtime_exit
        self.log_token = log_token or uuid.uuid4().hex
        self.lifecycle = Lifecycle()
        self._cond = self.lifecycle.cond
        self.telemetry = Telemetry()
        self.extensions = ExtensionsAPI(self.lifecycle, self.telemetry)
        self._runtime = RuntimeRoutes(self.lifecycle)
        self._connections: set[socket.socket] = set()
        self._accept_thread = threading.Thread(
            target=self._accept_loop, name=f"lambda-runtime-api:{self.port}", daemon=True
        )
        self._accept_thread.start()

    @property
    def address(self) -> str:
        """Return `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`."""
        return f"{self.host}:{self.port}"

    # -- the service's side -------------------------------------------------------------------

    @property
    def state(self) -> str:
        """The runtime's state, as Lambda's messages name it (`lifecycle.py`)."""
        return self.lifecycle.state

    @property
    def ready_at(self) -> float | None:
        """When init ended: the runtime and every registered extension asked for an event."""
        return self.lifecycle.ready_at

    @property
    def runtime_ready_at(self) -> float | None:
        """When the runtime first asked for an event."""
        return self.lifecycle.runtime_ready_at

    @property
    def init_error(self) -> tuple[str, bytes, str] | None:
        """How init failed: (error type, body, content type), or None."""
        return self.lifecycle.init_error

    @property
    def init_error_source(self) -> str:
        """Who failed the init: "runtime" or "extension"."""
        return self.lifecycle.init_error_source

    @property
    def closed(self) -> bool:
        return self.lifecycle.closed

    def dispatch(self, invocation: Invocation) -> None:
        """Hand `invocation` to the runtime's (current or next) `/next`, and its INVOKE event to
        the extensions subscribed to it."""
        with self._cond:
            self.lifecycle.dispatch(invocation)
            if self.extensions.registered:
                self.extensions.invoke(invocation)

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until `predicate()` holds (checked under the server's lock) or `timeout` passes."""
        return self.lifecycle.wait_for(predicate, timeout)

    def notify(self) -> None:
        """Wake every `wait_for` so it re-checks its predicate (used when the runtime exits)."""
        self.lifecycle.notify()

    def abandon_current(self) -> None:
        """Forget the running invocation (after a timeout): late answers get 400."""
        self.lifecycle.abandon_current()

    def close(self) -> None:
        """Stop listening and drop every connection; blocked `/next` calls get no answer."""
        with self._cond:
            if not self.lifecycle.close():
                return
            connections = list(self._connections) + list(self._waiting)
            self._waiting.clear()
        try:
            self._listener.close()
        except OSError:
            pass
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                conn.close()
            except OSError:
                pass

    # -- connections --------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self.lifecycle.closed:
            try:
                conn, peer = self._listener.accept()
            except TimeoutError:
                try:
                    self._expire_waiting()
                except OSError:
                    return  # closed meanwhile
                continue
            except OSError:
                return
            verdict = True if self._authorize is None else self._authorize(peer[:2])
            with self._cond:
                if self.lifecycle.closed:
                    conn.close()
                    return
                if verdict is False or len(self._connections) >= MAX_CONNECTIONS or (
                        verdict is None and len(self._waiting) >= MAX_WAITING):
                    self.refused += 1
                    _drop(conn)
                    continue
                if verdict is None:
                    self._waiting[conn] = (peer[:2], time.monotonic())
                    self._listener.settimeout(1.0)  # wake to expire it
                    continue
                self._connections.add(conn)
            self._serve(conn)

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(
            target=self._serve_connection,
            args=(conn,),
            name=f"lambda-runtime-api:{self.port}:conn",
            daemon=True,
        ).start()

    def adopt(self, conn: socket.socket) -> None:
        """Serve `conn`, a connection of the environment that reached the host another way (a
        tunnel the host opened into the environment; see `backends/docker/tunnel.py`)."""
        with self._cond:
            refused = self.lifecycle.closed or len(self._connections) >= MAX_CONNECTIONS
            if refused:
                self.refused += 1
            else:
                self._connections.add(conn)
        if refused:
            _drop(conn)
        else:
            self._serve(conn)

    def admit_waiting(self) -> None:
        """Ask `authorize` again about the held connections (the environment now knows itself)."""
        with self._cond:
            waiting = list(self._waiting.items())
        for conn, (peer, _since) in waiting:
            verdict = self._authorize(peer) if self._authorize is not None else True
            if verdict is None:
                continue
            with self._cond:
                if self._waiting.pop(conn, None) is None:
                    continue  # expired or closed meanwhile
                admitted = verdict and not self.lifecycle.closed and len(
                    self._connections) < MAX_CONNECTIONS
                if admitted:
                    self._connections.add(conn)
                else:
                    self.refused += 1
            if admitted:
                self._serve(conn)
            else:
                _drop(conn)

    def _expire_waiting(self) -> None:
        limit = time.monotonic() - ADMISSION_TIMEOUT
        with self._cond:
            expired = [conn for conn, (_peer, since) in self._waiting.items() if since < limit]
            for conn in expired:
                del self._waiting[conn]
            self.refused += len(expired)
            if not self._waiting and not self.lifecycle.closed:
                self._listener.settimeout(None)
        for conn in expired:
            _drop(conn)

    def _serve_connection(self, conn: socket.socket) -> None:
        reader = Reader(conn)
        handed_over = False
        try:
            conn.settimeout(self.first_line_timeout)
            first = reader.peek_line()
            if not first:
                return  # closed before its first line
            conn.settimeout(None)  # the runtime's own connection: it idles while handlers run
            if first.startswith(LOG_STREAM_MAGIC):
                token = first[len(LOG_STREAM_MAGIC):].strip().decode("ascii", "replace")
                reader.readline()
                if token == self.log_token and self._on_log_stream is not None:
                    handed_over = True
                    with self._cond:
                        self._connections.discard(conn)
                    self._on_log_stream(conn, reader.take_buffered())
                return
            if first.startswith(_CONTROL_MAGIC):
                reader.readline()
                self._control(conn, first.decode("utf-8", "replace").split())
                return
            serve_http(conn, reader, lambda request: self._route(request, conn),
                       lambda: self.lifecycle.closed)
        except (ConnectionClosed, OSError):
            return
        finally:
            if not handed_over:
                with self._cond:
                    self._connections.discard(conn)
                try:
                    conn.close()
                except OSError:
                    pass

    def _control(self, conn: socket.socket, words: list[str]) -> None:
        """Handle a report of the environment's wrapper (see the module docstring)."""
        if len(words) < 2 or words[1] != self.log_token:
            return
        kind, args = words[0], words[2:]
        if kind == "PYTEST-LAMBDA-EXTENSIONS":
            go = self.extensions.announce(args)
            conn.sendall(b"GO\n" if go else b"STOP\n")
        elif kind == "PYTEST-LAMBDA-EXTEXIT" and len(args) == 2 and args[0].isdigit():
            self.extensions.extension_exited(args[1], int(args[0]))
        elif (kind == "PYTEST-LAMBDA-EXIT" and len(args) == 1 and args[0].isdigit()
              and self._on_runtime_exit is not None):
            self._on_runtime_exit(int(args[0]))

    # -- routing ------------------------------------------------------------------------------

    def _route(self, req: Request, conn: socket.socket | None = None) -> Reply | None:
        if req.path.startswith(f"{API_PREFIX}/"):
            return self._runtime.route(req, conn)
        if req.path.startswith(_extensions.PREFIXES):
            return self.extensions.route(req)
        return NOT_FOUND
