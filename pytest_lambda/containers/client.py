"""The Docker engine as the harness uses it: the client, labels, the session network, the sweep.

docker-py is imported lazily (a pytest plugin is imported by every pytest run). Its HTTP goes
through `requests`, which `responses` patches while a user's test runs under
`@responses.activate`; the client made here keeps the unpatched transport, so the plugin's own
Docker calls never land in a user's mock.
"""

from __future__ import annotations

import os
import socket
import threading
import types
import uuid
from dataclasses import dataclass
from typing import Any

from pytest_lambda.errors import BackendUnavailableError
from pytest_lambda.system.children import pid_alive

LABEL_PREFIX = "pytest-lambda"
LABEL_SESSION = f"{LABEL_PREFIX}.session"
LABEL_RUN = f"{LABEL_PREFIX}.run"
LABEL_WORKER = f"{LABEL_PREFIX}.worker"
LABEL_PID = f"{LABEL_PREFIX}.pid"
LABEL_HOST = f"{LABEL_PREFIX}.host"
LABEL_FUNCTION = f"{LABEL_PREFIX}.function"

try:  # Captured before any test can patch it (see the module docstring).
    import requests.adapters as _adapters

    _ORIGINAL_SEND: Any = _adapters.HTTPAdapter.send
except ImportError:  # pragma: no cover - docker-py depends on requests
    _ORIGINAL_SEND = None


def _unpatchable(client: Any) -> Any:
    if _ORIGINAL_SEND is not None:
        for adapter in client.api.adapters.values():
            adapter.send = types.MethodType(_ORIGINAL_SEND, adapter)
    return client


_client_lock = threading.Lock()
_client: Any = None


def get_client(timeout: float = 60) -> Any:
    """Return the process's Docker client, made on first use from the environment (DOCKER_HOST)."""
    global _client
    with _client_lock:
        if _client is None:
            try:
                import docker
            except ImportError as exc:  # pragma: no cover - a declared dependency
                raise BackendUnavailableError(
                    "The docker package is not installed: pip install docker."
                ) from exc
            try:
                client = docker.from_env(timeout=timeout)
                client.ping()
            except Exception as exc:
                raise BackendUnavailableError(
                    f"No Docker engine answers ({_short(exc)}): start one (dockerd, Docker "
                    f"Desktop) or run with --lambda-backend=process."
                ) from None
            _client = _unpatchable(client)
        return _client


def remaps_users(client: Any) -> bool:
    """Return True when the engine maps container uids to other host uids (`userns-remap`, or a
    rootless engine, whose uids are subordinate ids of the user running it)."""
    try:
        options = client.info().get("SecurityOptions") or []
    except Exception:
        return False
    return any("name=userns" in str(option) or "name=rootless" in str(option)
               for option in options)


@dataclass(frozen=True)
class Engine:
    """What answers the Docker API: Docker or Podman, its version, and how it runs.

    Read from the engine's `version()` (Podman names a "Podman Engine" component) and `info()`
    (`name=rootless` among Docker's security options, `Rootless` in Podman's; the cgroup
    version and driver; the host name). See
    docs/engines.md for what each kind changes.
    """

    product: str  #: "Docker" or "Podman"
    version: str
    #: Run by an unprivileged user: its bridge lives in the engine's own network namespace
    #: (rootlesskit's, or Podman's), where this machine cannot route to container addresses.
    rootless: bool = False
    #: The engine maps container uids to other host uids (rootless, or `userns-remap`).
    remaps_users: bool = False
    cgroup_version: str = ""
    cgroup_driver: str = ""
    #: The engine's host name is this machine's: its bridge, if rootful, is here.
    same_host: bool = True

    @property
    def podman(self) -> bool:
        return self.product == "Podman"

    def describe(self) -> str:
        """Name the engine as the pytest header does ("Podman 4.3.1 (Docker API)")."""
        if self.podman:
            return f"Podman {self.version} (Docker API{', rootless' if self.rootless else ''})"
        return f"Docker engine {self.version}" + (" (rootless)" if self.rootless else "")

    def bridge_here(self, docker_host: str | None) -> bool:
        """Return True when the engine's bridges are (or will be) network devices of this
        machine: a rootful engine on this machine, reached through a unix socket."""
        local_socket = not docker_host or docker_host.startswith("unix://")
        return local_socket and self.same_host and not self.rootless

    def limits_problem(self) -> str | None:
        """Return one sentence saying why this engine cannot hold a function to its memory,
        process and CPU limits, or None when it can.

        A rootless engine sets limits only through cgroup v2 delegated by systemd; elsewhere
        Docker discards them with a warning and Podman ignores them, and a function would run
        with the host's memory instead of its MemorySize.
        """
        if not self.rootless:
            return None
        if self.cgroup_version == "2" and self.cgroup_driver == "systemd":
            return None
        driver = ("no cgroup driver" if self.cgroup_driver in ("", "none")
                  else f"the {self.cgroup_driver} cgroup driver")
        return (
            f"{self.describe()} runs on cgroup v{self.cgroup_version or '?'} with {driver}, "
            f"where a rootless engine cannot hold a container to Lambda's memory, process and "
            f"CPU limits: run it on cgroup v2 with systemd's cgroup delegation (as Docker's and "
            f"Podman's rootless guides describe), use a rootful engine, or run with "
            f"--lambda-backend=process."
        )


