"""The Runtime API server, driven by a raw HTTP client: exact status codes, bodies and states.

Expected values are Lambda's, from its Runtime Interface Emulator's Go source and AWS's API
references (`docs/api-behaviours.md`).
"""

from __future__ import annotations

import http.client
import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_lambda.config import limits as _limits
from pytest_lambda.runtime_api.lifecycle import (
    INIT_ERROR,
    READY,
    RESPONSE_SENT,
    RUNNING,
    Invocation,
)
from pytest_lambda.runtime_api.server import RuntimeAPIServer

TIMEOUT = 10.0
NEXT = "/2018-06-01/runtime/invocation/next"
LIMIT = _limits.RESPONSE_MAX_BYTES
ACCEPTED = b'{"status":"OK"}\n'
INVALID_ID = b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n'
TOO_LARGE = (
    b'{"errorMessage":"Exceeded maximum allowed payload size (6291556 bytes).",'
    b'"errorType":"RequestEntityTooLarge"}\n'
)
ARN = "arn:aws:lambda:us-east-1:012345678912:function:test_function"


def transition(current: str, target: str) -> bytes:
    message = (f"State transition from {current} to {target} failed for runtime. "
               "Error: State transition is not allowed")
    return json.dumps({"errorMessage": message, "errorType": "InvalidStateTransition"},
                      separators=(",", ":")).encode() + b"\n"


def response_path(request_id: str, kind: str = "response") -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/{kind}"


def make_invocation(payload: bytes = b'{"hello":"world"}', **kwargs: Any) -> Invocation:
    return Invocation(payload=payload, deadline_ms=1_700_000_000_000, function_arn=ARN, **kwargs)


@pytest.fixture
def server() -> Iterator[RuntimeAPIServer]:
    srv = RuntimeAPIServer("127.0.0.1")
    yield srv
    srv.close()


def connect(server: RuntimeAPIServer) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)


