"""Execution environments as Docker containers.

One container per environment, from a runtime image with the official images' contract (or, for a
container-image function, the user's image). The container's command wraps what the environment
runs (the image's `/lambda-entrypoint.sh <handler>`, or a user image's entry point and command) in
one line of bash that points stdout and stderr at the environment's Runtime API port (see
`backends/logs.py` for why), so output reaches the host without Docker's log pipeline in between.
With `--lambda-connect=published` the in-container agent (`agent/agent.c`) runs that line as its
child and the port is the agent's 127.0.0.1:9001, reached through tunnels (`tunnel.py`).
"""

from __future__ import annotations

import os
import secrets
import threading
import uuid
import weakref
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pytest_lambda.backends.base import (
    AwsAccess,
    Credentials,
    ExecutionEnvironment,
    ExitInfo,
    lambda_environment,
)
from pytest_lambda.backends.docker import ready as _ready
from pytest_lambda.backends.docker.bridge import BridgeHolder
from pytest_lambda.backends.docker.ephemeral import (
    DiskTmp,
    container_tmp,
)
from pytest_lambda.backends.docker.ready import ReadyContainer, ReadyContainers, ReadyKey
from pytest_lambda.backends.docker.reaper import Removals, hand_off, sweep_dead_sessions
from pytest_lambda.backends.docker.sandbox import (
    CPU_PERIOD_US,
    LAMBDA_UID,
    WRAPPER,
    EngineLimits,
    cgroup_dirs,
    cpu_quota,
    process_cgroup_dirs,
    resolv_conf,
    sandbox_host_config,
)
from pytest_lambda.backends.docker.tunnel import AGENT_RUNTIME_PORT, AGENT_TUNNEL_PORT, Tunnels
from pytest_lambda.backends.instrument import (
    PYCACHE_PATH,
    STATE_PATH,
    TOOLS_PATH,
    Instruments,
    LoopbackForward,
    instrumented,
    pycache_dir,
)
from pytest_lambda.config.arch import docker_platform, host_architecture
from pytest_lambda.config.function import FunctionConfig
from pytest_lambda.containers.client import LABEL_FUNCTION, SessionLabels, SessionNetwork
from pytest_lambda.containers.firewall import ROOTLESS, HostFirewall, HostPorts
from pytest_lambda.errors import (
    BackendUnavailableError,
    ConfigurationError,
    EnvironmentStartError,
)
from pytest_lambda.runtime_api.extensions import external_extensions
from pytest_lambda.system import clock as _clock
from pytest_lambda.system import mounts as _mounts

#: Where the in-container agent is mounted (`--lambda-connect=published`).
AGENT_PATH = "/pytest-lambda-agent"


