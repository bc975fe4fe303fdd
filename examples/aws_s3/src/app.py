"""Copy each uploaded object to the OUT_BUCKET bucket, upper-cased, and record it in DynamoDB."""

import os
import urllib.parse

import boto3

# Made once per execution environment, with nothing about where AWS is: in Lambda the
# environment's credentials and region; under pytest-aws-lambda the session's moto.
s3 = boto3.client("s3")
table = boto3.resource("dynamodb").Table(os.environ["TABLE"])


def handler(event, context):
    copied = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        s3.put_object(Bucket=os.environ["OUT_BUCKET"], Key=key, Body=body.upper())
        table.put_item(Item={"key": key, "size": len(body)})
        copied.append(key)
    return {"copied": copied}
