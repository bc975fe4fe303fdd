from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from pytest_lambda import events

CODE = Path(__file__).parent.parent / "src"


@pytest.fixture
def uppercase(lambda_function, lambda_aws):
    lambda_aws.client("s3").create_bucket(Bucket="uploads")
    lambda_aws.client("s3").create_bucket(Bucket="shouted")
    lambda_aws.client("dynamodb").create_table(
        TableName="copies",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return lambda_function(
        "app.handler",
        code=CODE,
        runtime="python3.13",
        memory_size=1024,  # boto3's import wants the CPU share of ~0.6 vCPU
        timeout=30,
        environment={"OUT_BUCKET": "shouted", "TABLE": "copies"},
    )


def test_an_upload_is_copied_upper_cased(uppercase, lambda_aws):
    s3 = lambda_aws.client("s3")
    s3.put_object(Bucket="uploads", Key="notes/hello.txt", Body=b"hello")

    result = uppercase.invoke(events.s3_put(bucket="uploads", key="notes/hello.txt"))

    assert result.function_error is None, result.logs
    assert result.payload == {"copied": ["notes/hello.txt"]}
    assert s3.get_object(Bucket="shouted", Key="notes/hello.txt")["Body"].read() == b"HELLO"


def test_each_test_starts_from_an_empty_account(uppercase, lambda_aws):
    # The fixture made the buckets again: the object of the test above is gone.
    assert "Contents" not in lambda_aws.client("s3").list_objects_v2(Bucket="shouted")


def test_plain_boto3_sees_what_the_function_wrote(uppercase):
    boto3.client("s3").put_object(Bucket="uploads", Key="a.txt", Body=b"abc")
    uppercase.invoke(events.s3_put(bucket="uploads", key="a.txt"))
    item = boto3.resource("dynamodb").Table("copies").get_item(Key={"key": "a.txt"})["Item"]
    assert item["size"] == 3


@mock_aws
def test_so_does_code_under_mock_aws(uppercase, monkeypatch):
    # mock_aws answers boto3's calls to AWS's own addresses from moto's state in this process,
    # the state the session's moto server (and so the function) uses.
    monkeypatch.delenv("AWS_ENDPOINT_URL")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="uploads")  # mock_aws started from an empty account
    s3.create_bucket(Bucket="shouted")
    s3.put_object(Bucket="uploads", Key="b.txt", Body=b"quiet")
    boto3.client("dynamodb").create_table(
        TableName="copies",
        KeySchema=[{"AttributeName": "key", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "key", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    uppercase.invoke(events.s3_put(bucket="uploads", key="b.txt"))
    assert s3.get_object(Bucket="shouted", Key="b.txt")["Body"].read() == b"QUIET"
