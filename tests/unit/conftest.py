"""The unit tests write nothing outside their temporary directories.

Every unit test runs with the plugin's cache, the XDG cache, HOME and npm's cache in a directory
of the session's own, so no test reads or fills the user's real caches (`.ci/unit-hygiene.sh`
checks it from a fresh clone). Tests that need a cache of their own still set
`PYTEST_LAMBDA_CACHE_DIR` themselves.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(scope="session", autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    root = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(root))
        patch.setenv("XDG_CACHE_HOME", str(root / ".cache"))
        patch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(root / ".cache" / "pytest-lambda"))
        patch.setenv("npm_config_cache", str(root / ".npm"))
        yield
