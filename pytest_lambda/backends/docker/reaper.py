"""Removing what a session made, after the session: the engine's part of a close.

Removing a container costs the engine about 100 ms on a small machine (its exit, its network
endpoint, its file system), so a session that started twenty environments spent two seconds of
its end waiting for the engine, after its last test had finished. When the pytest session
closes, nothing will use those containers again; so, once every environment has been shut down
and its Runtime API server closed, the session hands the rest to a process of its own, the
reaper (`python -m pytest_lambda.backends.docker.reaper`, started in a new session so that
Ctrl-C and xdist's ending of a worker do not reach it), and pytest exits. The reaper removes,
in order: the containers (which stops whatever still ran in them), their `/tmp` disks and the
ready containers' directories, the session's networks, and its firewall table, as the session
itself would have.

Until then the containers are there, idle (their Runtime API servers are closed), for a second
or two. The session does not wait for the containers the engine is still making ahead of need
either: once the session's process has exited, the reaper sweeps what dead sessions on this
host left, as a session's start does, which catches those. A reaper that dies leaves the rest
to the next session's sweep, as a killed session does. Where no reaper can start, the session
removes everything itself. `LambdaService.close()` (`wait=True`, the default outside pytest)
waits for it all.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_lambda.backends.docker import ephemeral, ready
from pytest_lambda.backends.docker.ephemeral import DiskTmp, release_dir
from pytest_lambda.backends.docker.ready import ReadyContainer

if TYPE_CHECKING:
    from pytest_lambda.containers.client import SessionLabels

#: How many containers the engine is asked to remove at once.
THREADS = 4

# The shell that starts the reaper in the background and exits. A command run with `&` gets
# /dev/null for its standard input, so the pipe (the leftovers) goes to it through fd 3.
START = 'exec 3<&0; "$@" <&3 3<&- &'

#: How long the reaper waits for its session's process to exit before its last sweep (a
#: session run in a process that goes on, as pytester's in-process runs are, gets none).
OWNER_EXIT_S = 10.0


@dataclass
class Leftovers:
    """What remains to remove at a session's end, in the order it goes."""

    containers: list[str] = field(default_factory=list)
    #: Loop-mounted `/tmp` disks and ready containers' directories (unmounted, then deleted).
    directories: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    #: The session's firewall table (`containers/firewall.py`), if it made one.
    firewall_table: str | None = None
    #: The process whose session this was: once it has exited, the reaper sweeps what dead
    #: sessions left (a container the engine finished making after the hand-off, its disk).
    owner_pid: int | None = None

    def remove(self, client: Any) -> None:
        """Remove all of it, here and now."""
        from pytest_lambda.containers.client import remove_network
        from pytest_lambda.containers.firewall import remove_table

        with ThreadPoolExecutor(THREADS, thread_name_prefix="lambda-reaper") as pool:
            list(pool.map(lambda container_id: _remove_container(client, container_id),
                          self.containers))
        for directory in self.directories:
            release_dir(Path(directory))
        for network in self.networks:
            remove_network(client, network)
        if self.firewall_table is not None:
            remove_table(self.firewall_table)


def _remove_container(client: Any, container_id: str) -> None:
    """Remove a container, running or not; one already gone (or that the engine will not
    remove) is left to a later session's sweep."""
    try:
        client.api.remove_container(container_id, force=True)
    except Exception:
        pass


class Removals:
    """Remove containers with their `/tmp` disks and ready directories: at once, or, between
    `hold()` and `take()`, by adding them to the `Leftovers` the reaper gets."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._held: Leftovers | None = None

    @property
    def holding(self) -> bool:
        """Whether removals are being held for the reaper."""
        with self._lock:
            return self._held is not None

    def hold(self) -> None:
        """Add what is removed from now on to the leftovers instead."""
        with self._lock:
            if self._held is None:
                self._held = Leftovers()

    def take(self) -> Leftovers:
        """Return what was held (empty if nothing was), and remove at once again from now on."""
        with self._lock:
            held, self._held = self._held, None
        return held or Leftovers()

    def remove(self, container_id: str | None, tmp: DiskTmp | None,
               ready: ReadyContainer | None) -> None:
        """Remove a container (if it was made), then release its `/tmp` disk and, for a ready
        container, its mounts."""
        directories = [str(d.base) for d in (tmp, ready) if d is not None]
        with self._lock:
            if self._held is not None:
                if container_id is not None:
                    self._held.containers.append(container_id)
                self._held.directories += directories
                return
        if container_id is not None:
            _remove_container(self._client, container_id)
        for directory in directories:
            release_dir(Path(directory))


def hand_off(leftovers: Leftovers) -> bool:
    """Start a reaper that removes `leftovers`; return False when none could start (the caller
    then removes them itself).

    A shell starts it in the background and exits, so the reaper is nobody's child here: no
    process of this session waits for it, or is kept from exiting by it. It runs this
    interpreter, and finds this package where this process found it (a checkout run in place
    too, though it starts elsewhere).
    """
    import pytest_lambda

    here = str(Path(pytest_lambda.__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [here, *filter(None, [os.environ.get("PYTHONPATH")])])}
    try:
        shell = subprocess.Popen(
            ["/bin/sh", "-c", START, "pytest-lambda-reaper", sys.executable, "-m", __name__],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            cwd="/", env=env, start_new_session=True, close_fds=True,
        )
    except OSError:
        return False
    try:
        shell.communicate(json.dumps(asdict(leftovers)).encode(), timeout=30)
    except (OSError, subprocess.TimeoutExpired):  # the reaper died at once, or never read
        shell.kill()
        shell.wait()
        return False
    return shell.returncode == 0


def main() -> None:
    from pytest_lambda.containers.client import SessionLabels, get_client

    leftovers = Leftovers(**json.load(sys.stdin))
    client = get_client()
    leftovers.remove(client)
    if leftovers.owner_pid is not None and _exited(leftovers.owner_pid, OWNER_EXIT_S):
        # What a later session's start would sweep, without waiting for one.
        sweep_dead_sessions(client, SessionLabels.current())


def sweep_dead_sessions(client: Any, me: SessionLabels) -> tuple[int, int]:
    """Remove what sessions on this host whose process is dead left behind: their containers
    and networks (how many of each is returned), `/tmp` disks and ready directories."""
    from pytest_lambda.containers.client import sweep

    swept = sweep(client, me)
    ephemeral.sweep_dead()
    ready.sweep_dead()
    return swept


def _exited(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` s for process `pid` to exit; return whether it has."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            return False
        time.sleep(0.1)
    return False


if __name__ == "__main__":
    main()
