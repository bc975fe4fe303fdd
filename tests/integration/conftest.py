"""Fixtures shared by the integration tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="module")
def client(request: pytest.FixtureRequest) -> Any:
    """Return a docker-py client; skip without an engine, but fail if the run asked for Docker."""
    from pytest_lambda._docker import get_client
    from pytest_lambda._errors import BackendUnavailableError

    try:
        return get_client()
    except BackendUnavailableError as exc:
        if request.config.getoption("lambda_backend", None) == "docker":
            pytest.fail(f"--lambda-backend=docker but {exc}")
        pytest.skip(str(exc))