class DockerEnvironment(ExecutionEnvironment):
    """Run the function's runtime in a container on the session's internal network."""

    backend = "docker"

    def __init__(
        self,
        config: FunctionConfig,
        *,
        client: Any,
        image: str,
        network: SessionNetwork,
        labels: SessionLabels,
        credentials: Credentials,
        log_stream_name: str,
        resolv_conf: Path,
        host_ports: HostPorts | None = None,
        agent: Path | None = None,
        dial_published: bool = False,
        endpoint_url: str | None = None,
        ready: ReadyContainers | None = None,
        podman: bool = False,
        limits: EngineLimits | None = None,
        removals: Removals | None = None,
    ) -> None:
        # With an agent nothing in the container connects to the host: the server listens on
        # loopback for form's sake and admits only the tunnels the host opens (`adopt`).
        super().__init__(config, server_host=network.gateway if agent is None else "127.0.0.1")
        self._resolv_conf = resolv_conf
        self._host_ports = host_ports
        self._agent = agent
        self._dial_published = dial_published
        self._tunnels = (Tunnels(self.server, secrets.token_hex(32)) if agent is not None
                         else None)
        self._client = client
        self._removals = removals or Removals(client)
        self._image = image
        self._network = network
        self._labels = labels
        self._credentials = credentials
        self._log_stream_name = log_stream_name
        self._endpoint_url = endpoint_url
        self.container_id: str | None = None
        self._cgroups: dict[str, Path] | None = None
        self._tmp: DiskTmp | None = None
        self._oom_killed = False
        self._lock = threading.Lock()
        #: The container's address on its network, once started: the one peer its server admits.
        self._address: str | None = None
        self._forward: LoopbackForward | None = None
        #: Where cold starts take a container made ahead of need, if they may (`ready.py`).
        self._ready = ready
        self._ready_container: ReadyContainer | None = None
        self._podman = podman
        self._limits = limits or EngineLimits()
        #: A rootful Podman on this machine: the container's cgroups are found through its
        #: first process (see `after_init` for a Podman elsewhere).
        self._podman_here = podman and not self._limits.cpu_at_create

    def authorize_peer(self, peer: tuple[str, int]) -> bool | None:
        if self._agent is not None:
            return False  # its connections arrive through the host's own tunnels
        if self._address is None:
            return None if not self._destroyed else False
        return peer[0] == self._address

    def start(self) -> None:
        config = self.config
        inside = f"127.0.0.1:{AGENT_RUNTIME_PORT}"
        env = lambda_environment(
            config,
            runtime_api=self.server.address if self._agent is None else inside,
            log_stream_name=self._log_stream_name,
            credentials=self._credentials,
            endpoint_url=self._endpoint_url,
            # Through the agent nothing in the container reaches the host directly.
            lambda_endpoint_url=self.lambda_endpoint_url if self._agent is None else None,
            initialization_type=self.initialization_type,
        )
        if self._agent is None and self.lambda_endpoint_url and self._host_ports is not None:
            port = int(self.lambda_endpoint_url.rsplit(":", 1)[1])
            if port not in self._host_ports.allowed():
                self._host_ports.allow(port, "the Lambda API")
        # Extensions listen for Logs/Telemetry batches on sandbox.localdomain, as in Lambda. An
        # image's own /opt/extensions cannot be seen from here, so an image always gets the name.
        launched = [path.name for path in external_extensions(config.opt_dir)]
        self.server.extensions.expect(launched)  # before one can register
        names = ({"hostname": "sandbox", "domainname": "localdomain"}
                 if config.image is not None or launched else {})
        self.server.telemetry.resolve_host = self._container_ip
        if config.image is not None:  # its entry point and command, Lambda's overrides applied
            argv, working_dir = config.image.argv, config.image.working_directory
        else:
            argv, working_dir = ["/lambda-entrypoint.sh", config.handler], "/var/task"
        if config.image is None and config.architecture != host_architecture():
            # A runtime image of the other architecture, which runs through binfmt_misc emulation.
            names["platform"] = docker_platform(config.architecture)
        command = [self.server.host, str(self.server.port), self.server.log_token, *argv]
        if self._agent is None and self._host_ports is not None:
            self._host_ports.allow(self.server.port, f"Runtime API of {config.name}",
                                   owner=self)
        if (self._ready is not None and self._agent is None and config.image is None
                and config.code_dir is not None):
            self._instrument(env, None)  # the tools are the ready container's; the state, below
            self._start_ready(env, names, ["/bin/bash", "-c", WRAPPER, "pytest-lambda", *command])
            return
        if self._agent is not None:
            command[:2] = ["127.0.0.1", str(AGENT_RUNTIME_PORT)]
        self._create_and_start(env, names, command, working_dir)

    def ready_key(self, names: Mapping[str, str]) -> ReadyKey:
        """Return the kind of ready container this environment can start in."""
        config = self.config
        return ReadyKey(
            image=self._image, platform=names.get("platform"), network=self._network.name,
            memory_mb=config.memory_size, tmp_mb=config.ephemeral_storage,
            names=tuple(sorted((k, v) for k, v in names.items() if k != "platform")),
            resolv_conf=config.network != "open",
            tools=str(self.instruments.tools) if self.instruments is not None else None,
        )

    def _start_ready(self, env: dict[str, str], names: Mapping[str, str],
                     argv: list[str]) -> None:
        """Start the runtime in a container made ahead of need (`ready.py`)."""
        config = self.config
        code_dir = config.code_dir
        assert self._ready is not None and code_dir is not None
        try:
            ready = self._ready.take(self.ready_key(names))
        except Exception as exc:
            raise EnvironmentStartError(
                f"Could not start a container for {config.name} from image {self._image}: "
                f"{exc}.{podman_hint(exc) if self._podman else ''}"
            ) from None
        self._ready_container = ready
        self.container_id, self._address, self._tmp = ready.container_id, ready.address, ready.tmp
        try:
            ready.launch(code_dir, config.opt_dir, env, argv,
                         state_dir=self.instruments.state if self.instruments else None)
            self.launched_at = _clock.perf()
        except Exception as exc:
            self.destroy()
            raise EnvironmentStartError(
                f"Could not start {config.name} in a ready container of image {self._image}: "
                f"{exc}."
            ) from None

    def _create_and_start(self, env: dict[str, str], names: dict[str, str],
                          command: list[str], working_dir: str) -> None:
        """Create the environment's own container and start it."""
        from docker.types import Mount

        api = self._client.api
        config = self.config
        # Mounts, not binds: a bind's "source:target:mode" string cannot carry a path with ":".
        mounts = []
        if config.code_dir is not None:  # a container image carries its own code
            mounts.append(Mount("/var/task", str(config.code_dir), type="bind", read_only=True))
        if config.opt_dir is not None:  # without layers the image's empty /opt stays
            mounts.append(Mount("/opt", str(config.opt_dir), type="bind", read_only=True))
        if config.network != "open":  # names fail at once, but for an opted-in network
            mounts.append(Mount("/etc/resolv.conf", str(self._resolv_conf), type="bind",
                                read_only=True))
        self._instrument(env, mounts)
        if self._agent is not None:
            assert self._tunnels is not None
            mounts.append(Mount(AGENT_PATH, str(self._agent), type="bind", read_only=True))
            env["_PYTEST_LAMBDA_AGENT_SECRET"] = self._tunnels.secret
        self._tmp, tmpfs = container_tmp(config.name, config.ephemeral_storage)
        if self._tmp is not None:
            mounts.append(Mount("/tmp", str(self._tmp.mountpoint), type="bind"))
        host_config = sandbox_host_config(
            api, mounts=mounts, tmpfs=tmpfs, memory_mb=config.memory_size,
            network=self._network.name,
            port_bindings=({AGENT_TUNNEL_PORT: ("127.0.0.1", None)} if self._dial_published
                           else None),
            limits=self._limits,
        )
        labels = {**self._labels.as_dict(), LABEL_FUNCTION: config.name}
        entrypoint = ["/bin/bash", "-c", WRAPPER, "pytest-lambda"]
        if self._agent is not None:
            entrypoint.insert(0, AGENT_PATH)
        try:
            created = api.create_container(
                self._image,
                entrypoint=entrypoint,
                command=command,
                ports=[AGENT_TUNNEL_PORT] if self._dial_published else None,
                environment=env,
                user=f"{LAMBDA_UID}:{LAMBDA_UID}",
                working_dir=working_dir,
                labels=labels,
                host_config=host_config,
                detach=True,
                **names,
            )
            self.container_id = created["Id"]
            api.start(self.container_id)
            self.launched_at = _clock.perf()
            self._address = self._inspect_address()
            if self._address is None:
                raise RuntimeError("the engine gave the container no address on its network")
            self.server.admit_waiting()
            if self._tunnels is not None:
                self._tunnels.start(self._agent_address())
        except ConfigurationError:
            self.destroy()
            raise
        except Exception as exc:
            tail = self._container_output()
            self.destroy()
            hint = ""
            if config.image is not None and "/bin/bash" in str(exc):
                hint = (" The harness connects the function's output through /bin/bash, which "
                        "this image lacks: base it on an AWS Lambda base image or add bash.")
            elif self._podman:
                hint = podman_hint(exc)
            raise EnvironmentStartError(
                f"Could not start a container for {config.name} from image "
                f"{config.image.reference if config.image else self._image}: {exc}.{hint}"
                + (f"\nContainer output:\n{tail}" if tail else "")
            ) from None

    def _instrument(self, env: dict[str, str], mounts: list[Any] | None) -> None:
        """Start a Python runtime under coverage and/or debugpy (see `backends/instrument.py`):
        the tools read-only, a state directory writable, Lambda's exec-wrapper hook pointed at
        the launcher, and the debugger's port forwarded from the host's loopback. `mounts` gets
        the container's mounts; None for a ready container, which carries the tools and takes
        the state directory at launch (`ready.py`)."""
        from docker.types import Mount

        if not instrumented(self.config, self.coverage):
            return
        port = self.config.debug_port
        if port is not None and self._dial_published:
            raise ConfigurationError(
                "debug_port= needs a Docker engine on this machine (its containers' addresses "
                "reachable from here), and this one is reached through published ports: debug "
                "with backend='process' instead."
            )
        if port is not None:  # taken before the container starts: a port in use fails first
            self._forward = LoopbackForward(
                port, lambda: (self._address, port) if self._address else None
            )
        self.instruments = tools = Instruments(self.config, self.coverage)
        if mounts is not None:
            mounts.append(Mount(TOOLS_PATH, str(tools.tools), type="bind", read_only=True))
            mounts.append(Mount(STATE_PATH, str(tools.state), type="bind"))
            mounts.append(Mount(PYCACHE_PATH, str(pycache_dir()), type="bind"))
        if "AWS_LAMBDA_EXEC_WRAPPER" in env:  # the function's own: it runs around the launcher
            env["_PYTEST_LAMBDA_EXEC_WRAPPER"] = env["AWS_LAMBDA_EXEC_WRAPPER"]
        env["AWS_LAMBDA_EXEC_WRAPPER"] = f"{TOOLS_PATH}/wrapper"
        env["_PYTEST_LAMBDA_INSTRUMENT"] = tools.spec(
            tools=TOOLS_PATH, state=STATE_PATH, task_root="/var/task", debug_host="0.0.0.0",
            pycache=PYCACHE_PATH,
        )

    def _container_output(self) -> str:
        if self.container_id is None:
            return ""
        try:
            out = self._client.api.logs(self.container_id, stdout=True, stderr=True, tail=20)
            return out.decode("utf-8", "replace").strip()  # type: ignore[no-any-return]
        except Exception:
            return ""

    def _container_ip(self) -> str:
        """Return the container's address on the session network (where the host reaches it)."""
        return self._address or "127.0.0.1"  # not started: delivery fails and is dropped

    def _agent_address(self) -> tuple[str, int]:
        """Return where the host reaches the agent: the container's address, or the port the
        engine published (on the engine's host) when the host cannot route to containers."""
        assert self._address is not None
        if not self._dial_published:
            return self._address, AGENT_TUNNEL_PORT
        info = self._client.api.inspect_container(self.container_id)
        binding = info["NetworkSettings"]["Ports"][f"{AGENT_TUNNEL_PORT}/tcp"][0]
        return engine_host(), int(binding["HostPort"])

    def _inspect_address(self) -> str | None:
        try:
            info = self._client.api.inspect_container(self.container_id)
            network = info["NetworkSettings"]["Networks"][self._network.name]
            return str(network["IPAddress"]) or None
        except Exception:
            return None

    def signal_runtime(self, kill: bool) -> None:
        # docker-init passes the signal to the wrapper, which passes it on to the runtime.
        try:
            self._client.api.kill(self.container_id, signal="SIGUSR1" if kill else "SIGTERM")
        except Exception:
            pass  # already stopped

    def startup_problem(self) -> str:
        # Before the bash wrapper connects its output to the harness, it goes to Docker's log.
        return "" if self.logs is not None else self._container_output()

    def _cgroup(self, kind: str) -> Path | None:
        if self._cgroups is None and self.container_id is not None:
            self._cgroups = cgroup_dirs(self.container_id)
            pid = self._pid() if not self._cgroups and self._podman_here else None
            if pid:  # Podman's layout differs: ask the container's first process
                self._cgroups = process_cgroup_dirs(pid)
        return (self._cgroups or {}).get(kind) or (self._cgroups or {}).get("unified")

    def _pid(self) -> int | None:
        """Return the container's first process on this machine, if the engine says."""
        try:
            pid = self._client.api.inspect_container(self.container_id)["State"]["Pid"]
        except Exception:
            return None
        return int(pid) if pid else None

    def after_init(self) -> None:
        # Lambda gives the init phase the host's CPU; invocations get the share for their memory.
        if self._limits.cpu_at_create:
            return  # an engine that cannot update a running container: set when it was made
        if not self.set_cpu_share(True):  # not root: ask the engine instead
            self._client.api.update_container(self.container_id, cpu_period=CPU_PERIOD_US,
                                              cpu_quota=cpu_quota(self.config.memory_size))

    def set_cpu_share(self, on: bool) -> bool:
        """Write the share into the container's cgroup (v1 or v2) directly."""
        if self._limits.cpu_at_create:
            return False
        cpu_dir = self._cgroup("cpu")
        quota = cpu_quota(self.config.memory_size) if on else None
        try:
            if cpu_dir is not None and (cpu_dir / "cpu.cfs_quota_us").exists():
                (cpu_dir / "cpu.cfs_period_us").write_text(str(CPU_PERIOD_US))
                (cpu_dir / "cpu.cfs_quota_us").write_text(str(quota or -1))
                return True
            if cpu_dir is not None and (cpu_dir / "cpu.max").exists():
                (cpu_dir / "cpu.max").write_text(f"{quota or 'max'} {CPU_PERIOD_US}")
                return True
        except OSError:
            pass
        return False

    def _cgroup_oom_kills(self) -> int:
        """Return how many processes the kernel killed for memory in the container's cgroup
        (0 when it cannot be read, as after the engine removed it)."""
        mem_dir = self._cgroup("memory")
        for name in ("memory.oom_control", "memory.events"):  # cgroup v1, v2
            try:
                text = (mem_dir / name).read_text() if mem_dir is not None else ""
            except OSError:
                continue
            for line in text.splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill" and value.strip().isdigit():
                    return int(value)
        return 0

    def max_memory_used_mb(self) -> int:
        if self._oom_killed:  # it reached the limit; its cgroup is gone with the container
            return self.config.memory_size
        mem_dir = self._cgroup("memory")
        peak = None
        if mem_dir is not None:
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                try:
                    peak = int((mem_dir / name).read_text().strip())
                    break
                except (OSError, ValueError):
                    continue
        if peak is None and self.container_id is not None:
            try:
                stats = self._client.api.stats(self.container_id, stream=False, one_shot=True)
                mem = stats.get("memory_stats", {})
                peak = int(mem.get("max_usage") or mem.get("usage") or 0)
            except Exception:
                peak = 0
        used = round((peak or 0) / (1024 * 1024))
        return min(max(used, 1), self.config.memory_size)

    def exit_info(self) -> ExitInfo:
        if self.container_id is None:
            return ExitInfo(code=-1)
        if self._cgroup_oom_kills() > 0:
            # The kernel counts the kill in the memory cgroup before the process dies, while the
            # engine's OOMKilled can come late (Docker sets it when its event arrives, after the
            # wrapper may have reported the death) or never (Podman's conmon may miss it).
            self._oom_killed = True
            return ExitInfo(code=137, signal=9, oom_killed=True)
        if self.reported_exit is not None:  # the wrapper outlives the runtime (extensions)
            code = self.reported_exit
            try:
                oom = self._client.api.inspect_container(self.container_id)["State"]["OOMKilled"]
            except Exception:
                oom = False
            if oom:
                self._oom_killed = True
                return ExitInfo(code=code, signal=9, oom_killed=True)
            return ExitInfo(code=code, signal=code - 128) if code > 128 else ExitInfo(code=code)
        try:
            result = self._client.api.wait(self.container_id, timeout=10)
            code = int(result.get("StatusCode", -1))
            state = self._client.api.inspect_container(self.container_id)["State"]
        except Exception:
            return ExitInfo(code=-1)
        if state.get("OOMKilled"):
            self._oom_killed = True
            return ExitInfo(code=code, signal=9, oom_killed=True)
        if code > 128:  # docker-init reports a signalled runtime as 128 + signal
            return ExitInfo(code=code, signal=code - 128)
        return ExitInfo(code=code)

    def destroy(self) -> None:
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
        self.settle_coverage()
        self.server.close()
        if self._forward is not None:
            self._forward.close()
        if self._tunnels is not None:
            self._tunnels.close()
        elif self._host_ports is not None:
            self._host_ports.revoke(self.server.port, owner=self)
        if self.logs is not None:
            self.logs.close()
        self._removals.remove(self.container_id, self._tmp, self._ready_container)
        if self.instruments is not None:
            self.instruments.release()


