"""The orders API: validation and routing in a container, the DynamoDB paths in-process.

Code in a container cannot reach moto's `mock_aws` (it patches only this process), so the
reads and writes are tested with `invoke_handler` under `mock_aws`; the container tests cover
what needs no AWS, and show that a DynamoDB call there fails at once instead of hanging.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import (
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
                           # One attempt: without AWS in the loop, do not wait for retries.
                           environment={"ORDERS_TABLE": TABLE, "AWS_MAX_ATTEMPTS": "1"})


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
def test_a_table_call_without_aws_fails_at_once(orders_api: Function) -> None:
    result = orders_api.invoke(order_event("GET"))
    assert result.function_error == "Unhandled"
    assert result.error is not None
    assert result.error["errorType"] == "EndpointConnectionError"
    assert "dynamodb.us-east-1.amazonaws.com" in result.error["errorMessage"]


# -- in-process, with moto ----------------------------------------------------------------------

@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.syspath_prepend(str(SRC))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with moto.mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="us-east-1")
        yield dynamodb.create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        )


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
