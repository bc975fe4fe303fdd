"""HTTP/1.1 on one socket, as the Runtime API's clients speak it: requests in, replies out.

Reading is bounded: a request's head (line, headers, a chunked body's trailers) may not exceed
`RUNTIME_API_MAX_HEADER_BYTES`, and a body over `RESPONSE_MAX_BYTES` is read and dropped
(`Request.oversized`), so the route can answer 413 instead of the connection breaking. Framing
numbers are checked strictly, `Expect: 100-continue` is honoured, and `serve_http` keeps a
connection alive between requests as HTTP/1.1 (and HTTP/1.0's `keep-alive`) ask.

Latency matters: every reply is written with a single `sendall` (the server sets `TCP_NODELAY`),
so no Nagle/delayed-ACK stall sits between the runtime and the test (a naive `http.server` costs
~40 ms a round trip).
"""

from __future__ import annotations

import json
import re
import select
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from pytest_lambda.config import limits as _limits

#: status, body, content type (None: no Content-Type header), extra headers.
Reply = tuple[int, bytes, "str | None", list[tuple[str, str]]]

# Strict framing numbers: Python's int() would also take "-5", "+5", "1_0" and "0x5".
_CHUNK_SIZE_RE = re.compile(rb"^[0-9A-Fa-f]{1,15}$")
_CONTENT_LENGTH_RE = re.compile(r"^[0-9]{1,18}$")

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

#: What Go's router answers for a path it does not know.
NOT_FOUND: Reply = (404, b"404 page not found\n", "text/plain; charset=utf-8", [])


class BadRequest(Exception):
    """A request that cannot be read: answered with `status` and an error document, then closed."""

    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message


class ConnectionClosed(Exception):
    """The peer closed the connection in the middle of a request."""


def compact_json(document: object) -> bytes:
    """Render `document` as Lambda's Go server does: compact JSON followed by a newline."""
    return json.dumps(document, separators=(",", ":")).encode() + b"\n"


def json_reply(status: int, document: object, headers: list[tuple[str, str]] | None = None
               ) -> Reply:
    """Return a reply carrying `document` as compact JSON."""
    return status, compact_json(document), "application/json", list(headers or ())


def error_reply(status: int, error_type: str, message: str) -> Reply:
    """Return the APIs' error document `{"errorMessage": ..., "errorType": ...}` with `status`."""
    return json_reply(status, {"errorMessage": message, "errorType": error_type})


def not_allowed(allow: str) -> Reply:
    """Return a 405 answer naming the method the path takes, as Go's router does."""
    return 405, b"", None, [("Allow", allow)]


