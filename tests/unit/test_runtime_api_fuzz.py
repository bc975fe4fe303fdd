"""Malformed, truncated and concurrent traffic against the Runtime API server.

Each case runs on a fresh server; afterwards the server must still answer `/ping` and serve a
full next -> response cycle. Every socket has a timeout, so a hang is a failure, not a stall.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import threading
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_lambda.config import limits as _limits
from pytest_lambda.runtime_api.lifecycle import RUNNING, Invocation
from pytest_lambda.runtime_api.server import RuntimeAPIServer

TIMEOUT = 10.0
NEXT = "/2018-06-01/runtime/invocation/next"
ACCEPTED = b'{"status":"OK"}\n'
INVALID_ID = b'{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n'
MAX_HEADER = _limits.RUNTIME_API_MAX_HEADER_BYTES
FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


def make_invocation(payload: bytes = b'{"k":"v"}') -> Invocation:
    return Invocation(payload=payload, deadline_ms=1_700_000_000_000,
                      function_arn="arn:aws:lambda:us-east-1:012345678912:function:f")


@contextlib.contextmanager
def fresh_server() -> Iterator[RuntimeAPIServer]:
    server = RuntimeAPIServer("127.0.0.1")
    try:
        yield server
    finally:
        server.close()


def call(
    server: RuntimeAPIServer, method: str, path: str, body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, bytes, http.client.HTTPResponse]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=TIMEOUT)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.read(), resp
    finally:
        conn.close()


def response_path(request_id: str, kind: str = "response") -> str:
    return f"/2018-06-01/runtime/invocation/{request_id}/{kind}"


def start_invocation(server: RuntimeAPIServer) -> Invocation:
    inv = make_invocation()
    server.dispatch(inv)
    status, body, resp = call(server, "GET", NEXT)
    assert status == 200 and body == inv.payload
    assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == inv.request_id
    return inv


def send_raw(server: RuntimeAPIServer, data: bytes, *, close_write: bool = True) -> bytes:
    """Send `data`, half-close, and return whatever the server answers until it closes."""
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT) as sock:
        try:
            sock.sendall(data)
            if close_write:
                sock.shutdown(socket.SHUT_WR)
        except OSError:  # the server may answer and close before it has read everything
            pass
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def assert_healthy(server: RuntimeAPIServer, pending: Invocation | None = None) -> None:
    """The server answers /ping and serves a whole invocation (finishing `pending` first)."""
    assert call(server, "GET", "/2018-06-01/ping")[:2] == (200, b"pong")
    if pending is not None:
        assert server.state == RUNNING and not pending.done.is_set()
        status, body, resp = call(server, "GET", NEXT)  # the same event again
        assert status == 200
        assert resp.getheader("Lambda-Runtime-Aws-Request-Id") == pending.request_id
        status, body, _ = call(server, "POST", response_path(pending.request_id), b"fine")
        assert (status, body) == (202, ACCEPTED)
        assert pending.outcome == "response" and pending.body == b"fine"
    inv = start_invocation(server)
    status, body, _ = call(server, "POST", response_path(inv.request_id), b'{"r":1}')
    assert (status, body) == (202, ACCEPTED)
    assert inv.done.is_set() and inv.body == b'{"r":1}'


def status_of(reply: bytes) -> int | None:
    if not reply:
        return None
    assert reply.startswith(b"HTTP/1.1 "), reply[:80]
    return int(reply[9:12])


# -- random input ---------------------------------------------------------------------------


@FUZZ
@given(st.binary(max_size=2048))
def test_random_bytes(data: bytes) -> None:
    with fresh_server() as server:
        inv = start_invocation(server)
        reply = send_raw(server, data)
        assert status_of(reply) in (None, 200, 400, 404, 405, 431), reply[:200]
        if not inv.done.is_set():
            assert_healthy(server, inv)
        else:
            assert_healthy(server)


_TOKEN = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E,
                               blacklist_characters="/?#%"), min_size=0, max_size=60)


@FUZZ
@given(
    st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "get", "XYZ"]),
    st.sampled_from([NEXT, "/2018-06-01/ping", "/2018-06-01/runtime/init/error",
                     response_path("ID"), response_path("ID", "error"), "/", "/2018-06-01/x"]),
)
def test_methods_and_paths(method: str, path: str) -> None:
    with fresh_server() as server:
        inv = start_invocation(server)
        path = path.replace("ID", "other-id")
        body = b"" if method != "GET" else None
        data = f"{method} {path} HTTP/1.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        status = status_of(send_raw(server, data.encode()))
        known = {NEXT: "GET", "/2018-06-01/ping": "GET", "/2018-06-01/runtime/init/error": "POST",
                 response_path("other-id"): "POST", response_path("other-id", "error"): "POST"}
        if path not in known:
            assert status == 404
        elif method != known[path]:
            assert status == 405
        elif path == "/2018-06-01/runtime/init/error":
            assert status == 403
        elif path == NEXT or path == "/2018-06-01/ping":
            assert status == 200
        else:
            assert status == 400
        del body
        assert_healthy(server, inv)


@FUZZ
@given(_TOKEN, st.sampled_from(["response", "error"]))
def test_random_request_ids(request_id: str, kind: str) -> None:
    with fresh_server() as server:
        inv = start_invocation(server)
        if request_id == inv.request_id:
            return
        status, body, _ = call(server, "POST", response_path(request_id, kind), b"{}")
        assert (status, body) == (400, INVALID_ID)
        assert not inv.done.is_set()
        assert_healthy(server, inv)


# -- truncated and malformed bodies -----------------------------------------------------------


@FUZZ
@given(st.integers(1, 10_000), st.data())
def test_truncated_content_length_body(declared: int, data: st.DataObject) -> None:
    sent = data.draw(st.integers(0, declared - 1))
    with fresh_server() as server:
        inv = start_invocation(server)
        head = (f"POST {response_path(inv.request_id)} HTTP/1.1\r\n"
                f"Content-Length: {declared}\r\n\r\n").encode()
        reply = send_raw(server, head + b"x" * sent)
        assert reply == b""  # nothing to answer: the request never completed
        assert not inv.done.is_set()
        assert_healthy(server, inv)


@FUZZ
@given(st.lists(st.binary(min_size=1, max_size=300), min_size=1, max_size=5), st.data())
def test_chunked_body_cut_mid_chunk(chunks: list[bytes], data: st.DataObject) -> None:
    wire = b"".join(b"%x\r\n" % len(c) + c + b"\r\n" for c in chunks) + b"0\r\n\r\n"
    cut = data.draw(st.integers(0, len(wire) - 1))
    with fresh_server() as server:
        inv = start_invocation(server)
        head = (f"POST {response_path(inv.request_id)} HTTP/1.1\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        reply = send_raw(server, head + wire[:cut])
        # A cut inside the chunk framing may read as a malformed chunk (400); never accepted.
        assert status_of(reply) in (None, 400), reply[:200]
        assert not inv.done.is_set()
        assert_healthy(server, inv)


BAD_CHUNK_SIZES = [b"zz", b"-5", b"-0x5", b"+5", b"1_0", b"0x5", b" ", b"", b"5 5", b"g",
                   b"\xff", b"-1", b"1" * 40]


@pytest.mark.parametrize("size_line", BAD_CHUNK_SIZES)
def test_bad_chunk_sizes(size_line: bytes) -> None:
    with fresh_server() as server:
        inv = start_invocation(server)
        data = (f"POST {response_path(inv.request_id)} HTTP/1.1\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        data += size_line + b"\r\nhello\r\n0\r\n\r\n"
        reply = send_raw(server, data)
        assert status_of(reply) in (None, 400), reply[:200]
        assert not inv.done.is_set()
        assert_healthy(server, inv)


@pytest.mark.parametrize("trailers", [b"hello\r\n", b": no name\r\n",
                                      b"X-Ok: 1\r\nno colon\r\n"])
def test_malformed_trailers_are_refused(trailers: bytes) -> None:
    # A zero-size chunk line where a size was expected makes the rest of the body "trailers".
    with fresh_server() as server:
        inv = start_invocation(server)
        data = (f"POST {response_path(inv.request_id)} HTTP/1.1\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        data += b"0\r\n" + trailers + b"\r\n"
        reply = send_raw(server, data)
        assert status_of(reply) == 400, reply[:200]
        assert not inv.done.is_set()
        assert_healthy(server, inv)


@FUZZ
@given(st.binary(min_size=1, max_size=12))
def test_random_chunk_size_line(size_line: bytes) -> None:
    size_line = size_line.replace(b"\n", b"").replace(b"\r", b"")
    with fresh_server() as server:
        inv = start_invocation(server)
        data = (f"POST {response_path(inv.request_id)} HTTP/1.1\r\n"
                "Transfer-Encoding: chunked\r\n\r\n").encode()
        data += size_line + b"\r\nhello\r\n0\r\n\r\n"
        reply = send_raw(server, data)
        status = status_of(reply)
        assert status in (None, 202, 400), reply[:200]
        if status == 202:  # only a real size of 5 (with an optional extension) frames this body
            assert inv.body == b"hello"
            assert_healthy(server)
        else:
            assert not inv.done.is_set()
            assert_healthy(server, inv)


@pytest.mark.parametrize("value", ["-1", "+5", "1_0", "abc", "5, 6", " ", "0x5", "１"])
def test_bad_content_length(value: str) -> None:
    with fresh_server() as server:
        inv = start_invocation(server)
        data = (f"POST {response_path(inv.request_id)} HTTP/1.1\r\n"
                f"Content-Length: {value}\r\n\r\nhello").encode()
        reply = send_raw(server, data)
        assert status_of(reply) == 400, reply[:200]
        assert not inv.done.is_set()
        assert_healthy(server, inv)


# -- headers ------------------------------------------------------------------------------------


@settings(max_examples=20, deadline=None)
@given(st.integers(MAX_HEADER + 1, 4 * MAX_HEADER), st.booleans())
def test_huge_headers(size: int, one_line: bool) -> None:
    with fresh_server() as server:
        inv = start_invocation(server)
        if one_line:
            headers = b"X-Big: " + b"a" * size + b"\r\n"
        else:
            headers = b"".join(b"X-H%d: %s\r\n" % (i, b"b" * 100) for i in range(size // 100 + 1))
        data = f"POST {response_path(inv.request_id)} HTTP/1.1\r\n".encode() + headers + b"\r\n{}"
        reply = send_raw(server, data)
        assert status_of(reply) in (None, 431), reply[:200]
        assert not inv.done.is_set()
        assert_healthy(server, inv)


def test_huge_request_line() -> None:
    with fresh_server() as server:
        reply = send_raw(server, b"GET /" + b"a" * (2 * _limits.RUNTIME_API_MAX_HEADER_BYTES))
        assert status_of(reply) in (None, 431)
        assert_healthy(server)


def test_idle_and_half_open_connections_do_not_block_others() -> None:
    with fresh_server() as server:
        idle = [socket.create_connection(("127.0.0.1", server.port), timeout=TIMEOUT)
                for _ in range(5)]
        try:
            idle[0].sendall(b"GET /2018-06-01/ping HTTP/1.1\r\n")  # header never finished
            idle[1].sendall(b"POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nabc")
            assert_healthy(server)
        finally:
            for sock in idle:
                sock.close()
        assert_healthy(server)


# -- concurrency --------------------------------------------------------------------------------


@pytest.mark.parametrize("round_", range(10))
def test_concurrent_responses_for_one_id(round_: int) -> None:
    with fresh_server() as server:
        inv = start_invocation(server)
        barrier = threading.Barrier(8)
        results: list[tuple[int, bytes]] = []
        lock = threading.Lock()

        def post(i: int) -> None:
            kind = "response" if i % 2 == 0 else "error"
            barrier.wait(TIMEOUT)
            status, body, _ = call(server, "POST", response_path(inv.request_id, kind), b"%d" % i)
            with lock:
                results.append((status, body))

        threads = [threading.Thread(target=post, args=(i,), daemon=True) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads)
        statuses = sorted(s for s, _ in results)
        assert len(statuses) == 8
        assert statuses.count(202) == 1
        assert all(s in (400, 403) for s in statuses if s != 202)
        assert inv.done.is_set()
        assert inv.outcome in ("response", "error")
        assert inv.body in {b"%d" % i for i in range(8)}
        assert_healthy(server)


def test_concurrent_next_while_running_all_get_the_same_event() -> None:
    with fresh_server() as server:
        inv = start_invocation(server)
        ids: list[str | None] = []
        lock = threading.Lock()

        def poll() -> None:
            status, _, resp = call(server, "GET", NEXT)
            with lock:
                ids.append(resp.getheader("Lambda-Runtime-Aws-Request-Id"))

        threads = [threading.Thread(target=poll, daemon=True) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(TIMEOUT)
        assert ids == [inv.request_id] * 8
        assert_healthy(server, inv)


def test_many_connections_many_cycles() -> None:
    with fresh_server() as server:
        for i in range(50):
            inv = start_invocation(server)
            status, body, _ = call(server, "POST", response_path(inv.request_id), b"%d" % i)
            assert (status, body) == (202, ACCEPTED)
            assert inv.body == b"%d" % i
        with server.lifecycle.cond:
            assert len(server._connections) <= 2  # closed connections are forgotten


def test_concurrent_waiting_next_calls_all_get_the_dispatched_event() -> None:
    with fresh_server() as server:
        ids: list[str | None] = []
        lock = threading.Lock()

        def poll() -> None:
            status, _, resp = call(server, "GET", NEXT)
            with lock:
                ids.append(resp.getheader("Lambda-Runtime-Aws-Request-Id"))

        threads = [threading.Thread(target=poll, daemon=True) for _ in range(4)]
        for t in threads:
            t.start()
        assert server.wait_for(lambda: server.state == "Ready", TIMEOUT)
        inv = make_invocation()
        server.dispatch(inv)
        for t in threads:
            t.join(TIMEOUT)
        assert not any(t.is_alive() for t in threads)
        assert ids == [inv.request_id] * 4
        assert_healthy(server, inv)
