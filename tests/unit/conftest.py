"""The unit tests write nothing outside their temporary directories.

Every unit test runs with the plugin's cache, the XDG cache, HOME and npm's cache in a directory
of the session's own, so no test reads or fills the user's real caches (`.ci/unit-hygiene.sh`
checks it from a fresh clone). The variables are set for each unit test and restored after it,
so the other tests of the session (which may run after a unit test on the same xdist worker)
keep the real ones. Tests that need a cache of their own still set `PYTEST_LAMBDA_CACHE_DIR`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend, MakeFunction

from pytest_lambda.lambda_api.api import LambdaAPI
from pytest_lambda.service.function import Function
from pytest_lambda.service.service import LambdaService


@pytest.fixture(scope="session")
def _unit_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(autouse=True)
def _private_home(_unit_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(_unit_home))
    monkeypatch.setenv("XDG_CACHE_HOME", str(_unit_home / ".cache"))
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(_unit_home / ".cache" / "pytest-lambda"))
    monkeypatch.setenv("npm_config_cache", str(_unit_home / ".npm"))


# -- Lambda's API on the fake backend -----------------------------------------------------------
# boto3's real `lambda` client (`client`) against the in-process API (`api`) of a service whose
# environments are the fake backend's threads; `make` makes a function there. A module that
# needs another service or backend defines its own fixture of that name.

@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


@pytest.fixture
def account_concurrency() -> int | None:
    """The account's concurrency (None: Lambda's default); a test parametrizes it."""
    return None


@pytest.fixture
def service(backend: FakeBackend, account_concurrency: int | None) -> Iterator[LambdaService]:
    svc = LambdaService(backends={"fake": lambda: backend}, aws="off",  # no moto
                        account_concurrency=account_concurrency)
    svc.async_delay_scale = 0.0
    yield svc
    svc.close()


@pytest.fixture
def api(service: LambdaService) -> Iterator[LambdaAPI]:
    with LambdaAPI(service) as lambda_api:
        yield lambda_api


@pytest.fixture
def client(api: LambdaAPI) -> Any:
    return api.client()


@pytest.fixture
def make(service: LambdaService, tmp_path: Path) -> MakeFunction:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")

    def make(name: str = "orders", **options: Any) -> Function:
        options.setdefault("runtime", "python3.13")
        return service.function("app.handler", code=str(code), name=name,
                                backend="fake",  # type: ignore[arg-type]  # a `backends=` one
                                **options)

    return make
