"""Who may use a Runtime API port: the environment's check, the connection cap, the timeouts."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from pytest_lambda.runtime_api import server as _runtime_api
from pytest_lambda.runtime_api.server import RuntimeAPIServer

PING = b"GET /2018-06-01/ping HTTP/1.1\r\nHost: x\r\n\r\n"


def _ping(port: int, timeout: float = 2.0) -> bytes:
    got = b""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as conn:
            conn.sendall(PING)
            while b"pong" not in got:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                got += chunk
    except OSError:
        pass
    return got


def _connection_threads(server: RuntimeAPIServer) -> int:
    name = f"lambda-runtime-api:{server.port}:conn"
    return sum(1 for thread in threading.enumerate() if thread.name == name)


def test_a_refused_peer_gets_no_answer_and_no_thread() -> None:
    seen: list[tuple[str, int]] = []

    def authorize(peer: tuple[str, int]) -> bool:
        seen.append(peer)
        return False

    server = RuntimeAPIServer("127.0.0.1", authorize=authorize)
    try:
        assert _ping(server.port) == b""
        assert seen and seen[0][0] == "127.0.0.1"
        assert server.refused == 1 and _connection_threads(server) == 0
    finally:
        server.close()


def test_a_held_connection_is_served_once_the_environment_knows_it() -> None:
    known = threading.Event()
    server = RuntimeAPIServer("127.0.0.1", authorize=lambda peer: True if known.is_set() else None)
    try:
        answers: list[bytes] = []
        client = threading.Thread(target=lambda: answers.append(_ping(server.port, 10)))
        client.start()
        time.sleep(0.3)
        assert not answers  # held, not answered
        known.set()
        server.admit_waiting()
        client.join(10)
        assert answers and b"pong" in answers[0]
    finally:
        server.close()


def test_held_connections_are_refused_when_the_environment_disowns_them() -> None:
    verdict: list[bool | None] = [None]
    server = RuntimeAPIServer("127.0.0.1", authorize=lambda peer: verdict[0])
    try:
        answers: list[bytes] = []
        client = threading.Thread(target=lambda: answers.append(_ping(server.port, 10)))
        client.start()
        time.sleep(0.3)
        verdict[0] = False
        server.admit_waiting()
        client.join(10)
        assert answers == [b""] and server.refused == 1
    finally:
        server.close()


def test_held_connections_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_runtime_api, "ADMISSION_TIMEOUT", 0.2)
    server = RuntimeAPIServer("127.0.0.1", authorize=lambda peer: None)
    try:
        assert _ping(server.port, 10) == b""  # closed by the server, not by the client timeout
        assert server.refused == 1
    finally:
        server.close()


def test_3000_idle_connections_make_no_more_threads_than_the_cap_and_serving_resumes() -> None:
    server = RuntimeAPIServer("127.0.0.1")  # no check: every connection is admitted
    server.first_line_timeout = 0.5
    idle = []
    try:
        for _ in range(3000):
            try:
                idle.append(socket.create_connection(("127.0.0.1", server.port), timeout=5))
            except OSError:
                pass
        # A thread that timed out gives its slot back just before it ends, so one may still be
        # unwinding beside the thread that took its slot: let those finish, then count.
        settle = time.monotonic() + 5
        while (_connection_threads(server) > _runtime_api.MAX_CONNECTIONS
               and time.monotonic() < settle):
            time.sleep(0.05)
        assert _connection_threads(server) <= _runtime_api.MAX_CONNECTIONS
        assert server.refused > 0
        deadline = time.monotonic() + 30
        answer = b""
        while b"pong" not in answer and time.monotonic() < deadline:
            answer = _ping(server.port)
        assert b"pong" in answer
    finally:
        for conn in idle:
            conn.close()
        server.close()


@pytest.mark.parametrize("silent", [b"", b"GET /2018-06-01/ping HTTP/1.1"])
def test_a_connection_that_sends_no_first_line_is_closed(silent: bytes) -> None:
    server = RuntimeAPIServer("127.0.0.1")
    server.first_line_timeout = 0.3
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as conn:
            conn.sendall(silent)
            assert conn.recv(100) == b""  # the server hung up, well before the client's timeout
    finally:
        server.close()
