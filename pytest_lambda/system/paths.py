"""Where the harness keeps what outlives a session (the cache directory), and who in this
process is using it."""

from __future__ import annotations

import os
import threading
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
