"""Containers started ahead of need, so a cold start pays for the runtime, not for the engine.

Creating and starting a container costs the engine a few hundred milliseconds (its file
system, network namespace and cgroups), which Lambda does not charge to a function's cold start.
So for each kind of environment the session has started (runtime image, architecture, network,
memory, `/tmp` size, host name, whether the runtime is instrumented), the backend keeps a few
containers created and started ahead of need (`ReadyContainers`), each with nothing running but
a waiting shell: no function code, no variables, no runtime. A cold start takes one and, in well
under a millisecond:

1. mounts the function's code on the container's `/var/task` and its layers on `/opt`, both
   read-only, through mount propagation (`system/mounts.py`): the container bind-mounts empty
   directories of the session's shared mount with `rslave` propagation, so what the host mounts
   on them later appears inside;
2. hands the waiting shell, through a FIFO that the code mount then hides, the function's
   variables and the command line every container runs (the wrapper in front of
   `/lambda-entrypoint.sh <handler>`); the shell exports them and `exec`s it.

A Python runtime under coverage or a debugger (`backends/instrument.py`) starts under the
launcher, which needs three more mounts. Two are the session's, the same for every environment:
the tools (read-only) and the byte-code cache (writable), which a ready container of an
instrumented kind (`ReadyKey.tools`) carries from its creation. The third, the environment's own
state directory (coverage data, the debugger's flag), is mounted at the cold start like the code,
but writable. The launcher's variables travel with the others, and the debugger's forward on
the host's loopback reaches the container's address, known since it was made.

From there the environment is the one a freshly created container gives: the same image, user,
mounts, limits, network and process tree, with the runtime started at that moment, and `Init
Duration` counted from then. A taken container is replaced in the background. Only a local
engine run by root can be given mounts this way; elsewhere (and for container-image functions
and the published connection) each cold start creates its container.
"""

from __future__ import annotations

import errno
import fcntl
import os
import shutil
import socket
import threading
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from pytest_lambda.backends.docker import ephemeral
from pytest_lambda.backends.docker.ephemeral import DiskTmp
from pytest_lambda.system import mounts
from pytest_lambda.system.paths import cache_dir

#: How long a container just started may take to reach its waiting shell's FIFO.
READY_WAIT_S = 10.0

#: The FIFO in a ready container's (still empty) /var/task that the waiting shell reads.
GO = ".pytest-lambda-go"

# The waiting shell: read NUL-terminated items (the number of variables, the variables, then
# the command line) until the host closes the FIFO, enter /var/task again (the shell's working
# directory is still the empty one the code was mounted over; `cd` leaves an OLDPWD that a
# created container has not), export the variables, exec the command.
WAITER = r"""a=(); while IFS= read -r -d '' v; do a+=("$v"); done < "/var/task/$1"
n=${a[0]:-x}; case $n in ''|*[!0-9]*) exit 0;; esac
cd /var/task || exit 1; unset OLDPWD
for ((i = 1; i <= n; i++)); do export -- "${a[i]}"; done
exec "${a[@]:n+1}"
"""


@dataclass(frozen=True)
class ReadyKey:
    """What a ready container is made for: the environments it can serve."""

    image: str
    #: The engine's platform for an image of another architecture, else None.
    platform: str | None
    network: str
    memory_mb: int
    tmp_mb: int
    #: The host and domain names ("sandbox", "localdomain" when extensions may listen).
    names: tuple[tuple[str, str], ...]
    #: Whether /etc/resolv.conf is the harness's (every network but the open one).
    resolv_conf: bool
    #: For a runtime started under the launcher (coverage, a debugger), the host's tools
    #: directory the container carries, with the byte-code cache; None for every other. So
    #: instrumented and plain environments never share a kind.
    tools: str | None = None


