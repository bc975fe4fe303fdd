"""CloudFront (Lambda@Edge) viewer request and origin request events."""

from __future__ import annotations

import base64
import secrets
import string
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.events._common import (
    EventError,
    MultiValue,
    b64,
    lower_alnum,
    multi_values,
    random_chars,
    upper_alnum,
)

_URLSAFE = string.ascii_letters + string.digits + "-_"


def cloudfront_headers(headers: Mapping[str, MultiValue]) -> dict[str, list[dict[str, str]]]:
    """Return headers in CloudFront's shape: lower-case name to a list of {key, value}."""
    result: dict[str, list[dict[str, str]]] = {}
    for name, values in multi_values(headers, "headers").items():
        result.setdefault(name.lower(), []).extend({"key": name, "value": v} for v in values)
    return result


def _querystring(querystring: str | Mapping[str, MultiValue]) -> str:
    if isinstance(querystring, str):
        return querystring.lstrip("?")
    pairs = multi_values(querystring, "querystring")
    return urlencode([(name, value) for name, values in pairs.items() for value in values])


def _body(body: str | bytes | None, limit: int) -> dict[str, Any] | None:
    if body is None:
        return None
    data = body.encode() if isinstance(body, str) else body
    if not isinstance(data, bytes):
        raise EventError(f"body must be str or bytes, not {type(body).__name__}.")
    return {
        "inputTruncated": len(data) > limit,
        "action": "read-only",
        "encoding": "base64",
        "data": b64(data[:limit]),
    }


def _event(
    event_type: str,
    *,
    uri: str,
    method: str,
    querystring: str | Mapping[str, MultiValue],
    headers: Mapping[str, MultiValue] | None,
    client_ip: str,
    body: str | bytes | None,
    body_limit: int,
    distribution_id: str | None,
    distribution_domain: str | None,
    origin: dict[str, Any] | None,
    added_headers: Mapping[str, str],
) -> dict[str, Any]:
    if not isinstance(uri, str) or not uri.startswith("/"):
        raise EventError(f"uri must start with '/', not {uri!r}.")
    if not isinstance(method, str) or not method.isalpha():
        raise EventError(f"method must be an HTTP method such as 'GET', not {method!r}.")
    domain = distribution_domain or f"d{lower_alnum(13)}.cloudfront.net"
    given = multi_values(headers, "headers")
    merged: dict[str, MultiValue] = {}
    defaults = {"Host": domain, "User-Agent": "curl/8.5.0", "Accept": "*/*", **added_headers}
    present = {name.lower() for name in given}
    for name, value in defaults.items():
        if name.lower() not in present:
            merged[name] = value
    merged.update(given)
    request: dict[str, Any] = {}
    encoded_body = _body(body, body_limit)
    if encoded_body is not None:
        request["body"] = encoded_body
    request.update({
        "clientIp": client_ip,
        "headers": cloudfront_headers(merged),
        "method": method.upper(),
        "querystring": _querystring(querystring),
        "uri": uri,
    })
    if origin is not None:
        request["origin"] = origin
    return {"Records": [{"cf": {
        "config": {
            "distributionDomainName": domain,
            "distributionId": distribution_id or f"E{upper_alnum(13)}",
            "eventType": event_type,
            "requestId": random_chars(56, _URLSAFE) + "==",
        },
        "request": request,
    }}]}


def cloudfront_viewer_request(
    uri: str = "/",
    *,
    method: str = "GET",
    querystring: str | Mapping[str, MultiValue] = "",
    headers: Mapping[str, MultiValue] | None = None,
    client_ip: str = "203.0.113.178",
    body: str | bytes | None = None,
    distribution_id: str | None = None,
    distribution_domain: str | None = None,
) -> dict[str, Any]:
    """Return a Lambda@Edge viewer request event.

    Headers take CloudFront's shape (`{"host": [{"key": "Host", "value": ...}]}`). A `body`
    is included base64-encoded, as with "include body" on, truncated at 40 KB.
    """
    return _event(
        "viewer-request", uri=uri, method=method, querystring=querystring, headers=headers,
        client_ip=client_ip, body=body, body_limit=_limits.CLOUDFRONT_VIEWER_BODY_MAX_BYTES,
        distribution_id=distribution_id, distribution_domain=distribution_domain, origin=None,
        added_headers={},
    )


def cloudfront_origin_request(
    uri: str = "/",
    *,
    method: str = "GET",
    querystring: str | Mapping[str, MultiValue] = "",
    headers: Mapping[str, MultiValue] | None = None,
    client_ip: str = "203.0.113.178",
    body: str | bytes | None = None,
    origin: str = "s3",
    origin_domain: str | None = None,
    distribution_id: str | None = None,
    distribution_domain: str | None = None,
    region: str = _aws.DEFAULT_REGION,
) -> dict[str, Any]:
    """Return a Lambda@Edge origin request event for an `"s3"` or a `"custom"` origin.

    It carries the origin's settings under `request.origin` and the `via` and
    `x-forwarded-for` headers CloudFront adds; a `body` is truncated at 1 MB.
    """
    if origin == "s3":
        origin_config: dict[str, Any] = {"s3": {
            "authMethod": "origin-access-identity",
            "customHeaders": {},
            "domainName": origin_domain or f"example-bucket.s3.{region}.amazonaws.com",
            "path": "",
            "region": region,
        }}
    elif origin == "custom":
        origin_config = {"custom": {
            "customHeaders": {},
            "domainName": origin_domain or "origin.example.com",
            "keepaliveTimeout": 5,
            "path": "",
            "port": 443,
            "protocol": "https",
            "readTimeout": 30,
            "sslProtocols": ["TLSv1.2"],
        }}
    else:
        raise EventError(f"origin must be 's3' or 'custom', not {origin!r}.")
    edge = base64.b32encode(secrets.token_bytes(10)).decode().lower()
    return _event(
        "origin-request", uri=uri, method=method, querystring=querystring, headers=headers,
        client_ip=client_ip, body=body, body_limit=_limits.CLOUDFRONT_ORIGIN_BODY_MAX_BYTES,
        distribution_id=distribution_id, distribution_domain=distribution_domain,
        origin=origin_config,
        added_headers={
            "Via": f"2.0 {edge}.cloudfront.net (CloudFront)",
            "X-Forwarded-For": client_ip,
        },
    )
