"""A function that reports the AWS SDK it imports: versions and where each module came from."""

import importlib


def _module(name):
    module = importlib.import_module(name)
    version = getattr(module, "__version__", None)
    if name == "dateutil":
        from dateutil import __version__ as version
    return {"version": version, "file": module.__file__}


def handler(event, context):
    found = {name: _module(name) for name in event.get("modules", ["boto3", "botocore"])}
    if event.get("client"):
        import boto3

        # Builds a client from botocore's service model and the environment's region: no call.
        client = boto3.client(event["client"])
        found["client"] = {
            "service": client.meta.service_model.service_name,
            "region": client.meta.region_name,
        }
    return found