@dataclass
class Request:
    """One HTTP request as read from the wire (header names lower-cased)."""

    method: str
    path: str
    version: str
    headers: dict[str, str]
    body: bytes
    oversized: bool
    body_size: int
    trailers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """Return the value of the header `name` (lower-case), or None."""
        return self.headers.get(name)

    @property
    def keep_alive(self) -> bool:
        """Whether the connection stays open after the reply (HTTP/1.1's default)."""
        connection = (self.headers.get("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return connection == "keep-alive"
        return connection != "close"


class Reader:
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
        """Consume and return one line; b"" at a clean EOF."""
        while True:
            end = self._buf.find(b"\n")
            if end >= 0:
                line = bytes(self._buf[: end + 1])
                del self._buf[: end + 1]
                return line
            if len(self._buf) > limit:
                raise BadRequest(431, "RequestHeaderFieldsTooLarge", "Request header too large")
            if not self._fill():
                if self._buf:
                    raise ConnectionClosed()
                return b""

    def take_buffered(self) -> bytes:
        """Consume and return what has been read from the socket but not taken yet."""
        data = bytes(self._buf)
        self._buf.clear()
        return data

    def read_exact(self, n: int) -> bytes:
        while len(self._buf) < n:
            if not self._fill():
                raise ConnectionClosed()
        data = bytes(self._buf[:n])
        del self._buf[:n]
        return data

    def discard(self, n: int) -> None:
        while n > 0:
            if not self._buf and not self._fill():
                raise ConnectionClosed()
            take = min(n, len(self._buf))
            del self._buf[:take]
            n -= take

    def read_request(self) -> Request | None:
        """Read the next request; None when the peer closed the connection between requests."""
        line = self.readline()
        while line in (b"\r\n", b"\n"):  # tolerate blank lines between requests
            line = self.readline()
        if not line:
            return None
        try:
            method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ")
        except ValueError:
            raise BadRequest(400, "BadRequest", "Malformed request line") from None
        if not version.startswith("HTTP/1."):
            raise BadRequest(400, "BadRequest", "Unsupported HTTP version")
        headers = self._read_fields(len(line), "header")
        if "100-continue" in headers.get("expect", "").lower() and version != "HTTP/1.0" and (
                headers.get("content-length", "0") != "0" or "transfer-encoding" in headers):
            # curl waits a second for this before it sends a body over 1 MiB; Go's server sends
            # it when the handler starts reading, which every route here does at once.
            self._conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        trailers: dict[str, str] = {}
        body, oversized, size = self._read_body(headers, trailers)
        return Request(method, target, version, headers, body, oversized, size, trailers)

    def _read_fields(self, total: int, what: str) -> dict[str, str]:
        """Read "Name: value" lines up to the blank line: a request's headers or a chunked
        body's trailers, `total` bytes of the head already read, within the header size limit."""
        fields: dict[str, str] = {}
        while True:
            raw = self.readline()
            if not raw:
                raise ConnectionClosed()
            total += len(raw)
            if total > _limits.RUNTIME_API_MAX_HEADER_BYTES:
                raise BadRequest(431, "RequestHeaderFieldsTooLarge", f"Request {what} too large")
            if raw in (b"\r\n", b"\n"):
                return fields
            name, sep, value = raw.decode("latin-1").partition(":")
            if not sep or not name.strip():
                raise BadRequest(400, "BadRequest", f"Malformed {what} line")
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
            raise BadRequest(400, "BadRequest", "Invalid Content-Length")
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
                raise ConnectionClosed()
            size_text = line.split(b";", 1)[0].strip()
            if not _CHUNK_SIZE_RE.match(size_text):
                raise BadRequest(400, "BadRequest", "Invalid chunk size")
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
                raise BadRequest(400, "BadRequest", "Malformed chunk")
        trailers.update(self._read_fields(0, "trailer"))  # checked like header lines
        if size > cap:
            return b"", True, size
        return b"".join(parts), False, size


def send_reply(
    conn: socket.socket,
    status: int,
    body: bytes,
    content_type: str | None,
    headers: list[tuple[str, str]] | None = None,
    *,
    close: bool = False,
) -> None:
    """Write one reply with a single `sendall`; `close` adds `Connection: close`."""
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


def serve_http(
    conn: socket.socket,
    reader: Reader,
    route: Callable[[Request], Reply | None],
    stopped: Callable[[], bool],
) -> None:
    """Answer the requests on `conn` with `route` until the peer or the reply ends it.

    A request that cannot be read gets its error document and the connection is closed; a
    route that returns None (the server closed while it waited) ends the connection without an
    answer. Raises `ConnectionClosed` or `OSError` when the peer goes away mid-request.
    """
    while not stopped():
        try:
            request = reader.read_request()
        except BadRequest as exc:
            send_reply(conn, *error_reply(exc.status, exc.error_type, exc.message), close=True)
            return
        if request is None:
            return
        reply = route(request)
        if reply is None:
            return
        status, body, content_type, headers = reply
        keep = request.keep_alive
        send_reply(conn, status, body, content_type, headers, close=not keep)
        if not keep:
            return


def peer_closed(conn: socket.socket) -> bool:
    """Return True when the other end of `conn` has closed it (without waiting), or this end
    has (the environment was discarded while its runtime waited)."""
    poller = select.poll()
    try:
        poller.register(conn, select.POLLIN)
    except ValueError:  # its descriptor is gone: closed here
        return True
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
