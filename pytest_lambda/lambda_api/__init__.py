"""Lambda's HTTP API for boto3's `lambda` client and the other AWS SDKs."""
