"""The host side of the Lambda Runtime API (2018-06-01), one listening port per environment.

The runtime inside an execution environment (awslambdaric, the Node.js client, a `bootstrap`
script) polls `GET /runtime/invocation/next`, then posts the outcome to `/response` or `/error`;
before its first poll it may post `/runtime/init/error`. This module speaks that protocol with
Lambda's status codes, error documents and state machine (`docs/api-behaviours.md` lists them),
over HTTP/1.1 with keep-alive. An invocation ends when the runtime asks for its next event, not
when it answers: Lambda counts the work a runtime does after answering.

Latency matters: every reply is written with a single `sendall` on a socket with `TCP_NODELAY`,
so no Nagle/delayed-ACK stall sits between the runtime and the test (a naive `http.server`
costs ~40 ms a round trip).

The same port also accepts the environment's log stream: a connection whose first line is
`PYTEST-LAMBDA-LOGS <token>` carries the runtime's stdout and stderr (see `_logs.py`). With
extensions, the environment's wrapper also reports on it: `PYTEST-LAMBDA-EXTENSIONS <token>
<names>` (held open until every launched extension registered or exited, then answered `GO` or
`STOP`), `PYTEST-LAMBDA-EXTEXIT <token> <code> <name>` and `PYTEST-LAMBDA-EXIT <token> <code>`
(the runtime's exit status). The Extensions, Logs and Telemetry APIs live in `_extensions.py`.

Only the environment a port belongs to may use it (Lambda serves the Runtime API inside the
sandbox alone). The environment gives the server an `authorize(peer)` check: True admits the
connection, False closes it at once, None holds it (at most `MAX_WAITING` of them, for
`ADMISSION_TIMEOUT` seconds) until the environment knows who it is and calls `admit_waiting()`.
A refused connection never gets a thread. Admitted ones are capped (`MAX_CONNECTIONS`) and must
send their first line within `FIRST_LINE_TIMEOUT` seconds; after that a connection is the
runtime's and may idle for as long as its handler runs.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import select
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_lambda.config import limits as _limits
from pytest_lambda.runtime_api.extensions import ExtensionsAPI

API_PREFIX = "/2018-06-01"
LOG_STREAM_MAGIC = b"PYTEST-LAMBDA-LOGS "
_CONTROL_MAGIC = b"PYTEST-LAMBDA-"

# Lambda checks with Go's regexp.MatchString, which is not anchored: "Runtime.Foo2" passes.
_ERROR_TYPE_RE = re.compile(r"(Runtime|Function)\.[A-Z][a-zA-Z]+")
_RESPONSE_MODE_HEADER = "lambda-runtime-function-response-mode"
_ERROR_TYPE_TRAILER = "lambda-runtime-function-error-type"
_ERROR_BODY_TRAILER = "lambda-runtime-function-error-body"
_ERROR_CAUSE_CONTENT_TYPE = "application/vnd.aws.lambda.error.cause+json"
# Strict framing numbers: Python's int() would also take "-5", "+5", "1_0" and "0x5".
_CHUNK_SIZE_RE = re.compile(rb"^[0-9A-Fa-f]{1,15}$")
_CONTENT_LENGTH_RE = re.compile(r"^[0-9]{1,18}$")
_INVOCATION_PATH_RE = re.compile(
    r"^/2018-06-01/runtime/invocation/(?P<id>[^/]*)/(?P<kind>response|error)$"
)

_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    410: "Gone",
    413: "Request Entity Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
}

# Runtime states, named as Lambda's messages name them.
STARTED = "Started"
READY = "Ready"
RUNNING = "Running"
RESPONSE_SENT = "RuntimeResponseSentState"
INIT_ERROR = "InitError"


def sanitize_error_type(value: str | None) -> str:
    """Return the error type Lambda records for a `Lambda-Runtime-Function-Error-Type` value."""
    if value and _ERROR_TYPE_RE.search(value):
        return value
    if value and value.startswith("Function."):
        return "Function.Unknown"
    return "Runtime.Unknown"


@dataclass
class Invocation:
    """One invocation handed to a runtime, and what the runtime answered."""

    payload: bytes
    deadline_ms: int
    function_arn: str
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    invocation_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    client_context: str | None = None
    cognito_identity: str | None = None
    tenant_id: str | None = None
    trace_id: str | None = None
    # Filled in when the runtime answers (`done`), and when it asks for its next event
    # (`finished`): Lambda counts the invocation until then.
    outcome: str | None = None  # "response", "error" or "too_large"
    body: bytes = b""
    content_type: str | None = None
    error_type: str | None = None
    response_size: int = 0
    delivered: bool = False  # the runtime has received it from /next
    completed_at: float | None = None
    done: threading.Event = field(default_factory=threading.Event, repr=False)
    finished_at: float | None = None
    finished: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def responded_at(self) -> float | None:
        """When the runtime answered (perf_counter seconds), or None."""
        return self.completed_at

    def complete(self, outcome: str, body: bytes, content_type: str | None, error_type: str | None
                 ) -> None:
        self.outcome = outcome
        self.body = body
        self.content_type = content_type
        self.error_type = error_type
        self.completed_at = time.perf_counter()
        self.done.set()

    def finish(self) -> None:
        """Mark the end of the invocation: the runtime asked for its next event."""
        if not self.finished.is_set():
            self.finished_at = time.perf_counter()
            self.finished.set()


class _BadRequest(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


class _ConnectionClosed(Exception):
    pass


def _json_reply(status: int, document: dict[str, str]) -> tuple[int, bytes, str]:
    # Lambda's Go server renders compact JSON followed by a newline.
    return status, json.dumps(document, separators=(",", ":")).encode() + b"\n", "application/json"


def _error_reply(status: int, error_type: str, message: str) -> tuple[int, bytes, str]:
    return _json_reply(status, {"errorMessage": message, "errorType": error_type})


def _transition_error(current: str, target: str) -> tuple[int, bytes, str]:
    return _error_reply(
        403,
        "InvalidStateTransition",
        f"State transition from {current} to {target} failed for runtime. "
        "Error: State transition is not allowed",
    )


_ACCEPTED = _json_reply(202, {"status": "OK"})

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
    `close()`).
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
        self._cond = threading.Condition()
        self.state = STARTED
        #: When init ended: the runtime and every registered extension asked for their next event.
        self.ready_at: float | None = None
        self.runtime_ready_at: float | None = None
        self.init_error: tuple[str, bytes, str] | None = None  # (error type, body, content type)
        self.init_error_source = "runtime"  # or "extension"
        self.extensions = ExtensionsAPI(self)
        self._pending: Invocation | None = None
        self._current: Invocation | None = None
        self._closed = False
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

    def dispatch(self, invocation: Invocation) -> None:
        """Hand `invocation` to the runtime's (current or next) `/next` call."""
        with self._cond:
            if self._pending is not None or (
                self._current is not None and self.state == RUNNING
            ):
                raise RuntimeError("an execution environment serves one invocation at a time")
            self._pending = invocation
            if self.extensions.by_id:
                self.extensions.invoke(invocation.request_id, invocation.deadline_ms,
                                       invocation.function_arn, invocation.trace_id)
            self._cond.notify_all()

    def _check_init_done(self) -> None:
        """Set `ready_at` once the runtime and every extension are ready; call with the lock."""
        if (self.ready_at is None and self.runtime_ready_at is not None
                and self.init_error is None and self.extensions.all_ready()):
            self.ready_at = time.perf_counter() if self.extensions.by_id else self.runtime_ready_at
            self.extensions.init_done()
            self._cond.notify_all()

    def wait_for(self, predicate: Callable[[], bool], timeout: float | None) -> bool:
        """Wait until `predicate()` holds (checked under the server's lock) or `timeout` passes."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate() or self._closed, timeout)

    def notify(self) -> None:
        """Wake every `wait_for` so it re-checks its predicate (used when the runtime exits)."""
        with self._cond:
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed

    def abandon_current(self) -> None:
        """Forget the running invocation (after a timeout): late answers get 400."""
        with self._cond:
            self._current = None
            self._pending = None

    def close(self) -> None:
        """Stop listening and drop every connection; blocked `/next` calls get no answer."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
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
        while not self._closed:
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
                if self._closed:
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
        tunnel the host opened into the environment; see `_tunnel.py`)."""
        with self._cond:
            refused = self._closed or len(self._connections) >= MAX_CONNECTIONS
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
                admitted = verdict and not self._closed and len(
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
            if not self._waiting and not self._closed:
                self._listener.settimeout(None)
        for conn in expired:
            _drop(conn)

    def _serve_connection(self, conn: socket.socket) -> None:
        reader = _Reader(conn)
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
            while not self._closed:
                try:
                    request = reader.read_request()
                except _BadRequest as exc:
                    self._send(conn, *_error_reply(exc.status, exc.error_type, exc.message),
                               close=True)
                    return
                if request is None:
                    return
                reply = self._route(request, conn)
                if reply is None:  # closed while waiting for an invocation
                    return
                status, body, ctype, headers = reply
                keep = request.keep_alive
                self._send(conn, status, body, ctype, headers, close=not keep)
                if not keep:
                    return
        except (_ConnectionClosed, OSError):
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

    @staticmethod
    def _send(
        conn: socket.socket,
        status: int,
        body: bytes,
        content_type: str | None,
        headers: list[tuple[str, str]] | None = None,
        *,
        close: bool = False,
    ) -> None:
        lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}"]
        if content_type:
            lines.append(f"Content-Type: {content_type}")
        for name, value in headers or ():
            # Like Go's net/http: a value's CR/LF become spaces, text goes out as UTF-8.
            lines.append(f"{name}: {value.replace(chr(13), ' ').replace(chr(10), ' ')}")
        lines.append(f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}")
        lines.append(f"Content-Length: {len(body)}")
        if close:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
        conn.sendall(head + body)

    # -- routing ------------------------------------------------------------------------------

    def _route(
        self, req: _Request, conn: socket.socket | None = None
    ) -> tuple[int, bytes, str | None, list[tuple[str, str]]] | None:
        path = req.path.split("?", 1)[0]
        if path == "/2018-06-01/runtime/invocation/next":
            if req.method != "GET":
                return not_allowed("GET")
            return self._next(conn)
        match = _INVOCATION_PATH_RE.match(path)
        if match:
            if req.method != "POST":
                return not_allowed("POST")
            return (*self._invocation_answer(req, match["id"], match["kind"]), [])
        if path == "/2018-06-01/runtime/init/error":
            if req.method != "POST":
                return not_allowed("POST")
            return (*self._init_error(req), [])
        if path == "/2018-06-01/ping":
            if req.method != "GET":
                return not_allowed("GET")
            return 200, b"pong", "text/plain; charset=utf-8", []
        if path.startswith(("/2020-01-01/", "/2020-08-15/", "/2022-07-01/")):
            return self.extensions.route(req, path)
        return 404, b"404 page not found\n", "text/plain; charset=utf-8", []

    def _next(self, conn: socket.socket | None = None
              ) -> tuple[int, bytes, str | None, list[tuple[str, str]]] | None:
        """Block until an invocation is dispatched, then hand it over (marked `delivered`).

        A runtime that died while it waited here (its end of `conn` closed) gets nothing: the
        invocation stays undelivered, so the service may serve it on a new environment.
        """
        with self._cond:
            if self.state == INIT_ERROR:
                return (*_transition_error(INIT_ERROR, READY), [])
            if self.state == RUNNING and self._current is not None:
                # A repeated /next while the invocation runs gets the same event again.
                return self._render_invocation(self._current)
            if self._current is not None and self.state == RESPONSE_SENT:
                self._current.finish()
            self.state = READY
            if self.runtime_ready_at is None:
                self.runtime_ready_at = time.perf_counter()
                self.extensions.runtime_ready()
                self._check_init_done()
            self._current = None
            self._cond.notify_all()
            while self._pending is None:
                if self._closed:
                    return None
                if self.state == RUNNING and self._current is not None:
                    # Another /next took the invocation while this one waited: same event.
                    return self._render_invocation(self._current)
                self._cond.wait()
            if conn is not None and _peer_closed(conn):
                return None
            invocation, self._pending = self._pending, None
            invocation.delivered = True
            self._current = invocation
            self.state = RUNNING
            self._cond.notify_all()
            return self._render_invocation(invocation)

    @staticmethod
    def _render_invocation(
        inv: Invocation,
    ) -> tuple[int, bytes, str | None, list[tuple[str, str]]]:
        headers = [
            ("Lambda-Runtime-Aws-Request-Id", inv.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(inv.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", inv.function_arn),
            ("Lambda-Runtime-Invocation-Id", inv.invocation_id),
        ]
        if inv.trace_id:
            headers.append(("Lambda-Runtime-Trace-Id", inv.trace_id))
        if inv.client_context:
            headers.append(("Lambda-Runtime-Client-Context", inv.client_context))
        if inv.cognito_identity:
            headers.append(("Lambda-Runtime-Cognito-Identity", inv.cognito_identity))
        if inv.tenant_id:
            headers.append(("Lambda-Runtime-Aws-Tenant-Id", inv.tenant_id))
        return 200, inv.payload, "application/json", headers

    def _invocation_answer(self, req: _Request, request_id: str, kind: str
                           ) -> tuple[int, bytes, str]:
        target = "InvocationResponse" if kind == "response" else "InvocationErrorResponse"
        with self._cond:
            current = self._current
            if current is None or current.request_id != request_id:
                # The id is checked before the body is looked at: a late, oversized
                # answer is still just an invalid request id.
                return _error_reply(400, "InvalidRequestID", "Invalid request ID")
            echoed = req.header("lambda-runtime-invocation-id")
            if echoed is not None and echoed != current.invocation_id:
                return _error_reply(400, "InvalidRequestID", "Invalid invocation ID")
            if self.state != RUNNING:
                return _transition_error(RESPONSE_SENT, target)
            self.state = RESPONSE_SENT
            if req.oversized:
                current.response_size = req.body_size
                current.complete("too_large", b"", None, None)
                self._answered(current)
                return _too_large_reply()
            content_type = req.header("content-type")
            mode = req.header(_RESPONSE_MODE_HEADER)
            if kind == "response" and mode is not None and mode != "streaming":
                document = {"errorType": "Runtime.InvalidResponseModeHeader",
                            "errorMessage": f"The runtime answered with response mode {mode!r}; "
                                            f"the only mode is 'streaming'."}
                current.complete("error", json.dumps(document).encode(), "application/json",
                                 "Runtime.InvalidResponseModeHeader")
                self._answered(current)
                return _error_reply(400, "InvalidFunctionResponseMode",
                                    "Invalid function response mode")
            if kind == "response" and req.trailers.get(_ERROR_TYPE_TRAILER):
                # A streamed response that failed after it began: the runtime names the error
                # in trailers, its body base64 (Lambda passes both on as they are).
                current.complete("error", _decode_error_body(req.trailers.get(_ERROR_BODY_TRAILER)),
                                 "application/json", req.trailers[_ERROR_TYPE_TRAILER])
            elif kind == "response":
                current.complete("response", req.body, content_type, None)
            else:
                body = req.body
                if content_type and content_type.split(";")[0].strip() == _ERROR_CAUSE_CONTENT_TYPE:
                    body = _strip_error_cause(body)
                error_type = sanitize_error_type(req.header("lambda-runtime-function-error-type"))
                current.complete("error", body, content_type, error_type)
            self._answered(current)
        return _ACCEPTED

    def _answered(self, invocation: Invocation) -> None:
        """Wake the service: the runtime has answered; call with the lock held."""
        self._cond.notify_all()

    def _init_error(self, req: _Request) -> tuple[int, bytes, str]:
        with self._cond:
            if self.state != STARTED:
                return _transition_error(self.state, INIT_ERROR)
            if req.oversized:
                return _too_large_reply()
            error_type = sanitize_error_type(req.header("lambda-runtime-function-error-type"))
            try:
                json.loads(req.body)
                content_type = "application/json"
            except ValueError:
                content_type = "application/octet-stream"
            self.init_error = (error_type, req.body, content_type)
            self.state = INIT_ERROR
            self._cond.notify_all()
        return _ACCEPTED


def _peer_closed(conn: socket.socket) -> bool:
    """Return True when the other end of `conn` has closed it (without waiting)."""
    poller = select.poll()
    poller.register(conn, select.POLLIN)
    events = poller.poll(0)
    if not events:
        return False
    if events[0][1] & (select.POLLERR | select.POLLNVAL):
        return True
    try:
        return conn.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True


def _too_large_reply() -> tuple[int, bytes, str]:
    limit = _limits.RESPONSE_MAX_BYTES
    return _error_reply(
        413,
        "RequestEntityTooLarge",
        f"Exceeded maximum allowed payload size ({limit} bytes).",
    )


def not_allowed(allow: str) -> tuple[int, bytes, str | None, list[tuple[str, str]]]:
    """Return a 405 answer naming the method the path takes, as Go's router does."""
    return 405, b"", None, [("Allow", allow)]


