"""The plugin's own machinery keeps working under responses, freezegun and mock_aws."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_lambda import BackendName, Function, FunctionFactory, RuntimeName


@pytest.fixture
def fresh_hello(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    python_runtime: RuntimeName,
) -> Function:
    fn = lambda_function("app.handler", code=functions_dir / "hello", runtime=python_runtime,
                         backend=backend, timeout=2)
    fn.reset()  # force a cold start: every Docker API call of the path runs under the mock
    return fn


def test_docker_calls_are_not_captured_by_responses(fresh_hello: Function) -> None:
    responses = pytest.importorskip("responses")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add(responses.GET, "http://example.invalid/", json={})
        result = fresh_hello.invoke({"name": "r"})
        assert result.payload == {"message": "hello r"}
        assert result.cold_start
        assert len(mock.calls) == 0


def test_deadlines_keep_real_time_under_freezegun(fresh_hello: Function) -> None:
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2020-01-01"):
        result = fresh_hello.invoke({"name": "f"})
    assert result.payload == {"message": "hello f"}
    assert result.duration_ms > 0 and (result.init_duration_ms or 0) > 0


def test_invokes_inside_mock_aws(fresh_hello: Function) -> None:
    moto = pytest.importorskip("moto")
    with moto.mock_aws():
        assert fresh_hello.invoke({"name": "m"}).payload == {"message": "hello m"}