def call(
    server: RuntimeAPIServer,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    conn: http.client.HTTPConnection | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    own = conn is None
    conn = conn or connect(server)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp
    finally:
        if own:
            conn.close()


def raw_exchange(server: RuntimeAPIServer, data: bytes) -> tuple[int, bytes]:
    """Send raw bytes on a fresh socket and parse one HTTP reply."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        resp = http.client.HTTPResponse(sock)
        resp.begin()
        return resp.status, resp.read()


def start_invocation(server: RuntimeAPIServer, inv: Invocation | None = None) -> Invocation:
    inv = inv or make_invocation()
    server.dispatch(inv)
    status, body, resp = call(server, "GET", NEXT)
    assert status == 200
    assert body == inv.payload
    assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == inv.request_id
    return inv


# -- 1.1 server basics -----------------------------------------------------------------------


def test_ping(server: RuntimeAPIServer) -> None:
    status, body, resp = call(server, "GET", "/2018-06-01/ping")
    assert (status, body) == (200, b"pong")


@pytest.mark.parametrize(
    "path", ["/ping", "/", "/2018-06-01/runtime/invocation", "/2018-06-01/runtime/invocation/x/y",
             "/2018-06-01/runtime/restore/next", "/2020-01-01/extension/bogus"]
)
def test_unknown_path_is_404(server: RuntimeAPIServer, path: str) -> None:
    status, body, resp = call(server, "GET", path)
    assert (status, body) == (404, b"404 page not found\n")
    assert resp.getheader("Content-Type") == "text/plain; charset=utf-8"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", NEXT),
        ("PUT", NEXT),
        ("GET", response_path("abc")),
        ("DELETE", response_path("abc", "error")),
        ("GET", "/2018-06-01/runtime/init/error"),
        ("POST", "/2018-06-01/ping"),
    ],
)
def test_known_path_wrong_method_is_405(server: RuntimeAPIServer, method: str, path: str) -> None:
    status, body, _ = call(server, method, path, body=b"" if method != "GET" else None)
    assert (status, body) == (405, b"")
    assert server.state == "Started"


# -- 1.2 /next -------------------------------------------------------------------------------


def test_next_blocks_until_dispatch(server: RuntimeAPIServer) -> None:
    result: dict[str, tuple[int, bytes, http.client.HTTPResponse]] = {}

    def poll() -> None:
        result["reply"] = call(server, "GET", NEXT)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    assert server.wait_for(lambda: server.state == READY, TIMEOUT)
    assert "reply" not in result  # nothing to hand over yet: still waiting
    inv = make_invocation(b'{"n": 1}')
    server.dispatch(inv)
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    status, body, resp = result["reply"]
    assert status == 200
    assert body == b'{"n": 1}'
    assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == inv.request_id
    assert resp.getheader("Lambda-Runtime-Deadline-Ms") == "1700000000000"
    assert resp.getheader("Lambda-Runtime-Invoked-Function-Arn") == ARN
    assert resp.getheader("Content-Type") == "application/json"
    assert resp.getheader("Content-Length") == str(len(body))
    assert resp.getheader("Lambda-Runtime-Client-Context") is None
    assert resp.getheader("Lambda-Runtime-Cognito-Identity") is None
    assert resp.getheader("Lambda-Runtime-Aws-Tenant-Id") is None
    assert server.state == RUNNING


def test_next_header_names_are_canonical(server: RuntimeAPIServer) -> None:
    server.dispatch(make_invocation())
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode()
    names = {line.split(":", 1)[0] for line in head.split("\r\n")[1:]}
    assert {
        "Lambda-Runtime-Aws-Request-Id",
        "Lambda-Runtime-Deadline-Ms",
        "Lambda-Runtime-Invoked-Function-Arn",
        "Content-Type",
        "Content-Length",
    } <= names


def test_client_context_header_only_when_set(server: RuntimeAPIServer) -> None:
    ctx = '{"custom":{"k":"v"}}'
    inv = make_invocation(client_context=ctx, tenant_id="tenant-1")
    server.dispatch(inv)
    status, _, resp = call(server, "GET", NEXT)
    assert status == 200
    assert resp.getheader("Lambda-Runtime-Client-Context") == ctx
    assert resp.getheader("Lambda-Runtime-Aws-Tenant-Id") == "tenant-1"


def test_non_latin1_client_context_is_sent_as_utf8(server: RuntimeAPIServer) -> None:
    ctx = '{"custom":{"name":"日本語 é"}}'
    server.dispatch(make_invocation(client_context=ctx))
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(f"GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            assert chunk, "server closed the connection instead of answering"
            data += chunk
    assert b"Lambda-Runtime-Client-Context: " + ctx.encode() + b"\r\n" in data


def test_repeated_next_while_running_returns_same_event(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    status, body, resp = call(server, "GET", NEXT)
    assert status == 200
    assert body == inv.payload
    assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == inv.request_id
    assert server.state == RUNNING
    assert not inv.done.is_set()


# -- 1.3 / 1.4 /response and /error ------------------------------------------------------------


def test_response_accepted_and_completes(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    status, body, resp = call(
        server, "POST", response_path(inv.request_id), b'{"ok":true}',
        {"Content-Type": "application/json"},
    )
    assert (status, body) == (202, ACCEPTED)
    assert resp.getheader("Content-Type") == "application/json"
    assert inv.done.is_set()
    assert inv.outcome == "response"
    assert inv.body == b'{"ok":true}'
    assert inv.content_type == "application/json"
    assert server.state == RESPONSE_SENT


def test_empty_response_body(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    status, body, _ = call(server, "POST", response_path(inv.request_id), b"")
    assert (status, body) == (202, ACCEPTED)
    assert inv.outcome == "response" and inv.body == b""


def test_response_wrong_id_is_400(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    status, body, resp = call(server, "POST", response_path("not-the-id"), b"{}")
    assert (status, body) == (400, INVALID_ID)
    assert resp.getheader("Content-Type") == "application/json"
    status, body, _ = call(server, "POST", response_path("not-the-id", "error"), b"{}")
    assert (status, body) == (400, INVALID_ID)
    assert not inv.done.is_set()
    assert server.state == RUNNING


def test_response_before_any_invocation_is_400(server: RuntimeAPIServer) -> None:
    status, body, _ = call(server, "POST", response_path("abc"), b"{}")
    assert (status, body) == (400, INVALID_ID)


def test_second_response_is_403(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    assert call(server, "POST", response_path(inv.request_id), b"1")[:2] == (202, ACCEPTED)
    status, body, _ = call(server, "POST", response_path(inv.request_id), b"2")
    assert (status, body) == (403, transition("RuntimeResponseSentState", "InvocationResponse"))
    assert inv.body == b"1"


def test_error_after_response_is_403(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    assert call(server, "POST", response_path(inv.request_id), b"1")[0] == 202
    status, body, _ = call(server, "POST", response_path(inv.request_id, "error"), b"{}")
    assert (status, body) == (
        403, transition("RuntimeResponseSentState", "InvocationErrorResponse"))
    assert inv.outcome == "response"


def test_response_after_error_is_403(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    assert call(server, "POST", response_path(inv.request_id, "error"), b"{}")[0] == 202
    status, body, _ = call(server, "POST", response_path(inv.request_id), b"1")
    assert (status, body) == (403, transition("RuntimeResponseSentState", "InvocationResponse"))
    assert inv.outcome == "error"


def test_old_id_after_next_is_400(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    assert call(server, "POST", response_path(inv.request_id), b"1")[0] == 202
    second = make_invocation()
    server.dispatch(second)
    status, _, resp = call(server, "GET", NEXT)
    assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == second.request_id
    status, body, _ = call(server, "POST", response_path(inv.request_id), b"late")
    assert (status, body) == (400, INVALID_ID)
    assert inv.body == b"1" and not second.done.is_set()


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "Runtime.Unknown"),
        ("Runtime.ImportModuleError", "Runtime.ImportModuleError"),
        ("Function.MyError", "Function.MyError"),
        ("Function.x", "Function.Unknown"),
        ("bogus", "Runtime.Unknown"),
        ("Runtime.", "Runtime.Unknown"),
    ],
)
def test_error_type_sanitised(server: RuntimeAPIServer, header: str | None, expected: str) -> None:
    inv = start_invocation(server)
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Lambda-Runtime-Function-Error-Type"] = header
    doc = b'{"errorMessage":"m","errorType":"E","stackTrace":[]}'
    status, body, _ = call(server, "POST", response_path(inv.request_id, "error"), doc, headers)
    assert (status, body) == (202, ACCEPTED)
    assert inv.outcome == "error"
    assert inv.error_type == expected
    assert inv.body == doc


def test_error_body_passed_verbatim_for_plain_content_types(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    status, _, _ = call(server, "POST", response_path(inv.request_id, "error"), b"not json",
                        {"Content-Type": "text/plain"})
    assert status == 202
    assert inv.body == b"not json"


def test_error_cause_body_stripped(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    doc = {"errorMessage": "m", "errorType": "T", "stackTrace": ["s"],
           "errorCause": {"paths": [], "working_directory": "/", "exceptions": []}}
    status, _, _ = call(
        server, "POST", response_path(inv.request_id, "error"), json.dumps(doc).encode(),
        {"Content-Type": "application/vnd.aws.lambda.error.cause+json"},
    )
    assert status == 202
    assert json.loads(inv.body) == {"errorMessage": "m", "errorType": "T", "stackTrace": ["s"]}


@pytest.mark.parametrize("bad", [b"{not json", b"[1, 2]", b'"text"', b"null", b"42",
                                 b'["errorMessage"]', b'"errorMessage errorType"'])
def test_error_cause_unparsable_body(server: RuntimeAPIServer, bad: bytes) -> None:
    inv = start_invocation(server)
    status, _, _ = call(
        server, "POST", response_path(inv.request_id, "error"), bad,
        {"Content-Type": "application/vnd.aws.lambda.error.cause+json"},
    )
    assert status == 202
    assert inv.body == b'"Invalid error body"'


# -- 1.5 /init/error ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Runtime.ImportModuleError", "Runtime.ImportModuleError"),
        ("bogus", "Runtime.Unknown"),
        ("Function.x", "Function.Unknown"),
        (None, "Runtime.Unknown"),
    ],
)
def test_init_error_before_next(
    server: RuntimeAPIServer, header: str | None, expected: str,
) -> None:
    headers = {"Lambda-Runtime-Function-Error-Type": header} if header else {}
    doc = b'{"errorMessage":"boom","errorType":"Runtime.ImportModuleError"}'
    status, body, _ = call(server, "POST", "/2018-06-01/runtime/init/error", doc, headers)
    assert (status, body) == (202, ACCEPTED)
    assert server.init_error == (expected, doc, "application/json")
    assert server.state == INIT_ERROR
    status, body, _ = call(server, "GET", NEXT)
    assert (status, body) == (403, transition("InitError", "Ready"))


def test_init_error_non_json_body_content_type(server: RuntimeAPIServer) -> None:
    status, _, _ = call(server, "POST", "/2018-06-01/runtime/init/error", b"plain text")
    assert status == 202
    assert server.init_error == ("Runtime.Unknown", b"plain text", "application/octet-stream")


def test_init_error_twice_is_403(server: RuntimeAPIServer) -> None:
    assert call(server, "POST", "/2018-06-01/runtime/init/error", b"{}")[0] == 202
    status, body, _ = call(server, "POST", "/2018-06-01/runtime/init/error", b"{}")
    assert (status, body) == (403, transition("InitError", "InitError"))


def test_init_error_after_next_is_403(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    status, body, _ = call(server, "POST", "/2018-06-01/runtime/init/error", b"{}",
                           {"Lambda-Runtime-Function-Error-Type": "Runtime.Boom"})
    assert (status, body) == (403, transition("Running", "InitError"))
    assert server.init_error is None
    assert server.state == RUNNING and not inv.done.is_set()


# -- 1.3 / 1.8 payload limits --------------------------------------------------------------------


def test_response_of_exactly_the_limit_is_accepted(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    payload = b"a" * LIMIT
    status, body, _ = call(server, "POST", response_path(inv.request_id), payload)
    assert (status, body) == (202, ACCEPTED)
    assert inv.outcome == "response"
    assert inv.body == payload


def test_response_one_byte_over_the_limit_is_413(server: RuntimeAPIServer) -> None:
    assert LIMIT == 6291556
    inv = start_invocation(server)
    status, body, resp = call(server, "POST", response_path(inv.request_id), b"a" * (LIMIT + 1))
    assert (status, body) == (413, TOO_LARGE)
    assert resp.getheader("Content-Type") == "application/json"
    assert inv.done.is_set()
    assert inv.outcome == "too_large"
    assert inv.response_size == LIMIT + 1
    assert inv.body == b""
    # The runtime may go on: the next /next hands over the next invocation.
    start_invocation(server)


def chunked(body: bytes, size: int = 1 << 20, trailers: bytes = b"") -> bytes:
    out = bytearray()
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    out += b"0\r\n" + trailers + b"\r\n"
    return bytes(out)


def chunked_post(path: str, body: bytes, extra: bytes = b"", **kw: Any) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n".encode()
        + extra + b"\r\n" + chunked(body, **kw)
    )


def test_chunked_response_over_the_limit_is_413(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    status, body = raw_exchange(
        server, chunked_post(response_path(inv.request_id), b"b" * (LIMIT + 1), size=1000_003))
    assert (status, body) == (413, TOO_LARGE)
    assert inv.outcome == "too_large"
    assert inv.response_size == LIMIT + 1


def test_chunked_response_of_exactly_the_limit_is_accepted(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    payload = b"c" * LIMIT
    status, body = raw_exchange(server, chunked_post(response_path(inv.request_id), payload))
    assert (status, body) == (202, ACCEPTED)
    assert inv.body == payload


def test_oversized_response_with_wrong_id_is_400(server: RuntimeAPIServer) -> None:
    # The request id is validated before the body is looked at (§1.3).
    inv = start_invocation(server)
    status, body, _ = call(server, "POST", response_path("wrong"), b"a" * (LIMIT + 1))
    assert (status, body) == (400, INVALID_ID)
    assert not inv.done.is_set()


def test_invoke_payload_passed_through(server: RuntimeAPIServer) -> None:
    payload = json.dumps({"data": "x" * 100_000}).encode()
    inv = start_invocation(server, make_invocation(payload))
    assert call(server, "POST", response_path(inv.request_id), payload)[0] == 202
    assert inv.body == payload


# -- 1.7 streaming -------------------------------------------------------------------------------


def test_streamed_response_with_trailers_like_node(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    extra = (
        b"Lambda-Runtime-Function-Response-Mode: streaming\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Type\r\n"
        b"Trailer: Lambda-Runtime-Function-Error-Body\r\n"
        b"Content-Type: text/plain\r\n"
    )
    trailers = (
        b"Lambda-Runtime-Function-Error-Type: Error\r\n"
        b"Lambda-Runtime-Function-Error-Body: eyJlcnJvclR5cGUiOiJFcnJvciJ9\r\n"
    )
    status, body = raw_exchange(
        server, chunked_post(response_path(inv.request_id), b"hello stream", extra,
                             size=5, trailers=trailers))
    assert (status, body) == (202, ACCEPTED)
    # The trailers name an error raised after the stream began: the invocation failed.
    assert inv.outcome == "error"
    assert inv.error_type == "Error"
    assert inv.body == b'{"errorType":"Error"}'
    inv2 = make_invocation()
    server.dispatch(inv2)
    assert call(server, "GET", NEXT)[0] == 200
    status, body = raw_exchange(
        server, chunked_post(response_path(inv2.request_id), b"hello stream", extra, size=5))
    assert (status, body) == (202, ACCEPTED)
    assert (inv2.outcome, inv2.body, inv2.content_type) == ("response", b"hello stream",
                                                            "text/plain")


def test_chunk_extensions_accepted(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    data = (
        f"POST {response_path(inv.request_id)} HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "3;name=value\r\nabc\r\n0\r\n\r\n"
    ).encode()
    assert raw_exchange(server, data) == (202, ACCEPTED)
    assert inv.body == b"abc"


# -- connections -------------------------------------------------------------------------------


def test_keep_alive_several_requests_on_one_connection(server: RuntimeAPIServer) -> None:
    conn = connect(server)
    try:
        for _ in range(3):
            assert call(server, "GET", "/2018-06-01/ping", conn=conn)[:2] == (200, b"pong")
        sock = conn.sock
        assert sock is not None
        for _ in range(3):
            inv = make_invocation()
            server.dispatch(inv)
            status, body, resp = call(server, "GET", NEXT, conn=conn)
            assert status == 200
            status, body, _ = call(server, "POST", response_path(inv.request_id), b"r", conn=conn)
            assert (status, body) == (202, ACCEPTED)
            assert inv.body == b"r"
        assert conn.sock is sock  # never reconnected
        assert call(server, "GET", "/nope", conn=conn)[0] == 404
        assert call(server, "POST", NEXT, b"", conn=conn)[0] == 405
        assert call(server, "GET", "/2018-06-01/ping", conn=conn)[:2] == (200, b"pong")
        assert conn.sock is sock
    finally:
        conn.close()


def test_pipelined_requests(server: RuntimeAPIServer) -> None:
    ping = b"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(ping * 2 + b"GET /2018-06-01/ping HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.count(b"HTTP/1.1 200 OK\r\n") == 3
    assert data.count(b"\r\n\r\npong") == 3


def test_connection_close_honoured(server: RuntimeAPIServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /2018-06-01/ping HTTP/1.1\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.startswith(b"HTTP/1.1 200 ")
    assert data.endswith(b"\r\n\r\npong")


def test_http10_closes_by_default(server: RuntimeAPIServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        sock.sendall(b"GET /2018-06-01/ping HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    assert data.endswith(b"pong")


def test_accepted_socket_has_tcp_nodelay(server: RuntimeAPIServer) -> None:
    conn = connect(server)
    try:
        assert call(server, "GET", "/2018-06-01/ping", conn=conn)[0] == 200
        with server.lifecycle.cond:
            accepted = list(server._connections)
        assert accepted
        for sock in accepted:
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        conn.close()


def test_close_releases_blocked_next(server: RuntimeAPIServer) -> None:
    result: dict[str, object] = {}

    def poll() -> None:
        try:
            result["reply"] = call(server, "GET", NEXT)
        except (OSError, http.client.HTTPException) as exc:
            result["error"] = exc

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    assert server.wait_for(lambda: server.state == READY, TIMEOUT)
    server.close()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert "reply" not in result
    assert server.wait_for(lambda: False, TIMEOUT)  # closed: wait_for returns at once


# -- delivery ------------------------------------------------------------------------------------


def test_an_invocation_is_marked_delivered_when_next_hands_it_over(
    server: RuntimeAPIServer,
) -> None:
    inv = make_invocation()
    assert not inv.delivered
    server.dispatch(inv)
    assert not inv.delivered  # dispatched, but no runtime has asked for it yet
    status, _body, _resp = call(server, "GET", NEXT)
    assert status == 200 and inv.delivered


def test_a_runtime_gone_while_waiting_on_next_is_not_delivered_to(server: RuntimeAPIServer) -> None:
    # The runtime died inside its /next call (its socket closed) before anything was dispatched:
    # the invocation must stay undelivered, so the service may serve it on a new environment.
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    sock.sendall(f"GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert server.wait_for(lambda: server.state == READY, TIMEOUT)
    sock.close()
    inv = make_invocation()
    server.dispatch(inv)
    # A fresh runtime (a new connection) still gets it: it was never handed to the dead one.
    status, body, resp = call(server, "GET", NEXT)
    assert status == 200 and body == inv.payload
    assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == inv.request_id


def test_a_runtime_gone_while_waiting_leaves_the_invocation_pending(
    server: RuntimeAPIServer,
) -> None:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
    sock.sendall(f"GET {NEXT} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    assert server.wait_for(lambda: server.state == READY, TIMEOUT)
    sock.close()
    inv = make_invocation()
    server.dispatch(inv)
    # The waiting thread wakes, sees the closed peer and gives up without taking the event.
    assert not server.wait_for(lambda: inv.delivered or server.state == RUNNING, 0.5)
    assert not inv.delivered and server.state == READY


# -- abandon_current -----------------------------------------------------------------------------


def test_late_response_after_abandon_is_rejected(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    server.abandon_current()
    for kind in ("response", "error"):
        status, body, _ = call(server, "POST", response_path(inv.request_id, kind), b"late")
        assert (status, body) == (400, INVALID_ID)
    assert not inv.done.is_set()
    assert inv.outcome is None and inv.body == b""
    # The environment serves the next invocation normally.
    second = make_invocation(b'{"second":1}')
    server.dispatch(second)
    status, body, resp = call(server, "GET", NEXT)
    assert (status, body) == (200, b'{"second":1}')
    assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == second.request_id
    status, body, _ = call(server, "POST", response_path(inv.request_id), b"late again")
    assert (status, body) == (400, INVALID_ID)
    assert call(server, "POST", response_path(second.request_id), b"ok")[:2] == (202, ACCEPTED)
    assert second.body == b"ok" and not inv.done.is_set()


def test_oversized_late_response_after_abandon_is_400(server: RuntimeAPIServer) -> None:
    inv = start_invocation(server)
    server.abandon_current()
    status, body, _ = call(server, "POST", response_path(inv.request_id), b"a" * (LIMIT + 1))
    assert (status, body) == (400, INVALID_ID)
    assert not inv.done.is_set() and inv.response_size == 0


def test_dispatch_while_running_is_refused(server: RuntimeAPIServer) -> None:
    start_invocation(server)
    with pytest.raises(RuntimeError):
        server.dispatch(make_invocation())
