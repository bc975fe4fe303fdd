"""Cognito user pool trigger events."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pytest_lambda.config import names as _aws
from pytest_lambda.events._common import EventError, lower_alnum, new_uuid, random_chars

PRE_SIGN_UP_SOURCES = (
    "PreSignUp_SignUp", "PreSignUp_AdminCreateUser", "PreSignUp_ExternalProvider",
)
POST_CONFIRMATION_SOURCES = (
    "PostConfirmation_ConfirmSignUp", "PostConfirmation_ConfirmForgotPassword",
)
PRE_TOKEN_GENERATION_SOURCES = (
    "TokenGeneration_HostedAuth",
    "TokenGeneration_Authentication",
    "TokenGeneration_NewPasswordChallenge",
    "TokenGeneration_AuthenticateDevice",
    "TokenGeneration_RefreshTokens",
)


def _choice(value: str, allowed: Sequence[str], what: str) -> str:
    if value not in allowed:
        raise EventError(f"{what} must be one of {', '.join(allowed)}, not {value!r}.")
    return value


def _strings(values: Mapping[str, Any] | None, what: str) -> dict[str, str] | None:
    if values is None:
        return None
    if not isinstance(values, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in values.items()
    ):
        raise EventError(f"{what} must be a dict of strings to strings (Cognito sends strings).")
    return dict(values)


def _base(
    trigger_source: str, *, version: str, username: str | None, user_pool_id: str | None,
    client_id: str | None, region: str,
) -> dict[str, Any]:
    return {
        "version": version,
        "region": region,
        "userPoolId": user_pool_id or f"{region}_{random_chars(9)}",
        "userName": username or new_uuid(),
        "callerContext": {
            "awsSdkVersion": "aws-sdk-unknown-unknown",
            "clientId": client_id or lower_alnum(26),
        },
        "triggerSource": trigger_source,
    }


def _confirmed_attributes(
    user_attributes: Mapping[str, str] | None, sub: str
) -> dict[str, str]:
    attributes = {
        "sub": sub,
        "cognito:user_status": "CONFIRMED",
        "email_verified": "true",
        "email": "user@example.com",
    }
    attributes.update(_strings(user_attributes, "user_attributes") or {})
    return attributes


def cognito_pre_sign_up(
    *,
    user_attributes: Mapping[str, str] | None = None,
    username: str | None = None,
    trigger_source: str = "PreSignUp_SignUp",
    validation_data: Mapping[str, str] | None = None,
    client_metadata: Mapping[str, str] | None = None,
    user_pool_id: str | None = None,
    client_id: str | None = None,
    region: str = _aws.DEFAULT_REGION,
) -> dict[str, Any]:
    """Return a Cognito pre sign-up trigger event (the response fields start false)."""
    event = _base(
        _choice(trigger_source, PRE_SIGN_UP_SOURCES, "trigger_source"), version="1",
        username=username, user_pool_id=user_pool_id, client_id=client_id, region=region,
    )
    request: dict[str, Any] = {
        "userAttributes": _strings(user_attributes, "user_attributes")
        or {"email": "user@example.com"},
        "validationData": _strings(validation_data, "validation_data"),
    }
    if client_metadata is not None:
        request["clientMetadata"] = _strings(client_metadata, "client_metadata")
    event["request"] = request
    event["response"] = {"autoConfirmUser": False, "autoVerifyEmail": False,
                         "autoVerifyPhone": False}
    return event


def cognito_post_confirmation(
    *,
    user_attributes: Mapping[str, str] | None = None,
    username: str | None = None,
    trigger_source: str = "PostConfirmation_ConfirmSignUp",
    client_metadata: Mapping[str, str] | None = None,
    user_pool_id: str | None = None,
    client_id: str | None = None,
    region: str = _aws.DEFAULT_REGION,
) -> dict[str, Any]:
    """Return a Cognito post confirmation trigger event for a confirmed user."""
    sub = new_uuid()
    event = _base(
        _choice(trigger_source, POST_CONFIRMATION_SOURCES, "trigger_source"), version="1",
        username=username or sub, user_pool_id=user_pool_id, client_id=client_id,
        region=region,
    )
    request: dict[str, Any] = {"userAttributes": _confirmed_attributes(user_attributes, sub)}
    if client_metadata is not None:
        request["clientMetadata"] = _strings(client_metadata, "client_metadata")
    event["request"] = request
    event["response"] = {}
    return event


def cognito_pre_token_generation(
    *,
    user_attributes: Mapping[str, str] | None = None,
    username: str | None = None,
    trigger_source: str = "TokenGeneration_Authentication",
    version: str = "1",
    groups: Sequence[str] = (),
    scopes: Sequence[str] = ("openid", "email"),
    client_metadata: Mapping[str, str] | None = None,
    user_pool_id: str | None = None,
    client_id: str | None = None,
    region: str = _aws.DEFAULT_REGION,
) -> dict[str, Any]:
    """Return a Cognito pre token generation trigger event.

    `version="1"` is the original event (ID token only); `"2"` and `"3"` add the requested
    `scopes` and answer with `claimsAndScopeOverrideDetails`.
    """
    if version not in ("1", "2", "3"):
        raise EventError(f"version must be '1', '2' or '3', not {version!r}.")
    sub = new_uuid()
    event = _base(
        _choice(trigger_source, PRE_TOKEN_GENERATION_SOURCES, "trigger_source"),
        version=version, username=username or sub, user_pool_id=user_pool_id,
        client_id=client_id, region=region,
    )
    request: dict[str, Any] = {
        "userAttributes": _confirmed_attributes(user_attributes, sub),
        "groupConfiguration": {
            "groupsToOverride": list(groups),
            "iamRolesToOverride": [],
            "preferredRole": None,
        },
    }
    if version != "1":
        request["scopes"] = list(scopes)
    if client_metadata is not None:
        request["clientMetadata"] = _strings(client_metadata, "client_metadata")
    event["request"] = request
    event["response"] = (
        {"claimsOverrideDetails": None}
        if version == "1"
        else {"claimsAndScopeOverrideDetails": None}
    )
    return event
