"""The cache directory's size: leases taken by live sessions, and pruning to a maximum size.

What the cache holds (see `system.paths.cache_dir`): `code/<hash>` (unpacked .zip files),
`layers/<hash>` (merged layer trees), `deps/<key>` (dependency builds), `tasks/<key>` (code laid
over its dependencies), `digests/` (remembered content hashes) and `build/` (image build
contexts, removed after each build). Pruning removes whole entries, least recently used
first, until the cache fits the maximum size; `ephemeral/` (the live `/tmp` file systems) and
`ready/` (the mounts of containers started ahead of need) are never touched here.

"Recently used" is an entry's modification time: the trees are immutable once made, so each use
sets it (`using`). "In use" is a lease: a session appends every entry it uses to its lease file,
`leases/<host>.<pid>`, and an entry named in the lease of a process that is still alive is never
removed. The lease is written and the entry looked up under a shared `flock` on `prune.lock`,
and pruning holds it exclusively, so no session can pick an entry up while it is being removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from pytest_lambda.config.settings import parse_size
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.system.children import pid_alive
from pytest_lambda.system.paths import cache_dir

#: The kinds of entry pruning may remove (one directory or file per entry under each).
PRUNABLE = ("code", "layers", "deps", "tasks", "digests")
#: Staging and build leftovers older than this (seconds) belong to dead processes.
STALE_S = 24 * 3600
#: The maximum size when no setting says otherwise.
DEFAULT_MAX_SIZE = "5GiB"

_LOCK_NAME = "prune.lock"
_LEASES = "leases"

_leased: set[str] = set()
_leased_lock = threading.Lock()



def format_size(n: int) -> str:
    """Return `n` bytes as a short human size (`1.5 GiB`)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"


# -- leases ----------------------------------------------------------------------------------


def _lease_path(root: Path, host: str | None = None, pid: int | None = None) -> Path:
    return root / _LEASES / f"{host or socket.gethostname()}.{pid or os.getpid()}"


@contextlib.contextmanager
def _cache_lock(root: Path, kind: int) -> Iterator[None]:
    root.mkdir(parents=True, exist_ok=True)
    fd = os.open(root / _LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, kind)
        yield
    finally:
        os.close(fd)  # releases the lock


@contextlib.contextmanager
def using(kind: str, name: str) -> Iterator[Path]:
    """Lease the cache entry `kind/name` to this process and yield its path, under the shared
    lock: the caller looks it up or makes it inside, and no prune removes it meanwhile.

    Afterwards the entry's modification time says it was just used (least-recently-used order).
    """
    root = cache_dir()
    key = f"{kind}/{name}"
    entry = root / kind / name
    with _cache_lock(root, fcntl.LOCK_SH):
        with _leased_lock:
            if key not in _leased:
                lease = _lease_path(root)
                lease.parent.mkdir(parents=True, exist_ok=True)
                with open(lease, "a") as f:
                    f.write(key + "\n")
                _leased.add(key)
        yield entry
    with contextlib.suppress(OSError):
        os.utime(entry)


def leased() -> bool:
    """Return whether this process has used the cache (leased an entry)."""
    with _leased_lock:
        return bool(_leased)


def release() -> None:
    """Drop this process's lease: its entries become prunable like any other."""
    with _leased_lock:
        _leased.clear()
    with contextlib.suppress(OSError):
        _lease_path(cache_dir()).unlink()


def _live_leases(root: Path, *, drop_dead: bool) -> set[str]:
    """Return the entries leased by live processes, removing dead processes' leases."""
    live: set[str] = set()
    here = socket.gethostname()
    directory = root / _LEASES
    if not directory.is_dir():
        return live
    for lease in directory.iterdir():
        host, _, pid_text = lease.name.rpartition(".")
        alive = True  # another host's session (a shared cache) is taken to be alive
        if host == here:
            alive = pid_text.isdigit() and pid_alive(int(pid_text))
        if not alive:
            if drop_dead:
                with contextlib.suppress(OSError):
                    lease.unlink()
            continue
        with contextlib.suppress(OSError):
            live.update(line.strip() for line in lease.read_text().splitlines() if line.strip())
    return live


# -- pruning ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One prunable cache entry."""

    key: str  # "code/<hash>"
    path: Path
    size: int  # bytes on disk, each hard-linked file counted once
    last_used: float  # seconds since the epoch


@dataclass
class PruneReport:
    """What a prune found and did."""

    size_before: int = 0
    size_after: int = 0
    removed: list[Entry] = field(default_factory=list)
    #: Entries that would have gone but a live session uses.
    in_use: list[Entry] = field(default_factory=list)
    #: Leftover staging and build directories of dead processes.
    stale: list[Path] = field(default_factory=list)


def _disk_size(path: Path, seen: set[tuple[int, int]]) -> int:
    def one(st: os.stat_result) -> int:
        if (st.st_dev, st.st_ino) in seen:
            return 0
        seen.add((st.st_dev, st.st_ino))
        return st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size

    try:
        top = path.lstat()
    except OSError:
        return 0
    if not stat.S_ISDIR(top.st_mode):
        return one(top)
    total = one(top)
    for dirpath, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            with contextlib.suppress(OSError):
                total += one(os.lstat(os.path.join(dirpath, name)))
    return total


