"""The session's AWS endpoint (moto, an endpoint the user runs, or none) and what the test process
and the execution environments are told about it (credentials, region, `AWS_ENDPOINT_URL`).

Nothing here imports moto or boto3 until an endpoint is first needed.
"""

from __future__ import annotations

from pytest_lambda.aws.endpoint import AwsEndpoint, AwsEndpointWarning

__all__ = ["AwsEndpoint", "AwsEndpointWarning"]
