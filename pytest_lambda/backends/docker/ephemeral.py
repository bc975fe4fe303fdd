"""`/tmp` for a container: disk of the configured size, as Lambda's ephemeral storage is.

Lambda's `/tmp` is disk: filling it does not count against the function's memory, and writing
past its size fails with ENOSPC. A tmpfs gives the size limit but its pages are charged to the
container's memory cgroup, so a 128 MB function could not write 300 MB to a 512 MB `/tmp`. When
the host allows it (root, a local engine, loop devices, mkfs.ext4), each environment therefore
gets a fresh ext4 file system in a file, loop-mounted and bound at `/tmp`; it costs a few tens
of milliseconds per cold start. Otherwise the harness falls back to a tmpfs and says so
(`unavailable_reason`, shown in the pytest header).

The file's blocks are reserved up front (`fallocate`, which allocates without writing), so the
function's writes cannot fail half-way because the cache disk filled up: a sparse file would
report the whole size free and then lose page writes to ENOSPC. When the cache disk has no room
for the reservation, that environment gets a tmpfs instead and the harness warns
(`EphemeralStorageWarning`); so does one that would leave less than `FREE_DISK_MARGIN` free.
The reservation lasts while the environment lives (and the service keeps a bounded number of
idle environments).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
import uuid
import warnings
from pathlib import Path
from typing import Any

from pytest_lambda.errors import EnvironmentStartError
from pytest_lambda.system import mounts
from pytest_lambda.system.paths import cache_dir

_OWNER = "993:993"  # sbx_user1051, the user functions run as
_probe_lock = threading.Lock()
_probe_result: list[str | None] = []  # [] = not probed; [None] = available; [reason] = not


#: Disk every reservation leaves free on the cache's file system, for everything else the
#: session writes there: a reservation that would cut into it is refused (the environment's
#: /tmp is then a tmpfs, with a warning).
FREE_DISK_MARGIN = 2 * 1024**3


class EphemeralStorageWarning(UserWarning):
    """An environment's `/tmp` could not be disk and is a tmpfs, counted against its memory."""


class NoRoomError(OSError):
    """The cache disk has no room to reserve a `/tmp` of the requested size."""


