"""The parts of isolation that need no engine: peer lookup, the port registry, settings."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_lambda import ConfigurationError
from pytest_lambda.backends import peers as _peers
from pytest_lambda.containers import firewall as _firewall
from pytest_lambda.containers.client import remaps_users
from pytest_lambda.service.build import build_config

pytestmark = pytest.mark.skipif(not _peers.available(), reason="needs Linux /proc")


def _owner_of_connection(leaders: list[int], script: str) -> tuple[bool, bool]:
    """Run `script` (which connects to PORT) and say whether the connection is held by
    `leaders`' sessions, and whether it is held by the script's own session."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    child = subprocess.Popen([sys.executable, "-c", script.replace("PORT", str(port))],
                             stdin=subprocess.PIPE, start_new_session=True)
    try:
        server.settimeout(20)
        conn, peer = server.accept()
        inode = _peers.socket_inode(peer, ("127.0.0.1", port))
        assert inode is not None
        return (_peers.held_by_sessions(inode, leaders),
                _peers.held_by_sessions(inode, [child.pid]))
    finally:
        child.kill()
        child.wait()
        server.close()


def test_a_connection_is_told_apart_by_the_session_that_holds_it() -> None:
    script = ("import socket, sys; c = socket.create_connection(('127.0.0.1', PORT)); "
              "sys.stdin.read()")
    other, own = _owner_of_connection([1], script)
    assert own and not other


def test_a_grandchild_in_the_session_counts_as_the_environments() -> None:
    script = textwrap.dedent("""
        import subprocess, sys
        subprocess.run([sys.executable, "-c",
            "import socket, sys; c = socket.create_connection(('127.0.0.1', PORT)); "
            "sys.stdin.read()"])
    """)
    _other, own = _owner_of_connection([1], script)
    assert own


def test_the_test_process_itself_is_not_an_environment() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(server.getsockname())
    conn, peer = server.accept()
    try:
        inode = _peers.socket_inode(peer, server.getsockname())
        assert inode is not None
        child = subprocess.Popen(["sleep", "30"], start_new_session=True)
        try:
            assert not _peers.held_by_sessions(inode, [child.pid])
        finally:
            child.kill()
            child.wait()
    finally:
        for s in (client, conn, server):
            s.close()


def test_socket_inode_of_no_such_connection_is_none() -> None:
    assert _peers.socket_inode(("127.0.0.1", 1), ("127.0.0.1", 2)) is None


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def allow(self, port: int) -> None:
        self.calls.append(("allow", port))

    def revoke(self, port: int) -> None:
        self.calls.append(("revoke", port))


def test_the_port_registry_tells_every_firewall_attached_before_or_after() -> None:
    ports = _firewall.HostPorts()
    early = _Recorder()
    ports.attach(early)  # type: ignore[arg-type]  # a recorder stands in for the firewall
    ports.allow(5000, "moto")
    late = _Recorder()
    ports.attach(late)  # type: ignore[arg-type]  # a recorder stands in for the firewall
    ports.revoke(5000)
    ports.revoke(5000)  # twice: once is enough
    assert early.calls == [("allow", 5000), ("revoke", 5000)]
    assert late.calls == [("allow", 5000), ("revoke", 5000)]
    assert ports.allowed() == {}


def test_no_firewall_for_a_bridge_that_is_not_here() -> None:
    reason = _firewall.unavailable_reason("br-notonthishost")
    assert reason is not None and "not on this machine" in reason


def test_a_remote_engine_is_not_promised_a_firewall() -> None:
    reason = _firewall.predicted_reason("tcp://10.0.0.5:2376")
    assert reason is not None and "tcp://10.0.0.5:2376" in reason


@pytest.mark.parametrize(("options", "expected"), [
    (["name=seccomp,profile=builtin"], False),
    (["name=seccomp,profile=builtin", "name=userns"], True),
    (["name=rootless"], True),
])
def test_user_namespace_remapping_is_detected(options: list[str], expected: bool) -> None:
    class Client:
        def info(self) -> dict[str, list[str]]:
            return {"SecurityOptions": options}

    assert remaps_users(Client()) is expected


def test_network_option(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(e, c): return e\n")
    isolated = build_config("app.handler", code=tmp_path, runtime="python3.13")
    opened = build_config("app.handler", code=tmp_path, runtime="python3.13", network="open")
    assert isolated.network == "isolated" and opened.network == "open"
    assert isolated.pool_key() != opened.pool_key()
    with pytest.raises(ConfigurationError, match="network must be 'isolated'"):
        build_config("app.handler", code=tmp_path, runtime="python3.13", network="internet")


def test_a_port_reused_by_a_new_environment_stays_allowed_when_the_old_one_goes() -> None:
    # An environment's Runtime API port is freed when it is discarded, and its removal (later,
    # in the background) revokes the port: a new environment that got the same port number
    # meanwhile must keep it, or its runtime's next connection is dropped.
    from pytest_lambda.containers.firewall import HostPorts

    ports = HostPorts()
    old, new = object(), object()
    ports.allow(40000, "Runtime API of old", owner=old)
    ports.allow(40000, "Runtime API of new", owner=new)
    ports.revoke(40000, owner=old)
    assert ports.allowed() == {40000: "Runtime API of new"}
    ports.revoke(40000, owner=new)
    assert ports.allowed() == {}