def engine(client: Any) -> Engine:
    """Return the `Engine` behind `client` (asked once per client)."""
    known = getattr(client, "_pytest_lambda_engine", None)
    if isinstance(known, Engine):
        return known
    try:
        version = client.version() or {}
    except Exception:
        version = {}
    try:
        info = client.info() or {}
    except Exception:
        info = {}
    components = [str(c.get("Name", "")) for c in version.get("Components") or []]
    podman = any("podman" in name.lower() for name in components)
    options = [str(option) for option in info.get("SecurityOptions") or []]
    # Docker says so among its security options; Podman's Docker API in a field of its own.
    rootless = info.get("Rootless") is True or any("name=rootless" in o for o in options)
    found = Engine(
        product="Podman" if podman else "Docker",
        version=str(version.get("Version") or info.get("ServerVersion") or "?"),
        rootless=rootless,
        remaps_users=rootless or any("name=userns" in option for option in options),
        cgroup_version=str(info.get("CgroupVersion") or ""),
        cgroup_driver=str(info.get("CgroupDriver") or ""),
        same_host=not info.get("Name") or info.get("Name") == socket.gethostname(),
    )
    try:
        client._pytest_lambda_engine = found
    except AttributeError:  # pragma: no cover - a client that takes no attributes
        pass
    return found


def probe() -> tuple[bool, str]:
    """Return (True, the engine's name and version) when a Docker API answers, else (False,
    why not)."""
    try:
        client = get_client(timeout=5)
        client.version()
    except BackendUnavailableError as exc:
        return False, str(exc)
    except Exception as exc:  # an engine that answers ping but not version
        return False, _short(exc)
    return True, engine(client).describe()


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[-1][:200] if text else type(exc).__name__


@dataclass(frozen=True)
class SessionLabels:
    """The labels every container and network of one pytest process carries."""

    session: str
    run: str
    worker: str
    pid: int
    host: str

    @classmethod
    def current(cls) -> SessionLabels:
        return cls(
            session=uuid.uuid4().hex[:12],
            run=os.environ.get("PYTEST_XDIST_TESTRUNUID", "") or uuid.uuid4().hex[:12],
            worker=os.environ.get("PYTEST_XDIST_WORKER", "main"),
            pid=os.getpid(),
            host=socket.gethostname(),
        )

    def as_dict(self) -> dict[str, str]:
        return {
            LABEL_SESSION: self.session,
            LABEL_RUN: self.run,
            LABEL_WORKER: self.worker,
            LABEL_PID: str(self.pid),
            LABEL_HOST: self.host,
        }


def _is_orphan(labels: dict[str, str], me: SessionLabels) -> bool:
    if labels.get(LABEL_SESSION) == me.session:
        return False
    if labels.get(LABEL_HOST) != me.host:
        return False  # another machine's session: its own sweep will see to it
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return True
    return not pid_alive(pid)


