"""Engines other than a rootful Docker: detection, and each decision or refusal, with fakes.

The Docker backend reads what answers DOCKER_HOST from the engine's `version()` and `info()`
and decides from that: Podman's bridges are named by the plugin and held up by a holder
container; a rootless engine is reached through published ports and gets no host firewall;
a rootless engine that cannot enforce cgroup limits is refused in one sentence.
"""

from __future__ import annotations

import resource
import socket
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from pytest_lambda import BackendUnavailableError
from pytest_lambda.backends.docker import bridge as _bridge
from pytest_lambda.backends.docker import environment as _environment
from pytest_lambda.backends.docker import sandbox as _sandbox
from pytest_lambda.containers import client as _client
from pytest_lambda.containers import firewall as _firewall
from pytest_lambda.images import build as _build

HOST = socket.gethostname()

DOCKER_VERSION = {"Version": "20.10.24", "Components": [{"Name": "Engine", "Version": "20.10.24"}]}
PODMAN_VERSION = {"Version": "4.3.1", "Components": [
    {"Name": "Podman Engine", "Version": "4.3.1"}, {"Name": "Conmon", "Version": "2.1.6"}]}


def _info(*, options: tuple[str, ...] = ("name=seccomp,profile=default",), cgroup: str = "2",
          driver: str = "systemd", name: str = HOST, **extra: Any) -> dict[str, Any]:
    return {"SecurityOptions": list(options), "CgroupVersion": cgroup, "CgroupDriver": driver,
            "Name": name, **extra}


