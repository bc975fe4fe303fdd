"""Isolation: only its own environment can use a Runtime API port, and functions reach nothing
on the host but the plugin's own servers (unless a function opts in to an open network).

Every address used here is on this machine: loopback, or a session network's gateway.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, FunctionFactory, LambdaService

PING = b"GET /2018-06-01/ping HTTP/1.1\r\nHost: attacker\r\n\r\n"
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: attacker\r\n\r\n"


def _exchange(host: str, port: int, data: bytes, timeout: float = 3.0) -> bytes:
    """Send `data` and return what came back before the peer closed or went quiet."""
    got = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as conn:
            conn.sendall(data)
            while b"pong" not in got:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                got += chunk
    except OSError:
        pass
    return got


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return host, int(port)


def _steal(address: str, stolen: list[bytes], ready: threading.Event) -> None:
    """Take the next event from `address` and answer it with a forged response."""
    host, port = _split(address)
    try:
        with socket.create_connection((host, port), timeout=15) as conn:
            conn.sendall(NEXT)
            ready.set()
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            fields = dict(
                line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:]
            )
            fields = {k.lower(): v for k, v in fields.items()}
            while len(body) < int(fields.get("content-length", "0")):
                body += conn.recv(4096)
            stolen.append(body)
            forged = b'{"forged": true}'
            request_id = fields["lambda-runtime-aws-request-id"]
            conn.sendall(
                f"POST /2018-06-01/runtime/invocation/{request_id}/response HTTP/1.1\r\n"
                f"Host: attacker\r\nContent-Length: {len(forged)}\r\n\r\n".encode() + forged
            )
            conn.recv(4096)
    except OSError:
        pass
    finally:
        ready.set()


def _netprobe(
    lambda_function: Any, functions_dir: Any, backend: BackendName, **options: Any,
) -> Any:
    # The process backend runs a Python runtime on the host's interpreter of its version.
    runtime = "python3.13" if backend == "docker" else "python{}.{}".format(*sys.version_info[:2])
    return lambda_function("app.handler", code=functions_dir / "netprobe", runtime=runtime,
                           backend=backend, timeout=10, **options)


def _container_address(fn: Any) -> str:
    from pytest_lambda.containers.client import get_client

    session = fn._service.backend("docker").labels.session
    found = get_client().api.containers(filters={"label": [
        f"pytest-lambda.function={fn.name}", f"pytest-lambda.session={session}"]})
    networks = found[0]["NetworkSettings"]["Networks"]
    return str(next(iter(networks.values()))["IPAddress"])


def _targets(fn: Any, address: str) -> list[tuple[str, int]]:
    """Where an attacker looks for `fn`'s Runtime API: the address its runtime uses, and with
    the in-container agent (published connect) the agent's ports on the container's address."""
    host, port = _split(address)
    if fn.backend == "docker" and host == "127.0.0.1":
        ip = _container_address(fn)
        return [(ip, 9000), (ip, 9001)]
    return [(host, port)]


def _gateway(lambda_service: Any, fn: Any) -> str:
    return str(lambda_service.backend("docker").network_for(fn.config).gateway)


def test_a_host_process_cannot_use_a_functions_runtime_api(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
) -> None:
    fn = _netprobe(lambda_function, functions_dir, backend, environment={"ROLE": "victim"})
    address = fn.invoke({}).payload["runtime_api"]
    # The environment is warm: its runtime waits in /next on `address`.
    targets = _targets(fn, address)
    for target in targets:
        assert b"pong" not in _exchange(*target, PING)
    stolen: list[bytes] = []
    ready = threading.Event()
    thief = threading.Thread(target=_steal, args=(":".join(map(str, targets[0])), stolen, ready),
                             daemon=True)
    thief.start()
    ready.wait(5)
    time.sleep(0.3)  # let an admitted thief reach its /next wait before the event exists
    result = fn.invoke({"secret": "s3cr3t"})
    thief.join(15)
    assert stolen == []
    assert result.function_error is None
    assert result.payload == {"runtime_api": address}


def test_a_sibling_function_cannot_use_another_functions_runtime_api(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
) -> None:
    victim = _netprobe(lambda_function, functions_dir, backend, environment={"ROLE": "b"})
    thief = _netprobe(lambda_function, functions_dir, backend, environment={"ROLE": "a"})
    address = victim.invoke({}).payload["runtime_api"]
    for target in _targets(victim, address):
        result = thief.invoke({"connect": ":".join(map(str, target)), "send": PING.decode()})
        assert result.function_error is None, result.logs
        assert "pong" not in result.payload["received"]
    # The thief's own Runtime API still answers it.
    own = thief.invoke({"connect": result.payload["runtime_api"], "send": PING.decode()})
    assert "pong" in own.payload["received"]


@pytest.mark.docker
def test_a_container_on_another_network_cannot_use_a_functions_runtime_api(
    lambda_function: FunctionFactory, functions_dir: Path, lambda_service: LambdaService,
) -> None:
    from pytest_lambda.containers.client import get_client

    fn = _netprobe(lambda_function, functions_dir, "docker")
    address = fn.invoke({}).payload["runtime_api"]
    from pytest_lambda.backends.docker.environment import DockerBackend

    docker = lambda_service.backend("docker")
    assert isinstance(docker, DockerBackend)
    image = docker.image_for("python3.13").tag
    for host, port in _targets(fn, address):
        # A connection the engine drops hangs: the probe gives up after 6 s either way.
        script = (f"trap '' PIPE; ( exec 3<>/dev/tcp/{host}/{port} && "
                  f"printf 'GET /2018-06-01/ping HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n' >&3 && "
                  f"timeout 3 cat <&3 ) & p=$!; "
                  f"for _ in 1 2 3 4 5 6; do sleep 1; kill -0 $p 2>/dev/null || break; done; "
                  f"kill $p 2>/dev/null; exit 0")
        output = get_client().containers.run(
            image, ["-c", script], entrypoint=["/bin/bash"], network_mode="bridge",
            remove=True, labels={"pytest-lambda.test": "isolation"}, user="993:993",
        ).decode("utf-8", "replace")
        assert "pong" not in output
    assert fn.invoke({}).function_error is None


def test_3000_idle_connections_do_not_stop_a_function(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
) -> None:
    fn = _netprobe(lambda_function, functions_dir, backend, environment={"ROLE": "idle"})
    address = fn.invoke({}).payload["runtime_api"]
    host, port = _targets(fn, address)[0]
    before = threading.active_count()
    idle = []
    try:
        for _ in range(3000):
            try:
                idle.append(socket.create_connection((host, port), timeout=5))
            except OSError:
                pass  # refused or reset: the server protects itself
        assert threading.active_count() - before < 200
        result = fn.invoke({"n": 1})
        assert result.function_error is None and result.payload == {"runtime_api": address}
    finally:
        for conn in idle:
            conn.close()


# -- what a function can reach on the host ----------------------------------------------------


class _Listener:
    """A TCP listener on the host that greets whoever connects."""

    def __init__(self, host: str) -> None:
        self.greeting = f"hello-from-host-{uuid.uuid4().hex[:8]}"
        self.sock = socket.create_server((host, 0))
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(self.greeting.encode())
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()


@pytest.mark.docker
def test_a_function_cannot_reach_the_hosts_other_listeners(
    lambda_function: FunctionFactory, functions_dir: Path, lambda_service: LambdaService,
) -> None:
    fn = _netprobe(lambda_function, functions_dir, "docker")
    fn.invoke({})
    gateway = _gateway(lambda_service, fn)
    listeners = [_Listener(gateway), _Listener("127.0.0.1"), _Listener("0.0.0.0")]
    try:
        for listener in listeners:
            result = fn.invoke({"connect": f"{gateway}:{listener.port}"})
            assert result.function_error is None, result.logs
            assert listener.greeting not in result.payload["received"], listener.sock
        # The plugin's own server stays reachable: the invocations above went through it.
        result = fn.invoke({"connect": fn.invoke({}).payload["runtime_api"],
                            "send": PING.decode()})
        assert "pong" in result.payload["received"]
    finally:
        for listener in listeners:
            listener.close()


@pytest.mark.docker
def test_an_open_network_function_reaches_host_listeners(
    lambda_function: FunctionFactory, functions_dir: Path, lambda_service: LambdaService,
) -> None:
    fn = _netprobe(lambda_function, functions_dir, "docker", network="open")
    fn.invoke({})
    gateway = _gateway(lambda_service, fn)
    listener = _Listener("0.0.0.0")
    try:
        result = fn.invoke({"connect": f"{gateway}:{listener.port}"})
        assert result.function_error is None, result.logs
        assert result.payload["received"] == listener.greeting
    finally:
        listener.close()


def test_payloads_stay_json(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
) -> None:
    """The probe's own contract, so a broken probe cannot make the tests above pass."""
    fn = _netprobe(lambda_function, functions_dir, backend, environment={"ROLE": "idle"})
    listener = _Listener("127.0.0.1")
    try:
        if backend == "process":  # a host process reaches host loopback: the probe works
            result = fn.invoke({"connect": f"127.0.0.1:{listener.port}"})
            assert result.payload["received"] == listener.greeting
        else:
            result = fn.invoke({"connect": "127.0.0.1:1"})
            assert result.payload["connected"] is False
        json.dumps(result.payload)
    finally:
        listener.close()


