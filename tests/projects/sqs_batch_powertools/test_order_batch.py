"""The Powertools SQS batch consumer, in a container and in-process.

Nothing here calls AWS, so the whole flow runs in a Lambda container: Powertools comes in a
layer built from the package index for the function's runtime.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_lambda import BackendName, Function, FunctionFactory, events, invoke_handler

SRC = Path(__file__).parent / "src"
docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)


@pytest.fixture
def consumer(
    lambda_function: FunctionFactory, powertools_layer: Path, backend: BackendName,
) -> Function:
    return lambda_function("order_batch.handler", code=SRC, runtime="python3.13",
                           backend=backend, layers=[powertools_layer], memory_size=1024,
                           timeout=30,
                           environment={"POWERTOOLS_LOG_LEVEL": "INFO"})


def _orders(*quantities: int) -> list[dict[str, object]]:
    return [{"id": f"order-{n}", "quantity": q} for n, q in enumerate(quantities)]


@docker_only
def test_only_the_poison_message_is_reported_as_failed(consumer: Function) -> None:
    event = events.sqs_batch(_orders(2, 0, 5), queue="orders")
    result = consumer.invoke(event)
    assert result.function_error is None, result.logs
    poison = event["Records"][1]["messageId"]
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": poison}]}


@docker_only
def test_a_clean_batch_reports_no_failures(consumer: Function) -> None:
    result = consumer.invoke(events.sqs_batch(_orders(1, 1), queue="orders"))
    assert result.payload == {"batchItemFailures": []}


@docker_only
def test_powertools_logs_belong_to_the_invocation(consumer: Function) -> None:
    result = consumer.invoke(events.sqs_batch(_orders(3), queue="orders"))
    records = [json.loads(line) for line in result.logs.splitlines() if line.startswith("{")]
    (accepted,) = [r for r in records if r.get("message") == "order accepted"]
    assert accepted["order_id"] == "order-0"
    assert accepted["function_request_id"] == result.request_id
    assert accepted["function_name"] == consumer.name
    assert accepted["cold_start"] is result.cold_start


@docker_only
def test_a_batch_where_every_message_fails_is_an_error(consumer: Function) -> None:
    # Powertools raises when the whole batch failed, so SQS retries all of it.
    result = consumer.invoke(events.sqs_batch(_orders(0, -1), queue="orders"))
    assert result.function_error == "Unhandled"
    assert result.error is not None
    assert result.error["errorType"] == "BatchProcessingError"


def test_in_process_the_same_batch_gives_the_same_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("aws_lambda_powertools")
    monkeypatch.syspath_prepend(str(SRC))
    event = events.sqs_batch(_orders(2, 0, 5), queue="orders")
    result = invoke_handler("order_batch.handler", event, timeout=10)
    poison = event["Records"][1]["messageId"]
    assert result.payload == {"batchItemFailures": [{"itemIdentifier": poison}]}
