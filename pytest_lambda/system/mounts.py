"""Bind mounts made with mount(2) directly (Linux, root): the ready containers' code and layers
(`backends/docker/ready.py`), and an instrumented runtime's state directory, are mounted into
containers that are already running, through mount propagation, in well under a millisecond each.

A directory becomes a *shared* mount (`make_shared`); a container bind-mounts a subdirectory of
it with `rslave` propagation; a mount made later on that subdirectory on the host then appears
at the same place inside the container. `bind_read_only` makes the mount read-only before it is
propagated (a remount's flags do not propagate, a new mount's do), so the container sees a
read-only file system (EROFS), as Lambda's `/var/task` and `/opt` are; `bind` leaves the mount
writable (the container's own mount point may be read-only: a mount propagated onto it carries
its own flags).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import re
import sys
from pathlib import Path

_MS_RDONLY = 1
_MS_REMOUNT = 32
_MS_BIND = 4096
_MS_REC = 16384
_MS_SHARED = 1 << 20
_MNT_DETACH = 2
#: How mountinfo writes a space, tab, newline or backslash in a path.
_OCTAL = re.compile(r"\\([0-7]{3})")


class MountError(OSError):
    """A mount(2) or umount2(2) call failed."""


@functools.cache
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong,
                           ctypes.c_void_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return libc


def available() -> str | None:
    """Return why these mounts cannot be made here, or None when they can."""
    if not sys.platform.startswith("linux"):
        return "mount propagation needs Linux"
    if os.geteuid() != 0:
        return "mounting into running containers needs root"
    return None


def _mount(source: str | None, target: Path, flags: int) -> None:
    src = os.fsencode(source) if source is not None else None
    if _libc().mount(src, os.fsencode(target), None, flags, None) != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"mount {source or ''} on {target}: {os.strerror(err)}")


def make_shared(path: Path) -> None:
    """Bind `path` onto itself and make it a shared mount, so mounts under it propagate."""
    _mount(str(path), path, _MS_BIND)
    try:
        _mount(None, path, _MS_SHARED | _MS_REC)
    except MountError:
        unmount(path)
        raise


def bind_read_only(source: Path, target: Path, *, stage: Path) -> None:
    """Mount `source` read-only on `target`, through `stage` (an empty directory outside any
    container's view) where the bind is made read-only before it reaches `target`."""
    _mount(str(source), stage, _MS_BIND | _MS_REC)
    try:
        _mount(None, stage, _MS_REMOUNT | _MS_BIND | _MS_RDONLY)
        _mount(str(stage), target, _MS_BIND | _MS_REC)
    finally:
        unmount(stage)


def bind(source: Path, target: Path) -> None:
    """Mount `source` on `target`, writable."""
    _mount(str(source), target, _MS_BIND | _MS_REC)


def unmount(path: Path) -> None:
    """Detach the mount at `path` and everything under it (lazily: open files keep working)."""
    if _libc().umount2(os.fsencode(path), _MNT_DETACH) != 0:
        err = ctypes.get_errno()
        raise MountError(err, f"umount {path}: {os.strerror(err)}")


def mounted_under(path: Path, *, table: str = "/proc/self/mountinfo") -> list[Path]:
    """Return the mount points at or under `path`, deepest first (from the mount `table`)."""
    root = os.path.realpath(path)
    found = []
    try:
        with open(table, encoding="utf-8", errors="surrogateescape") as f:
            for line in f:
                point = _OCTAL.sub(lambda m: chr(int(m.group(1), 8)), line.split()[4])
                if point == root or point.startswith(root + "/"):
                    found.append(Path(point))
    except OSError:
        return []
    return sorted(found, key=lambda p: len(p.parts), reverse=True)