def _entries(root: Path, now: float) -> tuple[list[Entry], list[Path]]:
    """Return (entries, stale leftovers) of the cache at `root`."""
    entries: list[Entry] = []
    stale: list[Path] = []
    seen: set[tuple[int, int]] = set()

    def is_stale(path: Path) -> bool:
        with contextlib.suppress(OSError):
            return now - path.lstat().st_mtime > STALE_S
        return False

    for kind in ("code", "layers", "deps", "tasks"):
        folder = root / kind
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            if path.name.endswith(".lock"):  # a build's lock file, not an entry
                continue
            if path.name.endswith(".tmp"):  # a staging directory: its maker is still at it
                if is_stale(path):
                    stale.append(path)
                continue
            with contextlib.suppress(OSError):
                used = path.lstat().st_mtime
                entries.append(Entry(f"{kind}/{path.name}", path, _disk_size(path, seen), used))
    digests = root / "digests"
    if digests.is_dir():
        for path in digests.glob("*/*"):
            with contextlib.suppress(OSError):
                used = path.lstat().st_mtime
                entries.append(Entry(f"digests/{path.parent.name}/{path.name}", path,
                                     _disk_size(path, seen), used))
    for leftovers in (root / "build", root / "locks"):  # `locks`: where builds locked before
        if leftovers.is_dir():
            stale.extend(p for p in leftovers.iterdir() if is_stale(p))
    return entries, stale


def _remove(path: Path) -> None:
    # Renamed first, so that nobody sees a half-removed tree under the entry's name.
    doomed = path.with_name(f"{path.name}.{os.getpid()}.pruned.tmp")
    try:
        os.rename(path, doomed)
    except OSError:
        return
    if doomed.is_dir() and not doomed.is_symlink():
        shutil.rmtree(doomed, ignore_errors=True)
    else:
        with contextlib.suppress(OSError):
            doomed.unlink()


def prune_after_use(max_size: str) -> None:
    """Release this process's lease and prune the cache to `max_size` without waiting (a
    process busy with the cache prunes it at its own end), if this process used it."""
    if not leased():
        return
    release()
    try:
        prune(parse_size(max_size), wait=False)
    except OSError as exc:
        import warnings

        warnings.warn(f"pytest-lambda could not prune its cache: {exc}", stacklevel=1)


def prune(max_bytes: int | None, *, dry_run: bool = False, wait: bool = True,
          root: Path | None = None) -> PruneReport | None:
    """Remove least-recently-used entries until the cache is at most `max_bytes` (None: no
    limit, only stale leftovers go); never an entry a live session has leased.

    `dry_run` reports without removing. Without `wait`, returns None at once when another process
    holds the cache lock (a session resolving a function, or another prune).
    """
    root = root or cache_dir()
    report = PruneReport()
    if not root.is_dir():
        return report
    lock = fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB
    try:
        with _cache_lock(root, lock):
            live = _live_leases(root, drop_dead=not dry_run)
            entries, report.stale = _entries(root, time.time())
            total = sum(e.size for e in entries)
            report.size_before = total
            if not dry_run:
                for path in report.stale:
                    _remove(path)
            for entry in sorted(entries, key=lambda e: e.last_used):
                if max_bytes is None or total <= max_bytes:
                    break
                if entry.key in live:
                    report.in_use.append(entry)
                    continue
                if not dry_run:
                    _remove(entry.path)
                report.removed.append(entry)
                total -= entry.size
            report.size_after = total
    except BlockingIOError:
        return None
    return report


# -- the command line ------------------------------------------------------------------------


def cli_prune_cache(argv: list[str]) -> int:
    """Run `python -m pytest_lambda prune-cache [--max-size SIZE] [--dry-run]`."""
    import argparse

    default = os.environ.get("PYTEST_LAMBDA_CACHE_MAX_SIZE") or DEFAULT_MAX_SIZE
    parser = argparse.ArgumentParser(
        prog="python -m pytest_lambda prune-cache",
        description=f"Remove the least recently used entries of pytest-aws-lambda's cache "
                    f"({cache_dir()}) until it fits a size; entries a running test session "
                    f"uses are kept.",
    )
    parser.add_argument(
        "--max-size", default=default, metavar="SIZE",
        help=f"the size to prune to, e.g. 500MB, 5GiB, or 0 for everything not in use "
             f"(default: $PYTEST_LAMBDA_CACHE_MAX_SIZE or {DEFAULT_MAX_SIZE})",
    )
    parser.add_argument("--dry-run", action="store_true",
                        help="say what would be removed, remove nothing")
    args = parser.parse_args(argv)
    try:
        max_bytes = parse_size(args.max_size)
    except ConfigurationError as exc:
        print(f"pytest-lambda: --max-size: {exc}", file=sys.stderr)
        return 2
    report = prune(max_bytes, dry_run=args.dry_run)
    assert report is not None  # waited for the lock
    verb = "would remove" if args.dry_run else "removed"
    for entry in report.removed:
        print(f"{verb} {entry.key} ({format_size(entry.size)})")
    for path in report.stale:
        print(f"{verb} leftover {path.relative_to(cache_dir())}")
    for entry in report.in_use:
        print(f"kept {entry.key} ({format_size(entry.size)}): a running session uses it")
    limit = "no limit" if max_bytes is None else f"limit {format_size(max_bytes)}"
    print(f"{cache_dir()}: {format_size(report.size_before)} before, "
          f"{format_size(report.size_after)} {'would be left' if args.dry_run else 'after'} "
          f"({limit}).")
    return 0
