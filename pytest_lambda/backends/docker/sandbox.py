"""What a Lambda container is given besides its image: the bash wrapper in front of the runtime,
the resolv.conf that fails lookups at once, the CPU share for its memory, the process and file
limits, and where its cgroups are."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_lambda.config import limits as _limits

#: The unprivileged user Lambda runs functions as (sbx_user1051).
LAMBDA_UID = 993

# Without extensions the wrapper execs the runtime. With files in /opt/extensions (Lambda's
# rule: non-directory entries, unless /opt/disable-extensions-jwigqn8j exists) it starts each
# with argv = its path, its output on a log stream of its own (merged by whole lines), and the
# extensions' environment (no `_*`, no AWS_XRAY_CONTEXT_MISSING),
# having named them to the harness first (so that none registers as an internal extension),
# reports each one's exit, waits for the harness's GO (every launched extension registered or
# exited), then runs the runtime as its child: SIGTERM is passed on to the runtime, SIGUSR1
# becomes the runtime's SIGKILL, and the runtime's exit is reported while the extensions live on
# for their SHUTDOWN event. See `runtime_api/server.py` for the report lines.
WRAPPER = r"""exec 1<>"/dev/tcp/$1/$2" 2>&1 || exit 121
printf 'PYTEST-LAMBDA-LOGS %s\n' "$3"
a="/dev/tcp/$1/$2"; t=$3; shift 3; x=()
[ -e /opt/disable-extensions-jwigqn8j ] || for e in /opt/extensions/*; do
  [ -e "$e" ] && [ ! -d "$e" ] && x+=("$e"); done
[ ${#x[@]} -eq 0 ] && exec "$@"
exec 3<>"$a"; printf 'PYTEST-LAMBDA-EXTENSIONS %s %s\n' "$t" "${x[*]##*/}" >&3
for e in "${x[@]}"; do
  ( exec 3<&- 1<>"$a" 2>&1; printf 'PYTEST-LAMBDA-LOGS %s\n' "$t"
    for v in $(compgen -e); do case $v in _*|AWS_XRAY_CONTEXT_MISSING) unset "$v";; esac; done
    env -u _ "$e"; c=$?
    printf 'PYTEST-LAMBDA-EXTEXIT %s %s %s\n' "$t" "$c" "${e##*/}" >"$a" ) &
done
read -r r <&3; exec 3<&-
[ "$r" = GO ] || exit 0
"$@" & p=$!
trap 'kill -TERM $p 2>/dev/null' TERM; trap 'kill -KILL $p 2>/dev/null' USR1
while :; do wait $p; c=$?; kill -0 $p 2>/dev/null || break; done
printf 'PYTEST-LAMBDA-EXIT %s %s\n' "$t" "$c" >"$a"
while ! wait; do :; done
"""

_CGROUP_ROOT = Path("/sys/fs/cgroup")

# The containers' /etc/resolv.conf. Docker's embedded resolver on an internal network waits
# 10 s for upstream servers it cannot reach, so a stray lookup (a forgotten real-AWS call)
# hangs until the timeout. A resolver on the container's own loopback, where nothing listens,
# is refused at once (ICMP port unreachable), and the lookup fails in the function's own error
# handling. /etc/hosts, which Docker still writes, answers localhost and the container's name.
_RESOLV_CONF = "# pytest-aws-lambda: no name resolution inside Lambda environments\n" \
    "nameserver 127.0.0.1\noptions attempts:1 timeout:1\n"


def resolv_conf() -> Path:
    """Return the host file bind-mounted over every container's /etc/resolv.conf."""
    from pytest_lambda.system.paths import cache_dir

    path = cache_dir() / "resolv.conf"
    try:
        if path.read_text() == _RESOLV_CONF:
            return path
    except OSError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".resolv.conf.")
    with os.fdopen(fd, "w") as f:
        f.write(_RESOLV_CONF)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)  # atomic: parallel sessions never mount a half-written file
    return path


def cpu_share(memory_mb: int) -> float:
    """Return the vCPUs Lambda gives `memory_mb` (1,769 MB = one vCPU), capped at the host's."""
    return min(memory_mb / _limits.MEMORY_PER_VCPU_MB, float(os.cpu_count() or 1))


#: The CFS period the CPU share is a quota of.
CPU_PERIOD_US = 100_000


def cpu_quota(memory_mb: int) -> int:
    """Return the CFS quota (microseconds per `CPU_PERIOD_US`) of `memory_mb`'s CPU share."""
    return max(1000, int(cpu_share(memory_mb) * CPU_PERIOD_US))