def _strip_error_cause(body: bytes) -> bytes:
    # Lambda re-renders the cause as its own error document: errorMessage and errorType always
    # (empty when missing), stackTrace when not empty; errorCause goes to X-Ray only.
    try:
        doc = json.loads(body)
        if not isinstance(doc, dict):
            raise ValueError
        kept: dict[str, object] = {"errorMessage": doc.get("errorMessage") or "",
                                   "errorType": doc.get("errorType") or ""}
        if doc.get("stackTrace"):
            kept["stackTrace"] = doc["stackTrace"]
    except (ValueError, TypeError):
        return b'"Invalid error body"'
    return json.dumps(kept, separators=(",", ":")).encode()


def _decode_error_body(value: str | None) -> bytes:
    """Return the error document of a `Lambda-Runtime-Function-Error-Body` trailer (base64)."""
    if not value:
        return b""
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return value.encode("utf-8", "replace")


@dataclass
class _Request:
    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes
    oversized: bool
    body_size: int
    trailers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        return self.headers.get(name)

    @property
    def keep_alive(self) -> bool:
        connection = (self.headers.get("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


class _Reader:
    """Buffered, bounded reading of HTTP/1.1 requests from a socket."""

    _CHUNK = 65536

    def __init__(self, conn: socket.socket) -> None:
        self._conn = conn
        self._buf = bytearray()

    def _fill(self) -> bool:
        data = self._conn.recv(self._CHUNK)
        if not data:
            return False
        self._buf += data
        return True

    def peek_line(self) -> bytes:
        """Return the first line (without consuming it), or what arrived before EOF."""
        limit = _limits.RUNTIME_API_MAX_HEADER_BYTES
        while b"\n" not in self._buf and len(self._buf) < limit:
            if not self._fill():
                break
        end = self._buf.find(b"\n")
        return bytes(self._buf[: end + 1] if end >= 0 else self._buf)

    def readline(self, limit: int = _limits.RUNTIME_API_MAX_HEADER_BYTES) -> bytes:
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > limit:
                raise _BadRequest(431, "RequestHeaderFieldsTooLarge", "Request header too large")
            if not self._fill():
                if self._buf:
                    raise _ConnectionClosed()
                return b""

    def take_buffered(self) -> bytes:
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise _ConnectionClosed()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def discard(self, n: int) -> None:
        while n > 0:
            if not self._buf and not self._fill():
                raise _ConnectionClosed()
            take = min(n, len(self._buf))
            del self._buf[:take]
            n -= take

    def read_request(self) -> _Request | None:
        line = self.readline()
        while line in (b"\r\n", b"\n"):  # tolerate blank lines between requests
            line = self.readline()
        if not line:
            return None
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ")
        except ValueError:
            raise _BadRequest(400, "BadRequest", "Malformed request line") from None
        if not version.startswith("HTTP/1."):
            raise _BadRequest(400, "BadRequest", "Unsupported HTTP version")
        headers = self._read_fields(len(line), "header")
        if "100-continue" in headers.get("expect", "").lower() and version != "HTTP/1.0" and (
                headers.get("content-length", "0") != "0" or "transfer-encoding" in headers):
            # curl waits a second for this before it sends a body over 1 MiB; Go's server sends
            # it when the handler starts reading, which every route here does at once.
            self._conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        trailers: dict[str, str] = {}
        body, oversized, size = self._read_body(headers, trailers)
        return _Request(method, target, version, headers, body, oversized, size, trailers)

    def _read_fields(self, total: int, what: str) -> dict[str, str]:
        """Read "Name: value" lines up to the blank line: a request's headers or a chunked
        body's trailers, `total` bytes of the head already read, within the header size limit."""
        fields: dict[str, str] = {}
        while True:
            raw = self.readline()
            if not raw:
                raise _ConnectionClosed()
            total += len(raw)
            if total > _limits.RUNTIME_API_MAX_HEADER_BYTES:
                raise _BadRequest(431, "RequestHeaderFieldsTooLarge", f"Request {what} too large")
            if raw in (b"\r\n", b"\n"):
                return fields
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name.strip():
                raise _BadRequest(400, "BadRequest", f"Malformed {what} line")
            key = name.strip().lower()
            value = value.strip()
            fields[key] = f"{fields[key]}, {value}" if key in fields else value

    def _read_body(self, headers: dict[str, str], trailers: dict[str, str]
                   ) -> tuple[bytes, bool, int]:
        cap = _limits.RESPONSE_MAX_BYTES
        if "chunked" in headers.get("transfer-encoding", "").lower():
            return self._read_chunked(cap, trailers)
        length_text = headers.get("content-length")
        if length_text is None:
            return b"", False, 0
        if not _CONTENT_LENGTH_RE.match(length_text):
            raise _BadRequest(400, "BadRequest", "Invalid Content-Length")
        length = int(length_text)
        if length > cap:
            self.discard(length)
            return b"", True, length
        return self.read_exact(length), False, length

    def _read_chunked(self, cap: int, trailers: dict[str, str]) -> tuple[bytes, bool, int]:
        parts: list[bytes] = []
        size = 0
        while True:
            line = self.readline()
            if not line:
                raise _ConnectionClosed()
            size_text = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE_RE.match(size_text):
                raise _BadRequest(400, "BadRequest", "Invalid chunk size")
            chunk = int(size_text, 16)
            if chunk == 0:
                break
            size += chunk
            if size > cap:
                self.discard(chunk)
                parts.clear()
            else:
                parts.append(self.read_exact(chunk))
            if self.read_exact(2) != b"\r\n":  # chunk data ends with exactly CRLF
                raise _BadRequest(400, "BadRequest", "Malformed chunk")
        trailers.update(self._read_fields(0, "trailer"))  # checked like header lines
        if size > cap:
            return b"", True, size
        return b"".join(parts), False, size