class ReadyContainer:
    """A started container waiting for its function (see the module's docstring)."""

    def __init__(self, key: ReadyKey, base: Path, tmp: DiskTmp | None) -> None:
        self.key = key
        self.base = base
        self.tmp = tmp
        self.container_id: str | None = None
        self.address: str | None = None
        #: The container's first process, on this machine (0: the engine did not say).
        self.pid = 0

    @property
    def task(self) -> Path:
        return self.base / "task"

    @property
    def opt(self) -> Path:
        return self.base / "opt"

    @property
    def state(self) -> Path:
        """Where an instrumented runtime's state directory is mounted (see the module's
        docstring)."""
        return self.base / "state"

    def launch(self, code_dir: Path, opt_dir: Path | None, env: Mapping[str, str],
               argv: Iterable[str], *, state_dir: Path | None = None) -> None:
        """Mount the code, the layers and (for an instrumented kind) `state_dir`, writable, and
        start `argv` with `env` in the container."""
        if (state_dir is None) != (self.key.tools is None):
            raise ValueError("a state directory goes with, and only with, an instrumented kind")
        fd = self._open_go()
        try:
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
            stage = self.base / "stage"
            if state_dir is not None:
                mounts.bind(state_dir, self.state)
            if opt_dir is not None:
                mounts.bind_read_only(opt_dir, self.opt, stage=stage)
            mounts.bind_read_only(code_dir, self.task, stage=stage)
            if self.pid and os.path.lexists(f"/proc/{self.pid}/root/var/task/{GO}"):
                raise OSError(
                    "the engine does not see mounts made on this machine after a container "
                    "starts (its mount namespace takes no propagation from this one): run with "
                    "--lambda-ready-containers=0"
                )
            items = [str(len(env)), *(f"{k}={v}" for k, v in env.items()), *argv]
            data = b"".join(os.fsencode(item) + b"\0" for item in items)
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)

    def _open_go(self) -> int:
        """Open the FIFO for writing, before the code mount hides it. It opens once the shell
        holds the other end (ENXIO until then: a container just started may not have got
        there yet)."""
        deadline = time.monotonic() + READY_WAIT_S
        while True:
            try:
                return os.open(self.task / GO, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                    raise OSError(f"its shell did not wait for the function within "
                                  f"{READY_WAIT_S:.0f} s ({exc.strerror})") from None
            time.sleep(0.001)

    def release(self) -> None:
        """Unmount and remove the container's directories (the container is its owner's)."""
        ephemeral.release_dir(self.base)


def session_root() -> Path:
    """Make this session's shared mount for ready containers' directories, and return it."""
    root = cache_dir() / "ready" / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
    root.mkdir(parents=True)
    try:
        mounts.make_shared(root)
    except OSError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return root


def sweep_dead() -> int:
    """Release the ready containers' directories that dead processes on this host left."""
    return ephemeral.sweep_dead(cache_dir() / "ready")


class ReadyContainers:
    """Keep up to `depth` ready containers of each of the `kinds` kinds taken last.

    `make(key)` creates and starts one (raising on failure), `discard(container)` removes one
    never taken. `take(key)` returns a ready one at once, waits for one being made, or makes
    one itself; each take queues replacements, made by background threads. A kind gets as
    many as it has been taken, up to `depth`, so one used once costs one container made in
    vain; a kind that falls out of the last `kinds` taken loses its ready containers (each
    holds a container and its `/tmp`'s disk).
    """

    def __init__(self, make: Callable[[ReadyKey], ReadyContainer],
                 discard: Callable[[ReadyContainer], None], *, depth: int,
                 kinds: int = 2, workers: int = 2) -> None:
        self._make = make
        self._discard = discard
        self.depth = depth
        self.kinds = kinds
        #: The kinds taken last, the latest first.
        self._recent: list[ReadyKey] = []
        self._discarding: list[threading.Thread] = []
        self._cond = threading.Condition()
        self._ready: dict[ReadyKey, list[ReadyContainer]] = {}
        self._queued: deque[ReadyKey] = deque()
        self._making: Counter[ReadyKey] = Counter()
        self._taken: Counter[ReadyKey] = Counter()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"lambda-ready-{i}",
                                          daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def take(self, key: ReadyKey) -> ReadyContainer:
        with self._cond:
            self._taken[key] += 1
            dropped = self._note_recent(key)
            container = self._take_ready(key)
        if dropped:  # off the cold start's path
            thread = threading.Thread(target=lambda: [self._discard(c) for c in dropped],
                                      name="lambda-ready-discard", daemon=True)
            self._discarding.append(thread)
            thread.start()
        if container is not None:
            return container
        container = self._make(key)
        with self._cond:
            self._refill(key)
        return container

    def _note_recent(self, key: ReadyKey) -> list[ReadyContainer]:
        """Put `key` first among the recent kinds; return the ready containers of the kinds
        that fell out (to discard), their queued makes dropped."""
        if key in self._recent:
            self._recent.remove(key)
        self._recent.insert(0, key)
        dropped: list[ReadyContainer] = []
        for old in self._recent[self.kinds:]:
            dropped += self._ready.pop(old, [])
            self._queued = deque(k for k in self._queued if k != old)
        del self._recent[self.kinds:]
        return dropped

    def _take_ready(self, key: ReadyKey) -> ReadyContainer | None:
        """Return a ready container for `key`, waiting for one being made; None when the
        caller must make it (a queued make of `key` is then dropped)."""
        while True:
            ready = self._ready.get(key)
            if ready:
                container = ready.pop(0)
                self._refill(key)
                return container
            if self._making[key] == 0 or self._closed:
                break
            self._cond.wait()
        if key in self._queued:  # made by the caller instead, at once
            self._queued.remove(key)
        return None

    def _refill(self, key: ReadyKey) -> None:
        have = (len(self._ready.get(key, ())) + self._making[key]
                + sum(1 for queued in self._queued if queued == key))
        for _ in range(min(self.depth, self._taken[key]) - have):
            self._queued.append(key)
        self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queued and not self._closed:
                    self._cond.wait()
                if self._closed:
                    return
                key = self._queued.popleft()
                self._making[key] += 1
            made: ReadyContainer | None = None
            try:
                made = self._make(key)
            except Exception:  # the cold start that needs one makes it itself, and reports
                pass
            with self._cond:
                self._making[key] -= 1
                if made is not None and not self._closed and key in self._recent:
                    self._ready.setdefault(key, []).append(made)
                    made = None
                elif made is None:  # stop refilling this kind until a take succeeds again
                    self._queued = deque(k for k in self._queued if k != key)
                self._cond.notify_all()
            if made is not None:
                self._discard(made)

    def close(self, *, wait: bool = True) -> None:
        """Stop making containers and discard the ready ones; with `wait=False`, do not wait
        for the containers the engine is still making (each is discarded when it is made, or,
        if this process has exited by then, swept by the session's reaper)."""
        with self._cond:
            self._closed = True
            self._queued.clear()
            left = [c for ready in self._ready.values() for c in ready]
            self._ready.clear()
            self._cond.notify_all()
        for container in left:
            self._discard(container)
        for thread in self._threads + self._discarding:
            thread.join(timeout=30 if wait else 0)

    def count(self, key: ReadyKey) -> int:
        """Return how many containers for `key` are ready now."""
        with self._cond:
            return len(self._ready.get(key, ()))