@pytest.mark.docker
def test_published_connect_works_when_containers_cannot_reach_the_host(functions_dir: Path) -> None:
    """The VM case: nothing the container sends reaches the test host (the plugin's firewall
    with no allowed port drops it all), and functions still run, through tunnels the host
    opens into the container."""
    from pytest_lambda import LambdaService
    from pytest_lambda.backends.docker.environment import DockerBackend
    from pytest_lambda.service.build import build_config

    made: list[DockerBackend] = []

    def backend() -> DockerBackend:
        made.append(DockerBackend(connect="published"))
        return made[0]

    service = LambdaService(backends={"docker": backend})
    try:
        config = build_config("app.handler", code=functions_dir / "netprobe",
                              runtime="python3.13", timeout=10)
        first = service.invoke(config, {}, backend="docker")
        docker = made[0]
        if not docker.firewall.active:
            pytest.skip(f"cannot cut the containers off the host here: {docker.firewall.reason}")
        assert docker.host_ports.allowed() == {}  # no port of the host is open to containers
        assert first.function_error is None, first.logs
        assert first.payload["runtime_api"] == "127.0.0.1:9001"
        listener = _Listener("0.0.0.0")
        try:
            probe = service.invoke(
                config, {"connect": f"{docker.network.gateway}:{listener.port}"},
                backend="docker")
        finally:
            listener.close()
        assert probe.payload["connected"] is False, probe.payload
        for n in range(20):  # warm invocations, output and all, over the tunnels
            result = service.invoke(config, {"n": n}, backend="docker")
            assert result.function_error is None and not result.cold_start
            assert f"REPORT RequestId: {result.request_id}" in result.logs
        # The agent's tunnel port wants the environment's secret; a flood of unproven
        # connections neither gets an answer nor stops the function.
        (container,) = docker.client.api.containers(filters={"label": [
            f"pytest-lambda.function={config.name}",
            f"pytest-lambda.session={docker.labels.session}"]})
        ip = next(iter(container["NetworkSettings"]["Networks"].values()))["IPAddress"]
        assert b"pong" not in _exchange(ip, 9000, b"not-the-secret\n" + PING)
        flood = [socket.create_connection((ip, 9000), timeout=5) for _ in range(300)]
        try:
            result = service.invoke(config, {"after": "flood"}, backend="docker")
            assert result.function_error is None and not result.cold_start
        finally:
            for conn in flood:
                conn.close()
    finally:
        service.close()
