"""Time S3 put_object round trips from inside an execution environment (the benchmark's)."""

import time

import boto3

s3 = boto3.client("s3")


def handler(event, context):
    times = []
    for i in range(event.get("puts", 1)):
        t0 = time.perf_counter()
        s3.put_object(Bucket=event["bucket"], Key="k%d" % i, Body=b"x" * event.get("size", 1024))
        times.append((time.perf_counter() - t0) * 1000)
    return {"ms": times}