class FakeApi:
    """The low-level calls the Docker backend makes, recorded; networks get a gateway."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []
        self.start_errors: list[Exception] = []
        self.removed: list[str] = []
        self._made = 0

    def _record(self, name: str, *args: Any, **kwargs: Any) -> None:
        self.calls.append((name, args, kwargs))

    def called(self, name: str) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
        return [(args, kwargs) for call, args, kwargs in self.calls if call == name]

    def containers(self, **kwargs: Any) -> list[dict[str, Any]]:
        return []

    def networks(self, **kwargs: Any) -> list[dict[str, Any]]:
        return []

    def create_network(self, name: str, **kwargs: Any) -> dict[str, str]:
        self._record("create_network", name, **kwargs)
        return {"Id": f"{len(self.called('create_network')):064x}"}

    def inspect_network(self, network_id: str) -> dict[str, Any]:
        return {"IPAM": {"Config": [{"Subnet": "10.89.0.0/24", "Gateway": "10.89.0.1"}]}}

    def remove_network(self, network_id: str) -> None:
        self._record("remove_network", network_id)

    def create_host_config(self, **kwargs: Any) -> dict[str, Any]:
        return kwargs

    def create_container(self, image: str, **kwargs: Any) -> dict[str, str]:
        self._record("create_container", image, **kwargs)
        self._made += 1
        return {"Id": f"c{self._made}"}

    def start(self, container_id: str) -> None:
        self._record("start", container_id)
        if self.start_errors:
            raise self.start_errors.pop(0)

    def remove_container(self, container_id: str, force: bool = False) -> None:
        self.removed.append(container_id)


class FakeClient:
    def __init__(self, version: dict[str, Any], info: dict[str, Any]) -> None:
        self._version, self._info = version, info
        self.asked = 0
        self.api = FakeApi()

    def version(self) -> dict[str, Any]:
        self.asked += 1
        return self._version

    def info(self) -> dict[str, Any]:
        return self._info


# -- detection ---------------------------------------------------------------------------------

def test_a_rootful_docker_is_docker_as_before() -> None:
    engine = _client.engine(FakeClient(DOCKER_VERSION, _info()))
    assert (engine.product, engine.podman, engine.rootless) == ("Docker", False, False)
    assert engine.describe() == "Docker engine 20.10.24"
    assert engine.limits_problem() is None
    assert engine.bridge_here("unix:///var/run/docker.sock") and engine.bridge_here(None)


def test_podman_is_told_apart_by_its_component() -> None:
    engine = _client.engine(FakeClient(PODMAN_VERSION, _info(cgroup="1", driver="cgroupfs")))
    assert engine.podman and not engine.rootless
    assert engine.describe() == "Podman 4.3.1 (Docker API)"
    assert engine.limits_problem() is None  # a rootful engine sets limits on cgroup v1 too
    assert engine.bridge_here("unix:///run/podman/podman.sock")


@pytest.mark.parametrize(("version", "info", "described"), [
    (DOCKER_VERSION, _info(options=("name=seccomp,profile=default", "name=rootless")),
     "Docker engine 20.10.24 (rootless)"),
    # Podman's Docker API says it in a field of its own, not among the security options.
    (PODMAN_VERSION, _info(Rootless=True), "Podman 4.3.1 (Docker API, rootless)"),
])
def test_a_rootless_engine_is_detected(version: dict[str, Any], info: dict[str, Any],
                                       described: str) -> None:
    engine = _client.engine(FakeClient(version, info))
    assert engine.rootless and engine.remaps_users
    assert engine.describe() == described
    # Its bridge is in its own network namespace: never this machine's.
    assert not engine.bridge_here("unix:///run/user/1000/docker.sock")


@pytest.mark.parametrize(("cgroup", "driver"), [("1", "none"), ("1", "cgroupfs"),
                                                 ("2", "cgroupfs"), ("", "")])
def test_a_rootless_engine_without_delegated_cgroup_v2_cannot_limit(cgroup: str,
                                                                    driver: str) -> None:
    engine = _client.engine(FakeClient(DOCKER_VERSION, _info(
        options=("name=rootless",), cgroup=cgroup, driver=driver)))
    problem = engine.limits_problem()
    assert problem is not None
    assert problem.count(". ") == 0 and problem.endswith("--lambda-backend=process.")
    assert "memory, process and CPU limits" in problem
    assert f"cgroup v{cgroup or '?'}" in problem


def test_a_rootless_engine_on_cgroup_v2_with_systemd_can_limit() -> None:
    engine = _client.engine(FakeClient(DOCKER_VERSION, _info(options=("name=rootless",))))
    assert engine.limits_problem() is None


def test_an_engine_on_another_host_or_socket_has_no_bridge_here() -> None:
    elsewhere = _client.engine(FakeClient(PODMAN_VERSION, _info(name="podman-machine-default")))
    assert not elsewhere.bridge_here("unix:///tmp/podman.sock")
    here = _client.engine(FakeClient(PODMAN_VERSION, _info()))
    assert not here.bridge_here("tcp://127.0.0.1:8888")


def test_the_engine_is_asked_once_per_client() -> None:
    client = FakeClient(PODMAN_VERSION, _info())
    assert _client.engine(client) is _client.engine(client)
    assert client.asked == 1


def test_an_engine_that_will_not_say_is_taken_for_docker() -> None:
    class Mute(FakeClient):
        def version(self) -> dict[str, Any]:
            raise RuntimeError("no")

    engine = _client.engine(Mute({}, {}))
    assert engine.describe() == "Docker engine ?" and not engine.rootless


# -- the backend's decisions -------------------------------------------------------------------

@pytest.fixture
def backend_with(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """Return a function making a DockerBackend on a fake client (no engine, no nftables)."""
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    firewalls: list[dict[str, Any]] = []

    class Firewall:
        def __init__(self, session: str, bridge: str, gateway: str, **kwargs: Any) -> None:
            firewalls.append({"bridge": bridge, **kwargs})
            self.active = False
            self.reason = kwargs.get("reason")

        def allow(self, port: int) -> None:
            pass

        def revoke(self, port: int) -> None:
            pass

        def remove(self) -> None:
            pass

    monkeypatch.setattr(_environment, "HostFirewall", Firewall)

    def make(version: dict[str, Any], info: dict[str, Any]) -> tuple[Any, FakeClient,
                                                                     dict[str, Any]]:
        fake = FakeClient(version, info)
        monkeypatch.setattr(_client, "get_client", lambda timeout=60: fake)
        backend = _environment.DockerBackend()
        return backend, fake, firewalls[-1]

    return make


def test_podman_here_names_its_bridge_and_connects_directly(backend_with: Any) -> None:
    backend, fake, firewall = backend_with(PODMAN_VERSION, _info(cgroup="1", driver="cgroupfs"))
    (name,), options = fake.api.called("create_network")[0]
    bridge = options["options"]["com.docker.network.bridge.name"]
    assert bridge == f"pl{backend.labels.session}" and len(bridge) <= 15  # IFNAMSIZ - 1
    assert backend.network.bridge == bridge
    # Its bridge appears with the first container: direct, and filtered by name meanwhile.
    assert backend.connect == "direct" and not backend.dial_published
    assert firewall["expected"] is True and firewall["reason"] is None


def test_a_rootless_engine_is_reached_through_published_ports(backend_with: Any) -> None:
    backend, fake, firewall = backend_with(
        DOCKER_VERSION, _info(options=("name=seccomp,profile=default", "name=rootless")))
    assert backend.connect == "published" and backend.dial_published
    assert firewall["reason"] == _firewall.ROOTLESS
    # Docker names its own bridges.
    assert fake.api.called("create_network")[0][1]["options"] is None


def test_a_rootless_engine_that_cannot_limit_is_refused_before_anything_is_made(
    backend_with: Any,
) -> None:
    with pytest.raises(BackendUnavailableError, match=r"^Docker engine 20\.10\.24 \(rootless\) "
                                                      r"runs on cgroup v1 with no cgroup driver"):
        backend_with(DOCKER_VERSION, _info(options=("name=rootless",), cgroup="1",
                                           driver="none"))


def test_rootless_needs_no_firewall_root_and_the_header_says_why() -> None:
    reason = _firewall.predicted_reason("unix:///run/user/1000/docker.sock", rootless=True)
    assert reason == _firewall.ROOTLESS


# -- the holder of a Podman bridge -------------------------------------------------------------

def _network(bridge: str = "lo") -> Any:
    return SimpleNamespace(name="pytest-lambda-abc", bridge=bridge)


def _labels() -> Any:
    return _client.SessionLabels("abc", "run", "main", 1, HOST)


def test_the_holder_starts_once_and_waits_for_the_bridge() -> None:
    fake = FakeClient(PODMAN_VERSION, _info())
    holder = _bridge.BridgeHolder(fake, _network(), _labels())
    holder.hold("img")
    holder.hold("img")
    (image,), kwargs = fake.api.called("create_container")[0]
    assert len(fake.api.called("create_container")) == 1
    assert image == "img" and kwargs["stdin_open"] and kwargs["user"] == "993:993"
    assert kwargs["labels"]["pytest-lambda.session"] == "abc"  # swept with the session
    host = kwargs["host_config"]
    assert host["network_mode"] == "pytest-lambda-abc" and host["cap_drop"] == ["ALL"]
    assert [u["Name"] for u in host["ulimits"]] == ["nofile"]
    assert holder.nproc is None  # the engine's own default served


def test_the_holder_finds_a_process_limit_the_engine_may_set() -> None:
    fake = FakeClient(PODMAN_VERSION, _info())
    refused = RuntimeError("error setting rlimit type 6: operation not permitted")
    fake.api.start_errors = [refused, refused]
    holder = _bridge.BridgeHolder(fake, _network(), _labels())
    holder.hold("img")
    tried = [[(u["Name"], u["Hard"]) for u in kwargs["host_config"]["ulimits"]]
             for _, kwargs in fake.api.called("create_container")]
    expected = [n for n in _sandbox.nproc_candidates()][:3]
    assert [dict(t).get("nproc") for t in tried] == expected
    assert fake.api.removed == ["c1", "c2"]  # the ones that did not start are gone
    assert holder.nproc == expected[2]


def test_a_holder_that_cannot_start_is_one_sentence() -> None:
    fake = FakeClient(PODMAN_VERSION, _info())
    fake.api.start_errors = [RuntimeError("no such image")]
    holder = _bridge.BridgeHolder(fake, _network(), _labels())
    with pytest.raises(BackendUnavailableError, match=r"^Podman could not start a container "
                                                      r"on .*--lambda-connect=published\.$"):
        holder.hold("img")
    assert len(fake.api.called("create_container")) == 1


def test_an_engine_elsewhere_gets_its_process_limit_found_and_no_holder_kept() -> None:
    fake = FakeClient(PODMAN_VERSION, _info())
    fake.api.start_errors = [RuntimeError("error setting rlimit type 6: operation not permitted")]
    holder = _bridge.BridgeHolder(fake, _network("plnothere0000"), _labels())
    holder.hold("img", bridge_here=False)  # no wait for a bridge that is not here
    holder.release()
    assert holder.nproc == _sandbox.nproc_candidates()[1]
    assert fake.api.removed == ["c1", "c2"]


def test_a_bridge_that_never_appears_here_means_the_engine_is_elsewhere(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_bridge, "BRIDGE_WAIT_S", 0.05)
    holder = _bridge.BridgeHolder(FakeClient(PODMAN_VERSION, _info()),
                                  _network("plnothere0000"), _labels())
    with pytest.raises(BackendUnavailableError, match="did not appear on this machine"):
        holder.hold("img")


# -- limits, cgroups, images -------------------------------------------------------------------

def test_nproc_is_left_to_the_engine_first_then_this_process_s_limit() -> None:
    candidates = _sandbox.nproc_candidates()
    assert candidates[0] is None
    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    if hard != resource.RLIM_INFINITY:
        assert candidates[1] == hard
    assert [u["Name"] for u in _sandbox.ulimits()] == ["nofile"]
    limited = {u["Name"]: (u["Soft"], u["Hard"]) for u in _sandbox.ulimits(nproc=4096)}
    assert limited["nproc"] == (4096, 4096) and limited["nofile"] == (1024, 1024)


def test_a_process_s_cgroups_are_found_from_proc() -> None:
    import os

    found = _sandbox.process_cgroup_dirs(os.getpid())
    assert found, "no cgroup directory found for this process"
    assert set(found) <= {"memory", "cpu", "unified"}
    assert all(path.is_dir() for path in found.values())
    assert _sandbox.process_cgroup_dirs(2**22 + 1) == {}  # no such process


def test_engine_limits_reach_the_host_config() -> None:
    api = FakeApi()
    plain = _sandbox.sandbox_host_config(api, mounts=[], tmpfs=None, memory_mb=1769,
                                         network="n")
    assert "cpu_quota" not in plain and [u["Name"] for u in plain["ulimits"]] == ["nofile"]
    podman = _sandbox.sandbox_host_config(
        api, mounts=[], tmpfs=None, memory_mb=1769, network="n",
        limits=_sandbox.EngineLimits(nproc=4096, cpu_at_create=True))
    assert podman["cpu_period"] == 100_000 and podman["cpu_quota"] == 100_000  # one vCPU
    assert {u["Name"]: u["Hard"] for u in podman["ulimits"]}["nproc"] == 4096


@pytest.mark.parametrize(("name", "text", "kills"), [
    ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n", 1),
    ("memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n", 2),
    ("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\n", 0),
])
def test_oom_kills_are_read_from_the_memory_cgroup(tmp_path: Path, name: str, text: str,
                                                   kills: int) -> None:
    (tmp_path / name).write_text(text)
    env = SimpleNamespace(_cgroup=lambda kind: tmp_path)
    assert _environment.DockerEnvironment._cgroup_oom_kills(env) == kills  # type: ignore[arg-type]


@pytest.mark.parametrize("reported_exit", [137, None])
def test_an_oom_kill_counted_by_the_cgroup_wins_over_a_late_engine_event(
    tmp_path: Path, reported_exit: int | None,
) -> None:
    # Docker sets State.OOMKilled when its OOM event arrives, which can be after the wrapper
    # reported the runtime's death (the chaos test saw Runtime.ExitError for an OOM kill); the
    # kernel counts the kill in the memory cgroup before the process dies.
    (tmp_path / "memory.events").write_text("low 0\nhigh 0\nmax 9\noom 1\noom_kill 1\n")
    api = SimpleNamespace(inspect_container=lambda _id: {"State": {"OOMKilled": False}},
                          wait=lambda _id, timeout: {"StatusCode": 137})
    env = SimpleNamespace(container_id="c", _podman_here=False, reported_exit=reported_exit,
                          _client=SimpleNamespace(api=api), _oom_killed=False,
                          _cgroup=lambda kind: tmp_path)
    env._cgroup_oom_kills = lambda: _environment.DockerEnvironment._cgroup_oom_kills(env)  # type: ignore[arg-type]
    info = _environment.DockerEnvironment.exit_info(env)  # type: ignore[arg-type]
    assert info.oom_killed and info.signal == 9


def test_an_imported_base_keeps_its_tag_on_podman(tmp_path: Path) -> None:
    # Podman's Docker API ignores a separate `tag` on import; "name:tag" in `repo` is honoured
    # by both engines.
    seen: dict[str, Any] = {}

    class Api:
        def import_image_from_file(self, path: str, **kwargs: Any) -> None:
            seen.update(kwargs)

    rootfs = tmp_path / "rootfs.tar"
    rootfs.write_bytes(b"")
    _build._import_tarball(SimpleNamespace(api=Api()), rootfs, "pytest-lambda/base:trixie-0",
                           None, labels={"pytest-lambda.image": "base"}, cmd=["/bin/bash"])
    assert seen["repository"] == "pytest-lambda/base:trixie-0" and "tag" not in seen


def test_the_header_names_the_engine(monkeypatch: pytest.MonkeyPatch) -> None:
    import pytest_lambda.plugin as plugin

    fake = FakeClient(PODMAN_VERSION, _info())
    monkeypatch.setattr(_client, "get_client", lambda timeout=60: fake)
    monkeypatch.setenv("DOCKER_HOST", "unix:///run/podman/podman.sock")
    assert plugin._engine_name() == "Podman 4.3.1 (Docker API) at unix:///run/podman/podman.sock"
    rootless = FakeClient(DOCKER_VERSION, _info(options=("name=rootless",)))
    monkeypatch.setattr(_client, "get_client", lambda timeout=60: rootless)
    line = plugin._docker_isolation()
    assert _firewall.ROOTLESS in line and "remapped by the engine" in line


def test_a_missing_podman_init_gets_what_to_do() -> None:
    exc = RuntimeError('500 Server Error: ("container create: container-init binary not found '
                       'on the host: stat /usr/libexec/podman/catatonit: no such file")')
    assert _environment.podman_hint(exc).endswith("install catatonit, or point init_path in "
                                                  "containers.conf at tini.")
    assert _environment.podman_hint(RuntimeError("no such image")) == ""
