"""The unit tests write nothing outside their temporary directories.

Every unit test runs with the plugin's cache, the XDG cache, HOME and npm's cache in a directory
of the session's own, so no test reads or fills the user's real caches (`.ci/unit-hygiene.sh`
checks it from a fresh clone). The variables are set for each unit test and restored after it,
so the other tests of the session (which may run after a unit test on the same xdist worker)
keep the real ones. Tests that need a cache of their own still set `PYTEST_LAMBDA_CACHE_DIR`.
"""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def _unit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(autouse=True)
def _private_home(_unit_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(_unit_home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_unit_home / ".cache"))
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(_unit_home / ".cache" / "pytest-lambda"))
    monkeypatch.setenv("npm_config_cache", str(_unit_home / ".npm"))
