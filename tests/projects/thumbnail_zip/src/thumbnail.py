"""Make a thumbnail of every image uploaded to a bucket, in the shape of AWS's S3 + Lambda
image-resizing tutorial: the function is deployed as a .zip holding this module and Pillow.

The thumbnail goes to `<bucket>-resized` under the same key with a `resized-` prefix. Keys in
S3 event notifications are URL-encoded (a space arrives as `+`), so the key is decoded first.
"""

import io
import os
import urllib.parse

import boto3
from PIL import Image

s3 = boto3.client("s3")
SIZE = int(os.environ.get("THUMBNAIL_SIZE", "128"))


def thumbnail(data: bytes) -> tuple[bytes, str]:
    image = Image.open(io.BytesIO(data))
    fmt = image.format or "PNG"
    image.thumbnail((SIZE, SIZE))
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue(), Image.MIME.get(fmt, "application/octet-stream")


def handler(event, context):
    written = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = urllib.parse.unquote_plus(record["s3"]["object"]["key"])
        original = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        data, content_type = thumbnail(original)
        target = f"resized-{key}"
        s3.put_object(Bucket=f"{bucket}-resized", Key=target, Body=data,
                      ContentType=content_type)
        written.append(target)
    return {"thumbnails": written}
