"""A cross-process file lock that says so while it waits for another process."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

Progress = Callable[[str], None]


@contextlib.contextmanager
def file_lock(path: Path, progress: Progress, waiting: str) -> Iterator[None]:
    """Hold an exclusive `flock` on `path` (made if need be), saying `waiting` when another
    process holds it. The kernel drops the lock when its holder dies, however it dies."""
    import fcntl

    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(waiting)
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