@functools.cache
def _fallocate() -> Any:
    """Return libc's fallocate(2) (no emulation by writing zeros), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        fallocate = ctypes.CDLL(None, use_errno=True).fallocate
    except (OSError, AttributeError):
        return None
    fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64]
    fallocate.restype = ctypes.c_int
    return fallocate


def _reserve(fd: int, size: int, where: Path) -> None:
    """Allocate `size` bytes of disk to `fd` without writing them; NoRoomError if they are not
    there, with `FREE_DISK_MARGIN` left over. A file system without fallocate gets a free-space
    check instead."""
    st = os.statvfs(fd)
    if st.f_bavail * st.f_frsize - size < FREE_DISK_MARGIN:
        raise NoRoomError(errno.ENOSPC, f"{st.f_bavail * st.f_frsize // (1024 * 1024)} MB free "
                                        f"in {where}, {size // (1024 * 1024)} MB needed and "
                                        f"{FREE_DISK_MARGIN // (1024 * 1024)} MB kept free")
    fallocate = _fallocate()
    if fallocate is not None:
        if fallocate(fd, 0, 0, size) == 0:
            return
        import ctypes

        err = ctypes.get_errno()
        if err in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise NoRoomError(err, f"{os.strerror(err)}: {size // (1024 * 1024)} MB in {where}")
        if err not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
            raise OSError(err, os.strerror(err))
    os.ftruncate(fd, size)


def _root() -> Path:
    return cache_dir() / "ephemeral"


def unavailable_reason() -> str | None:
    """Return why disk-backed `/tmp` cannot be used here, or None when it can (probed once)."""
    with _probe_lock:
        if not _probe_result:
            _probe_result.append(_probe())
        return _probe_result[0]


def _probe() -> str | None:
    if os.geteuid() != 0:
        return "loop-mounted /tmp needs root; /tmp is a tmpfs counted against memory"
    docker_host = os.environ.get("DOCKER_HOST", "")
    if docker_host and not docker_host.startswith("unix://"):
        return "the Docker engine is remote, so it cannot see host mounts; /tmp is a tmpfs"
    if not Path("/dev/loop-control").exists():
        return "no loop devices on this host; /tmp is a tmpfs counted against memory"
    for tool in ("mkfs.ext4", "mount", "umount"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed; /tmp is a tmpfs counted against memory"
    try:
        probe = DiskTmp(16)
    except OSError as exc:
        return f"loop mounting failed ({exc}); /tmp is a tmpfs counted against memory"
    probe.release()
    return None


class DiskTmp:
    """A loop-mounted ext4 file system of `size_mb` usable MB, owned for the function's user."""

    def __init__(self, size_mb: int) -> None:
        root = _root()
        root.mkdir(parents=True, exist_ok=True)
        self.base = root / f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.base.mkdir()
        self.image = self.base / "fs.img"
        self.mountpoint = self.base / "mnt"
        self.mountpoint.mkdir()
        try:
            # ext4 keeps ~2.5% for its own tables: size the file so `size_mb` is usable.
            with open(self.image, "wb") as f:
                _reserve(f.fileno(), (size_mb * 1025 // 1000 + 4) * 1024 * 1024, root)
            # nodiscard: mkfs must not hand the reserved blocks back (a discard on a loop
            # device punches holes in its file).
            _run("mkfs.ext4", "-q", "-F", "-m", "0", "-O", "^has_journal", "-i", "65536",
                 "-E", f"root_owner={_OWNER},nodiscard", str(self.image))
            _run("mount", "-o", "loop,nosuid,nodev", str(self.image), str(self.mountpoint))
            os.chmod(self.mountpoint, 0o1777)
            # Lambda's /tmp starts empty; ext4 needs no lost+found to work (fsck makes one).
            os.rmdir(self.mountpoint / "lost+found")
        except OSError:
            self.release()
            raise

    def release(self) -> None:
        """Unmount and delete the file system."""
        release_dir(self.base)


def container_tmp(name: str, size_mb: int) -> tuple[DiskTmp | None, dict[str, str] | None]:
    """Return a container's /tmp: a `DiskTmp` to bind, or (where none can be made) the engine's
    tmpfs options, with an `EphemeralStorageWarning` when the disk had no room for it."""
    if unavailable_reason() is None:
        try:
            return DiskTmp(size_mb), None
        except NoRoomError as exc:
            warnings.warn(EphemeralStorageWarning(
                f"/tmp of {name} is a tmpfs counted against its memory, not disk: the cache "
                f"disk has no room for {size_mb} MB ({exc.strerror}). Free some space, or point "
                f"PYTEST_LAMBDA_CACHE_DIR at a larger disk."
            ), stacklevel=3)
        except OSError as exc:
            raise EnvironmentStartError(
                f"Could not make the {size_mb} MB /tmp for {name}: {exc}."
            ) from None
    return None, {"/tmp": f"rw,nosuid,nodev,size={size_mb}m,mode=1777"}


def _run(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise OSError(f"{argv[0]} failed: {(result.stderr or result.stdout).strip()}")


def release_dir(base: Path) -> None:
    """Detach every mount under `base` (the loop-mounted file system), then delete it."""
    for point in mounts.mounted_under(base):
        with contextlib.suppress(OSError):
            mounts.unmount(point)
    shutil.rmtree(base, ignore_errors=True)


def sweep_dead(root: Path | None = None) -> int:
    """Release the directories under `root` (default: the `/tmp` file systems') that dead
    processes on this host left, named `<host>-<pid>-...`; return how many."""
    root = _root() if root is None else root
    if not root.is_dir():
        return 0
    prefix = f"{socket.gethostname()}-"
    removed = 0
    for entry in root.iterdir():
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split("-", 1)[0]
        if not pid_text.isdigit():
            continue
        try:
            os.kill(int(pid_text), 0)
            continue
        except ProcessLookupError:
            pass
        except PermissionError:
            continue
        release_dir(entry)
        removed += 1
    return removed
