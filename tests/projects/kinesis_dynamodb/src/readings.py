"""Store sensor readings from a Kinesis stream in DynamoDB, in the shape of AWS's Kinesis ->
Lambda -> DynamoDB test samples.

Each record's data is a JSON reading `{"sensor": ..., "at": ..., "value": ...}`. Records that do
not decode are reported as failures (the event source mapping has `ReportBatchItemFailures`
on, and Kinesis identifies a record by its sequence number); the rest are written in one batch.
"""

import base64
import json
import os
from decimal import Decimal

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["READINGS_TABLE"])


def _reading(record):
    data = json.loads(base64.b64decode(record["kinesis"]["data"]), parse_float=Decimal)
    if not isinstance(data, dict) or not {"sensor", "at", "value"} <= data.keys():
        raise ValueError("a reading needs sensor, at and value")
    return {"sensor": str(data["sensor"]), "at": str(data["at"]), "value": data["value"]}


def handler(event, context):
    readings, failures = [], []
    for record in event["Records"]:
        try:
            readings.append(_reading(record))
        except ValueError:  # bad JSON (json.JSONDecodeError) or base64 (binascii.Error) too
            failures.append({"itemIdentifier": record["kinesis"]["sequenceNumber"]})
    if readings:
        with TABLE.batch_writer() as batch:
            for reading in readings:
                batch.put_item(Item=reading)
    print(json.dumps({"stored": len(readings), "failed": len(failures)}))
    return {"batchItemFailures": failures}
