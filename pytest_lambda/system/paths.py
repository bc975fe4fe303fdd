"""Where the harness keeps what outlives a session: the cache directory."""

from __future__ import annotations

import os
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