def podman_hint(exc: BaseException) -> str:
    """Return what to do about a container Podman would not start, if the cause is known."""
    if "container-init" in str(exc):
        return (" Podman runs each container under its init (catatonit), which is not "
                "installed: install catatonit, or point init_path in containers.conf at tini.")
    return ""


def engine_host() -> str:
    """Return the address of the machine the engine publishes ports on (DOCKER_HOST's host for
    a TCP engine, else this machine's loopback, where Docker Desktop and Colima forward them)."""
    from urllib.parse import urlsplit

    url = os.environ.get("DOCKER_HOST", "")
    if url.startswith(("tcp://", "ssh://")):
        return urlsplit(url).hostname or "127.0.0.1"
    return "127.0.0.1"


class DockerBackend:
    """Make `DockerEnvironment`s: one client, one session network, images resolved once."""

    name = "docker"

    def __init__(self, *, image_policy: str = "hermetic",
                 progress: Callable[[str], None] | None = None, connect: str = "auto",
                 aws: AwsAccess | None = None, ready: int = 2) -> None:
        from pytest_lambda.containers.client import engine, get_client

        self.client = get_client()
        #: Docker or Podman, rootful or rootless (docs/engines.md).
        self.engine = engine(self.client)
        problem = self.engine.limits_problem()
        if problem is not None:
            raise BackendUnavailableError(problem)
        self.labels = SessionLabels.current()
        #: Removes containers, at once or (from `closing(hand_off=True)`) through the reaper.
        self.removals = Removals(self.client)
        self.swept = sweep_dead_sessions(self.client, self.labels)
        self.network = SessionNetwork(self.client, self.labels, name_bridge=self.engine.podman)
        # A rootful Podman here brings a network's bridge up with its first container: a
        # holder container keeps it up (`bridge.py`), and until then it is local all the same.
        self._lazy_bridge = (self.engine.podman
                             and self.engine.bridge_here(os.environ.get("DOCKER_HOST")))
        self._holders: dict[str, BridgeHolder] = {}
        self._limits_probed = False
        #: What containers on this engine are given besides Lambda's limits (`EngineLimits`).
        self.limits = EngineLimits(cpu_at_create=self.engine.podman and not self._lazy_bridge)
        #: Host ports the session's functions may reach; everything else on the host is
        #: filtered where `firewall.active` (see `containers/firewall.py`).
        self.host_ports = HostPorts()
        self.firewall = HostFirewall(self.labels.session, self.network.bridge,
                                     self.network.gateway, expected=self._lazy_bridge,
                                     reason=ROOTLESS if self.engine.rootless else None)
        self.host_ports.attach(self.firewall)
        self._open_network: SessionNetwork | None = None
        self._network_lock = threading.Lock()
        # How environments reach the Runtime API (docs/security.md): directly, when the engine's
        # bridge is on this machine; else through the in-container agent and tunnels the host
        # opens, to the container's address or, for an engine elsewhere, to a published port.
        local = self._lazy_bridge or os.path.exists(f"/sys/class/net/{self.network.bridge}")
        self.connect = connect if connect != "auto" else ("direct" if local else "published")
        #: Published ports need a routed network: Docker publishes none for internal ones.
        self.dial_published = self.connect == "published" and not local
        #: The session's AWS (its credentials and endpoint), when the plugin provides one.
        self.aws = aws
        self.credentials = aws.credentials if aws is not None else Credentials.generate()
        self.resolv_conf = resolv_conf()
        self.image_policy = image_policy
        self._progress = progress
        self.images: dict[str, Any] = {}
        self._images_lock = threading.Lock()
        #: Why cold starts create their own containers instead of taking ready ones (None:
        #: they take ready ones, `ready` of each kind; see `ready.py`).
        self.ready_off: str | None = self._ready_unavailable(ready)
        self.ready_depth = ready
        self._ready: ReadyContainers | None = None
        self._ready_root: Path | None = None
        self._ready_lock = threading.Lock()
        self._environments: weakref.WeakSet[DockerEnvironment] = weakref.WeakSet()

    def containers_of(self, function_name: str) -> list[str]:
        """Return the ids of the containers that environments of the function called
        `function_name` run in now (a container started ahead of need carries no label naming
        its function)."""
        return [env.container_id for env in list(self._environments)
                if env.config.name == function_name and env.container_id is not None
                and not env._destroyed]

    def _ready_unavailable(self, depth: int) -> str | None:
        if depth <= 0:
            return "ready containers are off"
        if self.connect != "direct":
            return "the engine's containers are reached through published ports"
        host = os.environ.get("DOCKER_HOST", "")
        if host and not host.startswith("unix://"):
            return "the Docker engine is remote, so it cannot see host mounts"
        return _mounts.available()

    def ready_containers(self) -> ReadyContainers | None:
        """Return the session's ready containers (made on first need), or None when cold
        starts create their own (`ready_off` says why)."""
        if self.ready_off is not None:
            return None
        with self._ready_lock:
            if self._ready is None:
                try:
                    self._ready_root = _ready.session_root()
                except OSError as exc:
                    self.ready_off = f"the session's shared mount could not be made ({exc})"
                    return None
                self._ready = ReadyContainers(self._make_ready, self._discard_ready,
                                              depth=self.ready_depth)
            return self._ready

    def _make_ready(self, key: ReadyKey) -> ReadyContainer:
        """Create and start a container for `key` that waits for its function (`ready.py`)."""
        from docker.types import Mount

        assert self._ready_root is not None
        base = self._ready_root / uuid.uuid4().hex[:16]
        (base / "stage").mkdir(parents=True)
        os.chmod(base, 0o700)  # the waiting FIFO is reachable only by root on the host
        for name in ("task", "opt", "state") if key.tools is not None else ("task", "opt"):
            (base / name).mkdir()
        os.mkfifo(base / "task" / _ready.GO, 0o644)
        container = ReadyContainer(key, base, None)
        api = self.client.api
        try:
            container.tmp, tmpfs = container_tmp("a ready container", key.tmp_mb)
            mounts = [Mount(target, str(base / name), type="bind", read_only=True,
                            propagation="rslave")
                      for target, name in (("/var/task", "task"), ("/opt", "opt"))]
            if key.resolv_conf:
                mounts.append(Mount("/etc/resolv.conf", str(self.resolv_conf), type="bind",
                                    read_only=True))
            if key.tools is not None:  # the launcher's (`_instrument`); the state comes at launch
                mounts += [Mount(TOOLS_PATH, key.tools, type="bind", read_only=True),
                           Mount(STATE_PATH, str(base / "state"), type="bind", read_only=True,
                                 propagation="rslave"),
                           Mount(PYCACHE_PATH, str(pycache_dir()), type="bind")]
            if container.tmp is not None:
                mounts.append(Mount("/tmp", str(container.tmp.mountpoint), type="bind"))
            names: dict[str, str] = dict(key.names)
            if key.platform is not None:
                names["platform"] = key.platform
            created = api.create_container(
                key.image,
                entrypoint=["/bin/bash", "-c", _ready.WAITER, "pytest-lambda-ready", _ready.GO],
                user=f"{LAMBDA_UID}:{LAMBDA_UID}",
                working_dir="/var/task",
                labels={**self.labels.as_dict(), LABEL_FUNCTION: ""},
                host_config=sandbox_host_config(api, mounts=mounts, tmpfs=tmpfs,
                                                memory_mb=key.memory_mb, network=key.network,
                                                limits=self.limits),
                detach=True,
                **names,
            )
            container.container_id = created["Id"]
            api.start(container.container_id)
            info = api.inspect_container(container.container_id)
            container.address = info["NetworkSettings"]["Networks"][key.network]["IPAddress"]
            container.pid = int(info["State"].get("Pid") or 0)
            if not container.address:
                raise RuntimeError("the engine gave the container no address on its network")
        except BaseException:
            self._discard_ready(container)
            raise
        return container

    def _discard_ready(self, container: ReadyContainer) -> None:
        """Remove a ready container nobody took."""
        self.removals.remove(container.container_id, container.tmp, container)

    def image_for(self, runtime: str, architecture: str | None = None) -> Any:
        """Return the `ImageChoice` serving `runtime` on `architecture` (None: the host's),
        building the image on first need.

        `images` keeps them by runtime name, "<runtime> (<arch>)" for another architecture.
        """
        from pytest_lambda.images.resolve import resolve_image

        arch = architecture or host_architecture()
        key = runtime if arch == host_architecture() else f"{runtime} ({arch})"
        with self._images_lock:
            choice = self.images.get(key)
            if choice is None:
                kwargs: dict[str, Any] = {"policy": self.image_policy, "architecture": arch}
                if self._progress is not None:
                    kwargs["progress"] = self._progress
                choice = self.images[key] = resolve_image(self.client, runtime, **kwargs)
            return choice

    def network_for(self, config: FunctionConfig) -> SessionNetwork:
        """Return the network `config` runs on: the isolated one, or (made on first use) the
        open one for `network="open"`."""
        if config.network != "open" and not self.dial_published:
            return self.network
        with self._network_lock:
            if self._open_network is None:
                self._open_network = SessionNetwork(self.client, self.labels, internal=False,
                                                    name_bridge=self.engine.podman)
            return self._open_network

    def create(self, config: FunctionConfig, *, log_stream_name: str) -> DockerEnvironment:
        if config.image is not None:
            image = config.image.image_id
        else:
            assert config.runtime is not None
            image = self.image_for(config.runtime.name, config.architecture).tag
        network = self.network_for(config)
        if self._lazy_bridge:
            self._hold(network, image)  # before anything listens on its gateway
        elif self.engine.podman and not self.engine.rootless and not self._limits_probed:
            self._hold(network, image, bridge_here=False)  # for the process limit only
        endpoint = self.aws.endpoint_for(network.gateway) if self.aws is not None else None
        if (endpoint is not None and endpoint.host_port is not None
                and endpoint.host_port not in self.host_ports.allowed()):
            # Registered for the session: the endpoint outlives any one environment.
            self.host_ports.allow(endpoint.host_port, "the session's AWS endpoint")
        env = DockerEnvironment(
            config,
            client=self.client,
            image=image,
            network=network,
            labels=self.labels,
            credentials=self.credentials,
            log_stream_name=log_stream_name,
            resolv_conf=self.resolv_conf,
            host_ports=self.host_ports,
            agent=self._agent_for(config) if self.connect == "published" else None,
            dial_published=self.dial_published,
            endpoint_url=endpoint.url if endpoint is not None else None,
            ready=self.ready_containers(),
            podman=self.engine.podman,
            limits=self.limits,
            removals=self.removals,
        )
        self._environments.add(env)
        return env

    def _hold(self, network: SessionNetwork, image: str, *, bridge_here: bool = True) -> None:
        """Keep `network`'s bridge up with a holder container (`bridge.py`), whose start also
        says what process limit this engine's containers get; with `bridge_here=False` (an
        engine elsewhere) only find that limit."""
        with self._network_lock:
            holder = self._holders.get(network.id)
            if holder is None:
                holder = self._holders[network.id] = BridgeHolder(self.client, network,
                                                                  self.labels)
        holder.hold(image, bridge_here=bridge_here)
        if not bridge_here:
            holder.release()
        self._limits_probed = True
        if holder.nproc != self.limits.nproc:
            self.limits = EngineLimits(nproc=holder.nproc,
                                       cpu_at_create=self.limits.cpu_at_create)

    def _agent_for(self, config: FunctionConfig) -> Path:
        from pytest_lambda.backends.docker.agent import binary

        return binary(config.architecture)

    def closing(self, *, hand_off: bool) -> None:
        """Make no more ready containers; with `hand_off`, leave what is removed from now on
        to the reaper (`reaper.py`) that `close` starts."""
        if hand_off:
            self.removals.hold()
        if self._ready is not None:
            self._ready.close(wait=not hand_off)

    def close(self) -> None:
        """Remove what this session made: its containers, then its networks and firewall table;
        after `closing(hand_off=True)`, through a reaper, when one can start."""
        handing_off = self.removals.holding
        if self._ready is not None:
            self._ready.close(wait=not handing_off)
        leftovers = self.removals.take()
        try:
            listed = self.client.api.containers(
                all=True, filters={"label": f"pytest-lambda.session={self.labels.session}"}
            )
        except Exception:
            listed = []
        leftovers.containers += [c["Id"] for c in listed if c["Id"] not in leftovers.containers]
        if self._ready_root is not None:
            leftovers.directories.append(str(self._ready_root))
        leftovers.networks = [n.id for n in (self.network, self._open_network) if n is not None]
        if self.firewall.active:
            leftovers.firewall_table, self.firewall.active = self.firewall.table, False
        leftovers.owner_pid = os.getpid()
        if not (handing_off and hand_off(leftovers)):
            leftovers.remove(self.client)
