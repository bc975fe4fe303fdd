"""LambdaService, the control plane, driven through a fake backend (no Docker, no processes).

The fake's runtimes are threads speaking the real Runtime API to the real server, so these tests
cover the pool, cold and warm starts, concurrency, deadlines, resets and broken environments in
milliseconds; the backends' own tests show what only a container or a process can.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend

from pytest_lambda import InvokeResult, LambdaService
from pytest_lambda.config.function import FunctionConfig
from pytest_lambda.service.build import build_config


@pytest.fixture
def service(backend: FakeBackend) -> Iterator[LambdaService]:
    svc = LambdaService(backends={"fake": lambda: backend})
    yield svc
    svc.close()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., FunctionConfig]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")

    def make(**options: Any) -> FunctionConfig:
        options.setdefault("runtime", "python3.13")
        return build_config("app.handler", code=str(code), **options)

    return make


def _invoke(service: LambdaService, config: FunctionConfig, event: object) -> InvokeResult:
    return service.invoke(config, event, backend="fake")


@pytest.mark.parametrize("wait", [True, False])
def test_closing_tells_the_backends_whether_they_may_hand_off_before_ending_anything(
    backend: FakeBackend, make_config: Callable[..., FunctionConfig], wait: bool,
) -> None:
    service = LambdaService(backends={"fake": lambda: backend})
    _invoke(service, make_config(), {})
    service.close(wait=wait)
    assert backend.closing_seen == (not wait, 0)
    assert len(backend.destroyed) == 1 and backend.closed


def test_first_invocation_is_cold_and_the_next_reuses_the_environment(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config()
    first = _invoke(service, config, {"n": 1})
    second = _invoke(service, config, {"n": 2})
    assert first.payload == {"n": 1} and second.payload == {"n": 2}
    assert first.cold_start and first.init_duration_ms is not None
    assert not second.cold_start and second.init_duration_ms is None
    assert "Init Duration" in first.logs and "Init Duration" not in second.logs
    assert len(backend.created) == 1
    assert backend.received == [(0, {"n": 1}), (0, {"n": 2})]


def test_each_configuration_has_its_own_pool(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    one, two = make_config(environment={"VAR": "1"}), make_config(environment={"VAR": "2"})
    assert _invoke(service, one, {}).cold_start
    assert _invoke(service, two, {}).cold_start
    assert not _invoke(service, one, {}).cold_start
    assert len(backend.created) == 2
    assert service.warm_count(one, "fake") == 1 and service.warm_count(two, "fake") == 1


def test_concurrent_invocations_get_environments_of_their_own(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config()
    barrier = threading.Barrier(4)
    results = []

    def call(i: int) -> None:
        barrier.wait()
        results.append(_invoke(service, config, {"op": "sleep", "seconds": 0.3, "i": i}))

    threads = [threading.Thread(target=call, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(r.payload["i"] for r in results) == [0, 1, 2, 3]
    assert all(r.cold_start for r in results)
    assert len(backend.created) == 4
    assert service.warm_count(config, "fake") == 4
    for _ in range(4):
        assert not _invoke(service, config, {}).cold_start
    assert len(backend.created) == 4


def test_a_function_error_keeps_the_environment(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config()
    result = _invoke(service, config, {"op": "raise", "message": "bad"})
    assert result.function_error == "Unhandled"
    assert result.error == {"errorMessage": "bad", "errorType": "ValueError", "stackTrace": []}
    assert not _invoke(service, config, {}).cold_start
    assert len(backend.created) == 1


@pytest.mark.parametrize(("op", "error_type", "reason"), [
    ({"op": "exit", "code": 3}, "Runtime.ExitError", "Runtime exited with error: exit status 3"),
    ({"op": "oom"}, "Runtime.OutOfMemory", "Runtime exited with error: signal: killed"),
])
def test_a_crash_in_a_warm_invocation_is_reported_not_retried(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
    op: dict[str, Any], error_type: str, reason: str,
) -> None:
    config = make_config()
    assert _invoke(service, config, {"n": 1}).payload == {"n": 1}
    crashed = _invoke(service, config, op)
    assert crashed.function_error == "Unhandled"
    assert crashed.error is not None and crashed.error["errorType"] == error_type
    assert reason in crashed.error["errorMessage"]
    assert not crashed.cold_start
    assert f"Error Type: {error_type}" in crashed.logs
    # The handler received the event once: nothing re-ran it on a new environment.
    assert [event for _, event in backend.received].count(op) == 1
    assert len(backend.created) == 1
    after = _invoke(service, config, {"n": 2})
    assert after.cold_start and after.payload == {"n": 2}
    assert len(backend.created) == 2
    assert backend.created[0].destroyed


def test_a_crash_in_a_cold_invocation_is_reported(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config()
    result = _invoke(service, config, {"op": "exit", "code": 7})
    assert result.cold_start
    assert result.error is not None and result.error["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in result.error["errorMessage"]
    assert len(backend.created) == 1 and backend.created[0].destroyed


def test_an_environment_that_died_while_idle_is_replaced_by_a_cold_start(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config()
    _invoke(service, config, {"n": 1})
    backend.created[0].kill_from_outside()
    result = _invoke(service, config, {"n": 2})
    assert result.payload == {"n": 2} and result.cold_start
    assert backend.received == [(0, {"n": 1}), (1, {"n": 2})]


def test_an_environment_killed_mid_invocation_reports_exit_error(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config()
    _invoke(service, config, {"n": 1})
    env = backend.created[0]
    timer = threading.Timer(0.3, env.kill_from_outside)
    timer.start()
    try:
        result = _invoke(service, config, {"op": "sleep", "seconds": 2, "n": 2})
    finally:
        timer.cancel()
    assert result.error is not None and result.error["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in result.error["errorMessage"]
    assert [n for n, _ in backend.received] == [0, 0]
    assert len(backend.created) == 1


def test_the_deadline_ends_an_invocation_with_sandbox_timedout(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config(timeout=1)
    _invoke(service, config, {})
    result = _invoke(service, config, {"op": "sleep", "seconds": 3})
    assert result.function_error == "Unhandled"
    assert result.error is not None and result.error["errorType"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in result.error["errorMessage"]
    assert "Status: timeout" in result.logs
    assert result.duration_ms == pytest.approx(1000.0)
    # The environment is not reused after a timeout.
    assert _invoke(service, config, {}).cold_start
    assert backend.created[0].destroyed


def test_reset_makes_the_next_invocation_cold(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config()
    _invoke(service, config, {})
    service.reset(config, "fake")
    assert service.warm_count(config, "fake") == 0
    assert _invoke(service, config, {}).cold_start
    assert len(backend.created) == 2


def test_an_init_error_is_reported_as_lambda_reports_it(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    config = make_config(environment={"INIT_FAIL": "No module named 'app'"})
    result = _invoke(service, config, {})
    assert result.cold_start and result.function_error == "Unhandled"
    assert result.error == {"errorMessage": "No module named 'app'",
                            "errorType": "Runtime.ImportModuleError"}
    assert "INIT_REPORT" in result.logs and "Status: error" in result.logs
    assert backend.received == []


def test_an_exit_during_init_is_reported_as_exit_error(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    result = _invoke(service, make_config(environment={"INIT_EXIT": "4"}), {})
    assert result.error is not None and result.error["errorType"] == "Runtime.ExitError"
    assert "exit status 4" in result.error["errorMessage"]


def test_close_destroys_every_environment_and_the_backend(
    backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    service = LambdaService(backends={"fake": lambda: backend})
    config = make_config()
    _invoke(service, config, {})
    _invoke(service, make_config(environment={"XX": "1"}), {})
    service.close()
    assert backend.closed
    assert all(env.destroyed for env in backend.created)


def test_idle_environments_beyond_the_cap_are_reclaimed_least_recently_used_first(
    service: LambdaService, backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    # A long suite makes hundreds of functions; each idle environment holds memory and its
    # /tmp's disk. Lambda reclaims idle environments too: beyond the cap, the oldest goes.
    service.max_idle_environments = 2
    one, two, three = (make_config(environment={"NTH": str(n)}) for n in (1, 2, 3))
    for config in (one, two, three):
        assert _invoke(service, config, {}).cold_start
    assert [service.warm_count(c, "fake") for c in (one, two, three)] == [0, 1, 1]
    assert not _invoke(service, two, {}).cold_start  # now the most recent
    assert _invoke(service, one, {}).cold_start  # reclaimed: a cold start, and three goes
    assert [service.warm_count(c, "fake") for c in (one, two, three)] == [1, 1, 0]


def test_an_invocation_in_flight_when_the_service_closes_ends_and_leaves_nothing(
    backend: FakeBackend, make_config: Callable[..., FunctionConfig],
) -> None:
    service = LambdaService(backends={"fake": lambda: backend})
    config = make_config(timeout=5)
    _invoke(service, config, {})  # a warm environment, then a second one kept busy
    outcome: list[object] = []

    def slow() -> None:
        try:
            outcome.append(_invoke(service, config, {"op": "sleep", "seconds": 0.5}))
        except Exception as exc:  # what the caller sees, kept for the assertion below
            outcome.append(exc)

    worker = threading.Thread(target=slow)
    worker.start()
    for _ in range(500):
        if len(backend.received) == 2:
            break
        threading.Event().wait(0.01)
    service.close()
    worker.join(timeout=10)
    assert len(outcome) == 1
    result = outcome[0]
    assert isinstance(result, InvokeResult) and result.payload == {"op": "sleep", "seconds": 0.5}
    assert all(env.destroyed for env in backend.created)  # none left running
