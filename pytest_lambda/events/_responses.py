"""Read what an HTTP handler returned the way API Gateway, ALB or a Function URL reads it."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pytest_lambda.events._common import EventError, InvalidProxyResponseError

#: The integrations whose response format `parse_proxy_response` knows.
SOURCES = ("api_gateway_rest", "api_gateway_http", "function_url", "alb")

_REST_KEYS = frozenset({"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"})


@dataclass(frozen=True)
class ProxyResponse:
    """An HTTP response as the client would receive it.

    `headers` has lower-case names, with repeated values folded into one comma-separated
    value (except `set-cookie`, whose values are in `cookies`); `multi_value_headers` keeps
    every value. `body` is the body decoded from base64 when it was encoded, then from JSON
    when it is JSON (so a dict or list), else text, or bytes when it is not UTF-8.
    `raw_body` is the body's bytes.
    """

    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    multi_value_headers: dict[str, list[str]] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    body: Any = None
    raw_body: bytes = b""
    is_base64_encoded: bool = False

    @property
    def text(self) -> str:
        """The body as text (UTF-8, undecodable bytes replaced)."""
        return self.raw_body.decode("utf-8", "replace")


def _fail(source: str, problem: str, fix: str) -> InvalidProxyResponseError:
    gateway = {
        "api_gateway_rest": "API Gateway",
        "api_gateway_http": "API Gateway",
        "function_url": "the Function URL",
        "alb": "the load balancer",
    }[source]
    return InvalidProxyResponseError(
        f"Not a valid {source} proxy response ({gateway} would answer 502): {problem}; {fix}."
    )


def _status(response: Mapping[str, Any], source: str) -> int:
    status = response.get("statusCode")
    if isinstance(status, bool) or not isinstance(status, int):
        raise _fail(
            source, f"statusCode is {status!r}",
            "return an integer HTTP status such as {'statusCode': 200, ...}",
        )
    if not 100 <= status <= 599:
        raise _fail(source, f"statusCode {status} is not an HTTP status", "use 100 to 599")
    return status


def _header_map(value: Any, source: str, key: str) -> dict[str, list[str]]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise _fail(source, f"{key} is a {type(value).__name__}", f"make {key} a dict")
    result: dict[str, list[str]] = {}
    for name, item in value.items():
        items = item if key == "multiValueHeaders" else [item]
        if key == "multiValueHeaders" and not isinstance(item, list):
            raise _fail(source, f"multiValueHeaders[{name!r}] is not a list",
                        "give each multi-value header a list of strings")
        for one in items:
            if isinstance(one, bool) or not isinstance(one, (str, int, float)):
                raise _fail(source, f"{key}[{name!r}] holds {one!r}",
                            "give header values as strings")
            result.setdefault(str(name).lower(), []).append(str(one))
    return result


def _body(response: Mapping[str, Any], source: str) -> tuple[bytes, bool]:
    body = response.get("body")
    encoded = response.get("isBase64Encoded", False)
    if not isinstance(encoded, bool):
        raise _fail(source, f"isBase64Encoded is {encoded!r}", "make it true or false")
    if body is None:
        return b"", encoded
    if not isinstance(body, str):
        raise _fail(
            source, f"body is a {type(body).__name__}, not a string",
            "serialise it, for example 'body': json.dumps(data)",
        )
    if not encoded:
        return body.encode("utf-8"), False
    try:
        return base64.b64decode(body, validate=True), True
    except (binascii.Error, ValueError):
        raise _fail(source, "isBase64Encoded is true but body is not base64",
                    "base64-encode the body or set isBase64Encoded to false") from None


def _decode(raw: bytes, content_type: str | None) -> Any:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    media = (content_type or "").split(";")[0].strip().lower()
    if media and not (media == "application/json" or media.endswith("+json")):
        return text
    try:
        return json.loads(text)
    except ValueError:
        return text


def parse_proxy_response(response: Any, source: str = "api_gateway_rest") -> ProxyResponse:
    """Return the HTTP response an integration makes of a handler's return value.

    `source` is `"api_gateway_rest"` (payload 1.0), `"api_gateway_http"` (payload 2.0),
    `"function_url"` or `"alb"`. Payload 2.0 and Function URLs turn a value without
    `statusCode` into a 200 JSON response, as AWS does. Anything the integration would reject
    with a 502 raises `pytest_lambda.events.InvalidProxyResponseError` saying what is wrong.
    """
    __tracebackhide__ = True
    if source not in SOURCES:
        raise EventError(f"source must be one of {', '.join(SOURCES)}, not {source!r}.")
    v2 = source in ("api_gateway_http", "function_url")
    if v2 and not (isinstance(response, Mapping) and "statusCode" in response):
        if isinstance(response, (bytes, bytearray)):
            raise _fail(source, "the handler returned bytes, not JSON", "return JSON values")
        raw = json.dumps(response).encode()
        return ProxyResponse(
            status_code=200,
            headers={"content-type": "application/json"},
            multi_value_headers={"content-type": ["application/json"]},
            body=response,
            raw_body=raw,
        )
    if not isinstance(response, Mapping):
        raise _fail(source, f"the handler returned {type(response).__name__}, not an object",
                    "return {'statusCode': 200, 'body': '...'}")
    if source == "api_gateway_rest":
        unknown = sorted(set(response) - _REST_KEYS)
        if unknown:
            raise _fail(source, f"it has unexpected keys {unknown}",
                        "return only statusCode, headers, multiValueHeaders, body and "
                        "isBase64Encoded")
    status = _status(response, source)
    multi = _header_map(response.get("headers"), source, "headers")
    if source != "api_gateway_http" and source != "function_url":
        # multiValueHeaders win over headers of the same name (REST and ALB).
        for name, values in _header_map(
            response.get("multiValueHeaders"), source, "multiValueHeaders"
        ).items():
            multi[name] = values
    cookies = list(multi.get("set-cookie", []))
    if v2:
        extra = response.get("cookies", [])
        if not isinstance(extra, list) or not all(isinstance(c, str) for c in extra):
            raise _fail(source, "cookies is not a list of strings",
                        "return cookies as ['name=value; Path=/', ...]")
        cookies.extend(extra)
        if cookies:
            multi["set-cookie"] = cookies
    raw, encoded = _body(response, source)
    headers = {name: ", ".join(values) for name, values in multi.items() if name != "set-cookie"}
    return ProxyResponse(
        status_code=status,
        headers=headers,
        multi_value_headers=multi,
        cookies=cookies,
        body=_decode(raw, headers.get("content-type")),
        raw_body=raw,
        is_base64_encoded=encoded,
    )
