"""The JSON documents Lambda's API answers with: a function's configuration and its code."""

from __future__ import annotations

import base64
import hashlib
import time
from typing import TYPE_CHECKING, Any

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.service.registry import (
    LATEST,
    AccountUsage,
    Alias,
    EventInvokeConfig,
    FunctionEntry,
    code_size,
)

if TYPE_CHECKING:
    from pytest_lambda.service.function import Function


def configuration(entry: FunctionEntry, version: str = LATEST) -> dict[str, Any]:
    """Return GetFunctionConfiguration's document for `version` of `entry`'s function."""
    function = entry.function_of(version)
    dead_letter = entry.dead_letter_of(version)
    config = function.config
    digest = (bytes.fromhex(config.code_hash) if _is_hex(config.code_hash)
              else hashlib.sha256(config.code_hash.encode()).digest())
    document: dict[str, Any] = {
        "FunctionName": config.name,
        "FunctionArn": config.arn if version == LATEST else f"{config.arn}:{version}",
        "Role": f"arn:aws:iam::{config.account_id}:role/{config.name}-role",
        "CodeSize": code_size(function),
        "Description": "",
        "Timeout": config.timeout,
        "MemorySize": config.memory_size,
        "LastModified": _timestamp(entry.modified_at_of(version)),
        "CodeSha256": base64.b64encode(digest).decode(),
        "Version": version,
        "TracingConfig": {"Mode": "PassThrough"},
        "RevisionId": _revision(config.pool_key()),
        "State": "Active",
        "LastUpdateStatus": "Successful",
        "PackageType": "Image" if config.image is not None else "Zip",
        "Architectures": [config.architecture],
        "EphemeralStorage": {"Size": config.ephemeral_storage},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": _aws.log_group_name(config.name)},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
    }
    if config.image is None:
        document["Runtime"] = config.runtime_name
        document["Handler"] = config.handler
    else:
        document["ImageConfigResponse"] = {"ImageConfig": {
            "Command": list(config.image.command or []),
            "EntryPoint": list(config.image.entry_point or []),
            "WorkingDirectory": config.image.working_directory,
        }}
    if config.environment:
        document["Environment"] = {"Variables": dict(config.environment)}
    if dead_letter is not None:
        document["DeadLetterConfig"] = {"TargetArn": dead_letter}
    if config.layers:
        document["Layers"] = [
            {"Arn": f"arn:aws:lambda:{config.region}:{config.account_id}:layer:"
                    f"{digest[:16]}:1", "CodeSize": 0}
            for digest in config.layers
        ]
    return document


def function_document(entry: FunctionEntry, version: str = LATEST) -> dict[str, Any]:
    """Return GetFunction's document: the configuration and where the code is."""
    config = entry.function_of(version).config
    if config.image is not None:
        code = {"RepositoryType": "ECR", "ImageUri": config.image.reference,
                "ResolvedImageUri": config.image.reference}
    else:
        code = {"RepositoryType": "S3", "Location": (config.code_dir.as_uri()
                                                     if config.code_dir is not None else "")}
    return {"Configuration": configuration(entry, version), "Code": code, "Tags": {}}


def alias_document(function: Function, alias: Alias) -> dict[str, Any]:
    """Return the AliasConfiguration document."""
    document: dict[str, Any] = {
        "AliasArn": f"{function.arn}:{alias.name}",
        "Name": alias.name,
        "FunctionVersion": alias.version,
        "Description": alias.description,
        "RevisionId": _revision(f"{function.arn}:{alias.name}:{alias.revision}"),
    }
    if alias.routing:
        document["RoutingConfig"] = {"AdditionalVersionWeights": dict(alias.routing)}
    return document


def event_invoke_document(function: Function, qualifier: str,
                          settings: EventInvokeConfig) -> dict[str, Any]:
    """Return the FunctionEventInvokeConfig document of `function`'s `qualifier`."""
    destinations: dict[str, Any] = {}
    if settings.on_success is not None:
        destinations["OnSuccess"] = {"Destination": settings.on_success}
    if settings.on_failure is not None:
        destinations["OnFailure"] = {"Destination": settings.on_failure}
    return {
        "LastModified": settings.last_modified,
        "FunctionArn": f"{function.arn}:{qualifier}",
        "MaximumRetryAttempts": settings.maximum_retry_attempts,
        "MaximumEventAgeInSeconds": settings.maximum_event_age,
        "DestinationConfig": destinations,
    }


def account_settings(usage: AccountUsage) -> dict[str, Any]:
    """Return GetAccountSettings' document: the account's limits (Lambda's fixed ones for
    code storage and package sizes) and what its functions use."""
    return {
        "AccountLimit": {
            "TotalCodeSize": _limits.ACCOUNT_CODE_STORAGE_BYTES,
            "CodeSizeUnzipped": _limits.UNZIPPED_CODE_MAX_BYTES,
            "CodeSizeZipped": _limits.ZIPPED_CODE_MAX_BYTES,
            "ConcurrentExecutions": usage.limit,
            "UnreservedConcurrentExecutions": usage.unreserved,
        },
        "AccountUsage": {"TotalCodeSize": usage.code_size,
                         "FunctionCount": usage.function_count},
    }


def _is_hex(text: str) -> bool:
    try:
        bytes.fromhex(text)
    except ValueError:
        return False
    return len(text) % 2 == 0 and len(text) > 0


def _revision(key: str) -> str:
    h = hashlib.sha256(key.encode()).hexdigest()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"


def _timestamp(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000+0000", time.gmtime(seconds))