def cgroup_dirs(container_id: str) -> dict[str, Path]:
    """Find the container's cgroup directories (v1 per controller, or the v2 unified one)."""
    candidates = {
        "memory": [
            _CGROUP_ROOT / "memory" / "docker" / container_id,
            _CGROUP_ROOT / "memory" / "system.slice" / f"docker-{container_id}.scope",
        ],
        "cpu": [
            _CGROUP_ROOT / "cpu" / "docker" / container_id,
            _CGROUP_ROOT / "cpu" / "system.slice" / f"docker-{container_id}.scope",
            _CGROUP_ROOT / "cpu,cpuacct" / "docker" / container_id,
            _CGROUP_ROOT / "cpu,cpuacct" / "system.slice" / f"docker-{container_id}.scope",
        ],
        "unified": [
            _CGROUP_ROOT / "system.slice" / f"docker-{container_id}.scope",
            _CGROUP_ROOT / "docker" / container_id,
        ],
    }
    found = {}
    for kind, paths in candidates.items():
        for path in paths:
            if path.is_dir():
                found[kind] = path
                break
    return found


def process_cgroup_dirs(pid: int) -> dict[str, Path]:
    """Find the cgroup directories of process `pid` (a container's first process, as a rootful
    engine on this machine reports it) from `/proc/<pid>/cgroup`: where Podman puts its
    containers (`libpod_parent/libpod-<id>`, `machine.slice/libpod-<id>.scope`)."""
    try:
        lines = Path(f"/proc/{pid}/cgroup").read_text().splitlines()
    except OSError:
        return {}
    found: dict[str, Path] = {}
    for line in lines:
        _, controllers, path = line.split(":", 2)
        names = controllers.split(",")
        if controllers == "":
            kinds = {"unified": _CGROUP_ROOT}
        else:
            kinds = {kind: _CGROUP_ROOT / controllers
                     for kind in ("memory", "cpu") if kind in names}
        for kind, root in kinds.items():
            directory = root / path.lstrip("/")
            if directory.is_dir():
                found[kind] = directory
    return found


def sandbox_host_config(api: Any, *, mounts: list[Any], tmpfs: dict[str, str] | None,
                        memory_mb: int, network: str,
                        port_bindings: dict[int, Any] | None = None,
                        limits: EngineLimits | None = None) -> Any:
    """Return the engine's host configuration of every Lambda container: read-only root, the
    memory limit without swap, Lambda's process and file limits, no capabilities, docker-init
    as PID 1 (it passes signals on and reaps), on the session's network.

    `limits` carries what an engine other than a rootful Docker needs (`EngineLimits`)."""
    memory = f"{memory_mb}m"
    limits = limits or EngineLimits()
    cpu = {}
    if limits.cpu_at_create:
        cpu = {"cpu_period": CPU_PERIOD_US, "cpu_quota": cpu_quota(memory_mb)}
    return api.create_host_config(
        **cpu,
        mounts=mounts,
        tmpfs=tmpfs,
        read_only=True,
        mem_limit=memory,
        memswap_limit=memory,
        pids_limit=_limits.PROCESSES_MAX,
        ulimits=ulimits(nproc=limits.nproc),
        network_mode=network,
        init=True,
        cap_drop=["ALL"],
        security_opt=["no-new-privileges"],
        port_bindings=port_bindings,
    )


@dataclass(frozen=True)
class EngineLimits:
    """How an engine other than a rootful Docker on this machine is given Lambda's limits.

    `nproc`: an RLIMIT_NPROC the engine can set, where its default cannot be
    (`nproc_candidates`). `cpu_at_create`: the CPU share is set when the container is made,
    for an engine that cannot change a running container's (Podman's Docker API has no
    update), instead of after init.
    """

    nproc: int | None = None
    cpu_at_create: bool = False


def ulimits(*, nproc: int | None = None) -> list[Any]:
    """Return Lambda's file-descriptor limit as the engine takes it (and `nproc`, if given).

    Lambda's 1,024 processes and threads are the container's `pids_limit` (its own cgroup), not
    an `RLIMIT_NPROC`: the kernel counts that per user across the host, and every environment
    runs as uid 993, so one environment near its limit would stop all the others starting
    threads. `getrlimit(RLIMIT_NPROC)` inside therefore shows the engine's default, unless the
    engine cannot set its default (see `nproc_candidates`).
    """
    from docker.types import Ulimit

    limits = [Ulimit(name="nofile", soft=_limits.FILE_DESCRIPTORS_MAX,
                     hard=_limits.FILE_DESCRIPTORS_MAX)]
    if nproc is not None:
        limits.append(Ulimit(name="nproc", soft=nproc, hard=nproc))
    return limits


def nproc_candidates() -> list[int | None]:
    """Return the RLIMIT_NPROC values to try on a rootful Podman, best first.

    Docker's default is its own limit; rootful Podman's is a fixed 1,048,576, which a root
    without CAP_SYS_RESOURCE (in a container, in a CI sandbox) may not set, so every container
    fails to start ("error setting rlimit type 6"). Then this process's own limit, and failing
    that a value no sane host refuses, are tried in turn.
    """
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NPROC)[1]
    candidates: list[int | None] = [None]
    if hard != resource.RLIM_INFINITY:
        candidates.append(int(hard))
    candidates += [n for n in (32768, 4096) if n not in candidates]
    return candidates
