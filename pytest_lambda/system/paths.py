"""Where the harness keeps what outlives a session (the cache directory), and who in this
process is using it."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path


def cache_dir() -> Path:
    """Return the harness's cache directory (`PYTEST_LAMBDA_CACHE_DIR`, else ~/.cache)."""
    base = os.environ.get("PYTEST_LAMBDA_CACHE_DIR")
    if base:
        return Path(base)
    return default_cache_dir()


def default_cache_dir() -> Path:
    """Return the cache directory a session has without `PYTEST_LAMBDA_CACHE_DIR`."""
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "pytest-lambda" if xdg else Path.home() / ".cache" / "pytest-lambda"


_holders = 0
_holders_lock = threading.Lock()


def hold_cache() -> None:
    """Say that a session or service of this process may use the cache until it lets go."""
    global _holders
    with _holders_lock:
        _holders += 1


def let_go_of_cache() -> bool:
    """Undo one `hold_cache`; return True when nothing in this process holds the cache now
    (the time to prune it: a pytest session run inside another, as pytester's in-process runs
    are, leaves the outer one's entries alone)."""
    global _holders
    with _holders_lock:
        _holders -= 1
        return _holders <= 0


def make_dir_once(final: Path, fill: Callable[[Path], object], *, prefix: str) -> Path:
    """Return the cache directory `final`, made by `fill(staging directory)` when it is not
    there yet: the staging directory (`<prefix>...tmp` beside it: cache pruning takes a `.tmp`
    name for a staging directory, not an entry) is renamed into place, so an
    interrupted fill leaves nothing a later session takes for `final`, and when another process
    made it first its copy stands. The caller serialises its own threads."""
    if final.is_dir():
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=final.parent, prefix=prefix, suffix=".tmp"))
    try:
        fill(work)
        try:
            work.rename(final)
        except OSError:
            if not final.is_dir():  # another session made it first: use theirs
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final