def sweep(client: Any, me: SessionLabels) -> tuple[int, int]:
    """Remove containers and networks that dead sessions on this host left behind.

    Returns (containers removed, networks removed).
    """
    removed_containers = removed_networks = 0
    for c in client.api.containers(all=True, filters={"label": LABEL_SESSION}):
        if _is_orphan(c.get("Labels") or {}, me):
            try:
                client.api.remove_container(c["Id"], force=True)
                removed_containers += 1
            except Exception:
                pass
    for n in client.api.networks(filters={"label": LABEL_SESSION}):
        labels = n.get("Labels") or {}
        if _is_orphan(labels, me):
            if remove_network(client, n["Id"]):
                removed_networks += 1
            from pytest_lambda.containers.firewall import remove_table, table_name

            remove_table(table_name(labels.get(LABEL_SESSION, "")))
    return removed_containers, removed_networks


def remove_network(client: Any, network_id: str) -> bool:
    """Remove a network, first disconnecting what is still attached; return whether it went.

    The engine refuses to remove a network with active endpoints ("has active endpoints"),
    which a container being removed at the same moment, or an endpoint the engine failed to
    release when a session was killed, leaves behind.
    """
    try:
        client.api.remove_network(network_id)
        return True
    except Exception:
        pass
    try:
        attached = client.api.inspect_network(network_id).get("Containers") or {}
    except Exception:
        return False  # gone already, or the engine cannot say
    for endpoint in attached:
        try:
            client.api.disconnect_container_from_network(endpoint, network_id, force=True)
        except Exception:
            pass
    try:
        client.api.remove_network(network_id)
        return True
    except Exception:
        return False


def _no_address_pool(client: Any, me: SessionLabels) -> str:
    """Say that the engine has no address range left for a network, and what holds them.

    Each bridge network takes one of the engine's address pools (about 30 by default). Now and then
    the engine keeps a removed container's endpoint on a network ("has active endpoints", with
    no container attached), refuses to remove that network, and keeps its pool until it
    restarts; the sweep cannot remove such networks either.
    """
    try:
        networks = client.api.networks()
    except Exception:
        networks = []
    ended = sum(1 for n in networks if LABEL_SESSION in (n.get("Labels") or {})
                and _is_orphan(n.get("Labels") or {}, me))
    return (f"The Docker engine has no address range left for a new network ({len(networks)} "
            f"networks exist, {ended} of them left by pytest-aws-lambda sessions that have "
            f"ended, which the engine will not remove while it holds stale endpoints on them): "
            f"remove the networks you no longer need (docker network prune), or restart the "
            f"engine, which clears stale endpoints.")


class SessionNetwork:
    """A bridge network of the session: internal (containers reach the host's gateway address
    and nothing else), or, for functions that opt in with `network="open"`, routed outward."""

    def __init__(self, client: Any, labels: SessionLabels, *, internal: bool = True,
                 name_bridge: bool = False) -> None:
        self._client = client
        self.internal = internal
        self.name = f"pytest-lambda-{labels.session}" + ("" if internal else "-open")
        # Podman names its bridges podman1, podman2, ... and says which only through its own
        # API; asked for a name through Docker's option, it takes it (so does Docker).
        bridge = f"pl{labels.session[:12]}{'' if internal else 'o'}" if name_bridge else None
        try:
            net = client.api.create_network(
                self.name, driver="bridge", internal=internal, labels=labels.as_dict(),
                check_duplicate=True,
                options={"com.docker.network.bridge.name": bridge} if bridge else None,
            )
        except Exception as exc:
            if "address pool" not in str(exc):
                raise
            raise BackendUnavailableError(_no_address_pool(client, labels)) from None
        self.id: str = net["Id"]
        #: The host side of the network: Docker names a user network's bridge after its id.
        self.bridge = bridge or f"br-{self.id[:12]}"
        info = client.api.inspect_network(self.id)
        configs = (info.get("IPAM") or {}).get("Config") or []
        gateway = next((c.get("Gateway") for c in configs if c.get("Gateway")), None)
        if not gateway:
            self.remove()
            raise BackendUnavailableError(
                f"Docker network {self.name} has no gateway address, so containers could not "
                f"reach the Runtime API server: check the engine's bridge configuration."
            )
        self.gateway: str = gateway

    def remove(self) -> None:
        remove_network(self._client, self.id)
