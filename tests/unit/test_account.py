"""The account's concurrency, as the registry keeps it: the unreserved pool every function
without a reservation shares, and the reservations that may not eat into its minimum.

No environment runs here: `Registry.admit` is exercised directly on registered functions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fake_backend import FakeBackend

from pytest_lambda.errors import (
    ConfigurationError,
    InvalidParameterValueException,
    TooManyRequestsException,
)
from pytest_lambda.service.function import Function
from pytest_lambda.service.service import LambdaService


@pytest.fixture
def service(account_concurrency: int | None) -> Iterator[LambdaService]:
    backend = FakeBackend()
    with LambdaService(backends={"fake": lambda: backend}, aws="off",
                       account_concurrency=account_concurrency) as svc:
        yield svc


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    return tmp_path


def _make(service: LambdaService, code: Path, name: str, **options: Any) -> Function:
    options.setdefault("runtime", "python3.13")
    return service.function("app.handler", code=str(code), name=name,
                            backend="fake",  # type: ignore[arg-type]  # a `backends=` one
                            **options)


@pytest.mark.parametrize("account_concurrency", [3])
def test_unreserved_functions_share_the_account_pool(service: LambdaService, code: Path) -> None:
    a, b = _make(service, code, "a"), _make(service, code, "b")
    registry = service.registry
    with ExitStack() as running:
        running.enter_context(registry.admit(a))
        running.enter_context(registry.admit(a))
        running.enter_context(registry.admit(b))
        with pytest.raises(TooManyRequestsException) as exc:
            running.enter_context(registry.admit(b))
        assert exc.value.reason == "ConcurrentInvocationLimitExceeded"
        assert exc.value.message == "Rate Exceeded."
        assert exc.value.limit is None  # not a reservation: an async event is retried
        assert registry.account_usage(a.config.region, a.config.account_id).in_flight == 3
    # All three ended: the pool is whole again.
    with registry.admit(b), registry.admit(b), registry.admit(b):
        pass


@pytest.mark.parametrize("account_concurrency", [1])
def test_an_invocation_that_raises_gives_its_place_back(service: LambdaService,
                                                        code: Path) -> None:
    fn = _make(service, code, "a")
    with pytest.raises(RuntimeError), service.registry.admit(fn):
        raise RuntimeError("the invocation failed")
    with service.registry.admit(fn):
        pass
    assert service.registry.account_usage("us-east-1", fn.config.account_id).in_flight == 0


@pytest.mark.parametrize("account_concurrency", [102])
def test_a_reserved_function_uses_its_own_share_not_the_pool(service: LambdaService,
                                                             code: Path) -> None:
    reserved = _make(service, code, "reserved", reserved_concurrency=2)
    shared = _make(service, code, "shared")
    registry = service.registry
    with ExitStack() as running:
        running.enter_context(registry.admit(reserved))
        running.enter_context(registry.admit(reserved))
        with pytest.raises(TooManyRequestsException) as exc:
            running.enter_context(registry.admit(reserved))
        assert exc.value.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
        # The 100 unreserved are all the shared function's, whatever the reserved one does.
        for _ in range(100):
            running.enter_context(registry.admit(shared))
        with pytest.raises(TooManyRequestsException) as exc:
            running.enter_context(registry.admit(shared))
        assert exc.value.reason == "ConcurrentInvocationLimitExceeded"


def test_reservations_sum_and_must_leave_a_hundred_unreserved(service: LambdaService,
                                                              code: Path) -> None:
    first = _make(service, code, "first", reserved_concurrency=500)
    second = _make(service, code, "second")
    second.set_reserved_concurrency(400)
    third = _make(service, code, "third")
    with pytest.raises(InvalidParameterValueException) as exc:
        third.set_reserved_concurrency(1)
    assert exc.value.message.startswith(
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]")
    # A function's own earlier reservation does not count against its new one.
    first.set_reserved_concurrency(500)
    with pytest.raises(InvalidParameterValueException):
        first.set_reserved_concurrency(501)
    first.set_reserved_concurrency(499)
    third.set_reserved_concurrency(1)
    third.set_reserved_concurrency(0)  # 0 takes nothing from the pool
    usage = service.registry.account_usage("us-east-1", first.config.account_id)
    assert (usage.limit, usage.reserved, usage.unreserved) == (1000, 899, 101)
    with pytest.raises(ConfigurationError, match=r"minimum value of \[100\]"):
        _make(service, code, "fourth", reserved_concurrency=2)
    # Making a function again under its own name keeps nothing of its old reservation.
    _make(service, code, "first", reserved_concurrency=500)
    assert service.registry.account_usage("us-east-1", first.config.account_id).reserved == 900


def test_each_region_has_its_own_pool(service: LambdaService, code: Path) -> None:
    _make(service, code, "a", reserved_concurrency=900)
    _make(service, code, "a", region="eu-west-1", reserved_concurrency=900)
    assert service.registry.account_usage("eu-west-1", "123456789012").unreserved == 100


@pytest.mark.parametrize(("account_concurrency", "minimum"), [(100, 100), (50, 50)])
def test_an_account_of_a_hundred_or_less_reserves_nothing(service: LambdaService, code: Path,
                                                          minimum: int) -> None:
    fn = _make(service, code, "a")
    with pytest.raises(InvalidParameterValueException,
                       match=rf"below its minimum value of \[{minimum}\]"):
        fn.set_reserved_concurrency(1)
    fn.set_reserved_concurrency(0)  # turning a function off is always possible


@pytest.mark.parametrize("account_concurrency", [101])
def test_an_account_of_101_reserves_one(service: LambdaService, code: Path) -> None:
    fn = _make(service, code, "a")
    fn.set_reserved_concurrency(1)
    with pytest.raises(InvalidParameterValueException):
        _make(service, code, "b").set_reserved_concurrency(1)


@pytest.mark.parametrize("value", [0, -3, "many", 1.5, True])
def test_the_account_limit_is_a_whole_number_of_one_or_more(value: object) -> None:
    with pytest.raises(ConfigurationError, match="is not an account concurrency"):
        LambdaService(backends={}, aws="off",
                      account_concurrency=value)  # type: ignore[arg-type]


def test_the_account_limit_comes_from_the_environment_too(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PYTEST_LAMBDA_ACCOUNT_CONCURRENCY", "40")
    with LambdaService(backends={}, aws="off") as service:
        assert service.registry.account_concurrency == 40
    with LambdaService(backends={}, aws="off", account_concurrency=7) as service:
        assert service.registry.account_concurrency == 7
    monkeypatch.delenv("PYTEST_LAMBDA_ACCOUNT_CONCURRENCY")
    with LambdaService(backends={}, aws="off") as service:
        assert service.registry.account_concurrency == 1000
