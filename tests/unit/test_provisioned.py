"""Provisioned concurrency in the account's arithmetic, its delete and list operations, and a
dead-letter queue frozen into each published version: boto3's real `lambda` client against the
in-process API on the fake backend (no Docker), and the Python API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from botocore.exceptions import ClientError
from fake_backend import FakeBackend

from pytest_lambda.errors import InvalidParameterValueException, ResourceNotFoundException
from pytest_lambda.lambda_api.api import LambdaAPI
from pytest_lambda.service.function import Function
from pytest_lambda.service.service import LambdaService

ACCOUNT = "123456789012"


class MakeFunction(Protocol):
    """The `make` fixture: a function of `name` on the fake backend (options: the service's)."""

    def __call__(self, name: str = "orders", **options: Any) -> Function: ...


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


def _error(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    error = exc.value.response
    return (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"],
            error["Error"]["Message"])


def _queue(name: str) -> str:
    return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{name}"


# -- 3. a dead-letter queue frozen into a published version ---------------------------------------


def test_a_version_keeps_the_dead_letter_queue_it_was_published_with(
    make: MakeFunction, api: LambdaAPI, client: Any,
) -> None:
    fn = make()
    client.update_function_configuration(FunctionName="orders",
                                         DeadLetterConfig={"TargetArn": _queue("old")})
    published = client.publish_version(FunctionName="orders")
    assert published["Version"] == "1"
    assert published["DeadLetterConfig"] == {"TargetArn": _queue("old")}
    fn.create_alias("live", "1")
    client.update_function_configuration(FunctionName="orders",
                                         DeadLetterConfig={"TargetArn": _queue("new")})

    def dead_letter(qualifier: str | None = None) -> Any:
        options = {} if qualifier is None else {"Qualifier": qualifier}
        return client.get_function_configuration(
            FunctionName="orders", **options).get("DeadLetterConfig")

    assert dead_letter() == {"TargetArn": _queue("new")}
    assert dead_letter("$LATEST") == {"TargetArn": _queue("new")}
    assert dead_letter("1") == {"TargetArn": _queue("old")}
    assert dead_letter("live") == {"TargetArn": _queue("old")}

    def dead_lettered_to(name: str) -> list[str | None]:
        answer = client.invoke(FunctionName=name, InvocationType="Event",
                               Payload=json.dumps({"op": "raise"}))
        result = api.result(answer["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"],
                            timeout=30)
        return [d.target for d in result.deliveries if d.kind == "dead-letter"]

    assert dead_lettered_to("orders") == [_queue("new")]
    assert dead_lettered_to("orders:1") == [_queue("old")]
    assert dead_lettered_to("orders:live") == [_queue("old")]
    # A change of the dead-letter queue alone is a change: publishing makes version 2.
    second = client.publish_version(FunctionName="orders")
    assert second["Version"] == "2" and second["DeadLetterConfig"] == {"TargetArn": _queue("new")}
    listed = {v["Version"]: v.get("DeadLetterConfig")
              for v in client.list_versions_by_function(FunctionName="orders")["Versions"]}
    assert listed == {"$LATEST": {"TargetArn": _queue("new")},
                      "1": {"TargetArn": _queue("old")}, "2": {"TargetArn": _queue("new")}}


def test_a_version_published_without_a_dead_letter_queue_has_none(
    make: MakeFunction, api: LambdaAPI,
) -> None:
    fn = make()
    version = fn.publish_version()
    fn.configure_async(dead_letter_queue=_queue("later"))
    result = api.result(version.invoke_async({"op": "raise"}), timeout=30)
    assert [d.kind for d in result.deliveries] == []
    result = api.result(fn.invoke_async({"op": "raise"}), timeout=30)
    assert [(d.kind, d.target) for d in result.deliveries] == [("dead-letter", _queue("later"))]
    with pytest.raises(InvalidParameterValueException, match="publish"):
        version.configure_async(dead_letter_queue=_queue("x"))
