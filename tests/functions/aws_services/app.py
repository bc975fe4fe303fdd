"""A function that uses six AWS services through plain boto3, as Lambda functions do: clients
made at import time, with no endpoint or credentials in the code (the environment has them)."""

import json
import os

import boto3

s3 = boto3.client("s3")
dynamodb = boto3.resource("dynamodb")
sqs = boto3.client("sqs")
sns = boto3.client("sns")
secrets = boto3.client("secretsmanager")
ssm = boto3.client("ssm")


def handler(event, context):
    body = s3.get_object(Bucket=event["in_bucket"], Key=event["key"])["Body"].read()
    s3.put_object(Bucket=os.environ["OUT_BUCKET"], Key=event["key"], Body=body.upper())
    table = dynamodb.Table(event["table"])
    table.put_item(Item={"pk": event["key"], "size": len(body)})
    stored = table.get_item(Key={"pk": event["key"]})["Item"]
    queue_url = sqs.get_queue_url(QueueName=event["queue"])["QueueUrl"]
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps({"key": event["key"]}))
    sns.publish(TopicArn=event["topic_arn"], Message="processed " + event["key"])
    secret = secrets.get_secret_value(SecretId=event["secret"])["SecretString"]
    parameter = ssm.get_parameter(Name=event["parameter"], WithDecryption=True)["Parameter"]
    return {
        "stored_size": int(stored["size"]),
        "secret": secret,
        "parameter": parameter["Value"],
        "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
        "boto3": boto3.__version__,
        "boto3_file": boto3.__file__,
    }


def unimplemented(event, context):
    """Call a service moto does not implement; return what the SDK raised."""
    from botocore.config import Config

    client = boto3.client("pinpoint-sms-voice-v2", config=Config(retries={"max_attempts": 1}))
    try:
        client.describe_account_attributes()
    except Exception as exc:  # what a function's own error handling would see
        return {"error": type(exc).__name__, "message": str(exc)[:200]}
    return {"error": None}
