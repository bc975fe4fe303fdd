"""The Kinesis readings consumer: malformed batches in a container, the writes in-process.

A batch with no valid reading never calls DynamoDB, so it runs in a Lambda container as it is;
the writes run in-process under moto's `mock_aws`.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, FunctionFactory, events, invoke_handler

SRC = Path(__file__).parent / "src"
TABLE = "readings"
docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)


def sequence_numbers(event: dict[str, Any]) -> list[str]:
    return [r["kinesis"]["sequenceNumber"] for r in event["Records"]]


@docker_only
def test_a_batch_of_malformed_records_reports_each_by_sequence_number(
        lambda_function: FunctionFactory, boto3_layer: Path, backend: BackendName) -> None:
    fn = lambda_function("readings.handler", code=SRC, runtime="python3.13", backend=backend,
                         layers=[boto3_layer], memory_size=1024, timeout=30,
                         environment={"READINGS_TABLE": TABLE, "AWS_MAX_ATTEMPTS": "1"})
    event = events.kinesis_batch(["not json", [1, 2], {"sensor": "s-1"}], stream="readings")
    result = fn.invoke(event)
    assert result.function_error is None, result.logs
    assert result.payload == {"batchItemFailures": [
        {"itemIdentifier": n} for n in sequence_numbers(event)]}
    assert '{"stored": 0, "failed": 3}' in result.logs


@pytest.fixture
def table(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    moto = pytest.importorskip("moto")
    import boto3

    monkeypatch.syspath_prepend(str(SRC))
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    with moto.mock_aws():
        yield boto3.resource("dynamodb", region_name="us-east-1").create_table(
            TableName=TABLE, BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "sensor", "KeyType": "HASH"},
                       {"AttributeName": "at", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "sensor", "AttributeType": "S"},
                                  {"AttributeName": "at", "AttributeType": "S"}],
        )


def test_valid_readings_are_stored_and_only_the_bad_one_is_reported(table: Any) -> None:
    event = events.kinesis_batch([
        {"sensor": "s-1", "at": "2024-01-01T00:00:00Z", "value": 21.5},
        "garbage",
        {"sensor": "s-2", "at": "2024-01-01T00:00:00Z", "value": 19},
    ], stream="readings")
    result = invoke_handler("readings.handler", event, environment={"READINGS_TABLE": TABLE})
    assert result.function_error is None, result.logs
    assert result.payload == {"batchItemFailures": [
        {"itemIdentifier": sequence_numbers(event)[1]}]}
    stored = sorted(table.scan()["Items"], key=lambda item: item["sensor"])
    assert stored == [
        {"sensor": "s-1", "at": "2024-01-01T00:00:00Z", "value": Decimal("21.5")},
        {"sensor": "s-2", "at": "2024-01-01T00:00:00Z", "value": Decimal("19")},
    ]
