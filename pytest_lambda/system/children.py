"""The process backend's child processes: tied to pytest, under Lambda's limits, swept if left.

Every process an environment starts (runtime, extensions) is started by one long-lived thread
(`popen`), so that `PR_SET_PDEATHSIG` (Linux) kills it with SIGKILL when pytest dies: the kernel
signals a child when the *thread* that forked it ends, so forking from a test's own thread would
kill the runtime when that thread ended. Its file descriptors are limited to Lambda's 1,024
(`RLIMIT_NOFILE`). `RLIMIT_NPROC` is left alone: the kernel counts it per user across the host,
so 1,024 would count the test user's own shells, editors and browsers (and root ignores it).

Processes the runtime starts itself do not inherit the death signal, and other systems have
none, so each environment also writes a record under `cache_dir()/processes`: the pytest process
that owns it (pid and start time), the process groups it started (each leader's pid and start
time) and its scratch directory. `ProcessEnvironment.destroy()` deletes the record with the
environment. A record whose owner is gone (no such pid, or a pid now used by a process started
at another time) was left by a killed session: `sweep_dead()` kills its groups and removes the
scratch directory. A live session's record is never touched, so concurrent sessions on one
machine (or xdist workers) leave each other alone.

Killing a group is safe only while the number still names that group. A process-group id is not
reused while any member lives, so: when the leader's pid is free, whatever is still in a group
of that id belongs to the recorded group; when a process with the leader's pid runs but started
at another time, the recorded group is gone and nothing is killed.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pytest_lambda.system.paths import cache_dir

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Any:
    if not sys.platform.startswith("linux"):
        return None
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong,
                      ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()
_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _file_limit(limit: int) -> tuple[int, int]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    return limit, limit


def _child_setup(parent: int, nofile: tuple[int, int]) -> Callable[[], None]:
    """Return the function run in the child between fork and exec (async-signal-light: no
    imports, no locks)."""
    prctl = _PRCTL

    def setup() -> None:
        if prctl is not None:
            prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
            if os.getppid() != parent:  # pytest died before the tie was made
                os._exit(1)
        resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

    return setup


def popen(argv: list[str], *, max_files: int, **kwargs: Any) -> subprocess.Popen[bytes]:
    """Start `argv` (with `subprocess.Popen`'s keywords) as a child that dies with pytest, and
    may open `max_files` files (at most the hard limit pytest has)."""
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            _spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lambda-spawner")
        spawner = _spawner
    setup = _child_setup(os.getpid(), _file_limit(max_files))

    def start() -> subprocess.Popen[bytes]:
        return subprocess.Popen(argv, preexec_fn=setup, **kwargs)

    return spawner.submit(start).result()


def _root() -> Path:
    return cache_dir() / "processes"


def start_time(pid: int) -> int | None:
    """Return when `pid` started (clock ticks after boot, from /proc), or None if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    try:  # the command name is in parentheses and may hold spaces or ")": split after the last
        return int(stat[stat.rindex(b")") + 2:].split()[19])
    except (ValueError, IndexError):
        return None


def pid_alive(pid: int, started: int | None = None) -> bool:
    """Return True when process `pid` lives (and, given `started`, is the one that started
    then: a reused pid is not mistaken for it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    if started is None:
        return True
    now = start_time(pid)
    return now is None or now == started


class ProcessRecord:
    """The on-disk note of one process environment's groups and scratch directory."""

    def __init__(self, scratch: Path) -> None:
        self._lock = threading.Lock()
        pid = os.getpid()
        self._doc: dict[str, object] = {
            "owner": pid, "owner_started": start_time(pid), "scratch": str(scratch),
            "groups": [],
        }
        self.path = _root() / f"{socket.gethostname()}-{pid}-{uuid.uuid4().hex[:12]}.json"
        self._write()

    def add_group(self, leader: int) -> None:
        """Record a process group started by the environment (its leader's pid)."""
        with self._lock:
            groups = self._doc["groups"]
            assert isinstance(groups, list)
            groups.append([leader, start_time(leader)])
            self._write()

    def _write(self) -> None:
        with contextlib.suppress(OSError):  # without a record only the next sweep is lost
            self.path.parent.mkdir(parents=True, exist_ok=True)
            staging = self.path.with_name(self.path.name + ".tmp")
            staging.write_text(json.dumps(self._doc))
            os.replace(staging, self.path)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


def sweep_dead() -> tuple[int, int]:
    """Kill the process groups and remove the scratch directories that dead sessions on this
    host left; return (groups signalled, directories removed)."""
    root = _root()
    if not root.is_dir():
        return 0, 0
    prefix = f"{socket.gethostname()}-"
    killed = removed = 0
    for entry in root.iterdir():
        if not entry.name.startswith(prefix) or not entry.name.endswith(".json"):
            continue
        try:
            doc = json.loads(entry.read_text())
            owner, owner_started = int(doc["owner"]), doc.get("owner_started")
            groups = [(int(g[0]), g[1]) for g in doc.get("groups", [])]
            scratch = str(doc.get("scratch") or "")
        except (OSError, ValueError, KeyError, TypeError, IndexError):
            continue
        if owner == os.getpid() or pid_alive(owner, owner_started):
            continue
        for leader, leader_started in groups:
            if leader_started is not None and start_time(leader) not in (None, leader_started):
                continue  # the pid is another process's now: the recorded group is gone
            try:
                os.killpg(leader, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        if scratch and Path(scratch).name.startswith("pytest-lambda-"):
            shutil.rmtree(scratch, ignore_errors=True)
            removed += 1
        with contextlib.suppress(OSError):
            entry.unlink()
    return killed, removed
