"""The orders API: validation, routing and the DynamoDB paths in a container, against the
session's moto (`lambda_aws`); the same paths in-process with `invoke_handler` under `mock_aws`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import (
    AwsEndpoint,
    BackendName,
    Function,
    FunctionFactory,
    InvokeResult,
    events,
    invoke_handler,
)

SRC = Path(__file__).parent / "src"
TABLE = "orders"
docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)


def order_event(
    method: str, order_id: str | None = "o-1",
    body: str | Mapping[str, Any] | Sequence[Any] | None = None,
) -> dict[str, Any]:
    return events.api_gateway_rest(
        method, f"/orders/{order_id}" if order_id else "/orders", resource="/orders/{id}"
        if order_id else "/orders", body=body,
    )


# -- in a container ---------------------------------------------------------------------------

@pytest.fixture
def orders_api(
    lambda_function: FunctionFactory, boto3_layer: Path, backend: BackendName,
) -> Function:
    return lambda_function("orders_api.handler", code=SRC, runtime="python3.13", backend=backend,
                           layers=[boto3_layer], memory_size=1024, timeout=30,
                           environment={"ORDERS_TABLE": TABLE})


def _create_table(dynamodb: Any) -> Any:
    return dynamodb.create_table(
        TableName=TABLE, BillingMode="PAY_PER_REQUEST",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
    )


@docker_only
@pytest.mark.parametrize(("body", "message"), [
    ("not json", "body must be JSON"),
    ([1, 2], "body must be a JSON object"),
    ({"quantity": 1}, "sku must be a non-empty string"),
    ({"sku": "A1", "quantity": 0}, "quantity must be a positive whole number"),
    ({"sku": "A1", "quantity": True}, "quantity must be a positive whole number"),
])
def test_invalid_orders_are_refused_before_any_write(
    orders_api: Function, body: str | list[int] | dict[str, Any], message: str,
) -> None:
    result = orders_api.invoke(order_event("PUT", body=body))
    assert result.function_error is None, result.logs
    assert result.payload["statusCode"] == 400
    assert json.loads(result.payload["body"]) == {"message": message}


@docker_only
def test_other_methods_are_not_allowed(orders_api: Function) -> None:
    result = orders_api.invoke(order_event("DELETE"))
    assert result.payload["statusCode"] == 405


@docker_only
def test_an_order_is_stored_and_read_back_in_a_container(
    orders_api: Function, lambda_aws: AwsEndpoint,
) -> None:
    table = _create_table(lambda_aws.resource("dynamodb"))
    put = orders_api.invoke(order_event("PUT", body={"sku": "A1", "quantity": 2}))
    assert put.payload["statusCode"] == 201, put.logs
    got = orders_api.invoke(order_event("GET"))
    assert got.payload["statusCode"] == 200
    assert json.loads(got.payload["body"]) == {"id": "o-1", "sku": "A1", "quantity": 2}
    assert table.get_item(Key={"id": "o-1"})["Item"]["quantity"] == 2


@docker_only
def test_a_call_to_a_missing_table_is_dynamodbs_error_at_once(
    orders_api: Function, lambda_aws: AwsEndpoint,
) -> None:
    result = orders_api.invoke(order_event("GET"))  # each test starts from an empty account
    assert result.function_error == "Unhandled"
    assert result.error is not None
    assert result.error["errorType"] == "ResourceNotFoundException"


# -- in-process, with moto ----------------------------------------------------------------------

@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.syspath_prepend(str(SRC))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with moto.mock_aws():
        yield _create_table(boto3.resource("dynamodb", region_name="us-east-1"))


def call(event: dict[str, Any]) -> InvokeResult:
    return invoke_handler("orders_api.handler", event, environment={"ORDERS_TABLE": TABLE})


def test_an_order_put_can_be_read_back(table: Any) -> None:
    created = call(order_event("PUT", "o-7", body={"sku": "A1", "quantity": 3}))
    assert created.payload["statusCode"] == 201
    assert table.get_item(Key={"id": "o-7"})["Item"] == {"id": "o-7", "sku": "A1",
                                                         "quantity": 3}
    read = call(order_event("GET", "o-7"))
    assert read.payload["statusCode"] == 200
    assert json.loads(read.payload["body"]) == {"id": "o-7", "sku": "A1", "quantity": 3}


def test_a_missing_order_is_not_found(table: Any) -> None:
    result = call(order_event("GET", "o-404"))
    assert result.payload["statusCode"] == 404
    assert json.loads(result.payload["body"]) == {"message": "order o-404 not found"}


def test_an_invalid_order_writes_nothing(table: Any) -> None:
    result = call(order_event("PUT", "o-8", body={"sku": "", "quantity": 1}))
    assert result.payload["statusCode"] == 400
    assert table.scan()["Count"] == 0
