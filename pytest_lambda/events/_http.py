"""HTTP events: API Gateway REST (payload 1.0), HTTP API (payload 2.0), ALB, Function URLs."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode

from pytest_lambda.config import names as _aws
from pytest_lambda.events._common import (
    Body,
    EventError,
    MultiValue,
    clf_time,
    encode_body,
    epoch_millis,
    find_header,
    lower_alnum,
    merge_headers,
    multi_values,
    new_uuid,
    now,
    random_chars,
    upper_alnum,
)

#: The request methods API Gateway and ALB deliver (`ANY` is a route, not a method).
METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")

_USER_AGENT = "python-requests/2.32.3"


def _method(method: str) -> str:
    upper = method.upper() if isinstance(method, str) else method
    if upper not in METHODS:
        raise EventError(f"method must be one of {', '.join(METHODS)}, not {method!r}.")
    return str(upper)


def _path(path: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise EventError(f"path must start with '/', not {path!r}.")
    return path


def _trace_header(at: datetime) -> str:
    return f"Root=1-{int(at.timestamp()):08x}-{secrets.token_hex(12)}"


def path_parameters_from(template: str, path: str) -> dict[str, str] | None:
    """Return the values of `{name}` and `{name+}` placeholders of `template` found in `path`.

    Returns None when the template has no placeholders; raises EventError when `path` does
    not match it.
    """
    wanted = template.strip("/").split("/")
    if not any(part.startswith("{") and part.endswith("}") for part in wanted):
        return None
    actual = path.strip("/").split("/")
    values: dict[str, str] = {}
    for index, part in enumerate(wanted):
        if part.startswith("{") and part.endswith("+}"):
            rest = actual[index:]
            if not rest or rest == [""]:
                break
            values[part[1:-2]] = "/".join(rest)
            return values
        if index >= len(actual):
            break
        if part.startswith("{") and part.endswith("}"):
            if not actual[index]:
                break
            values[part[1:-1]] = actual[index]
        elif part != actual[index]:
            break
    else:
        if len(actual) == len(wanted):
            return values
    raise EventError(f"path {path!r} does not match the route template {template!r}.")


def fill_template(template: str, parameters: Mapping[str, str]) -> str:
    """Return `template` with each `{name}` / `{name+}` replaced by its value."""
    parts = []
    for part in template.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].rstrip("+")
            if name not in parameters:
                raise EventError(f"path_parameters has no value for {{{name}}} of {template!r}.")
            parts.append(parameters[name])
        else:
            parts.append(part)
    return "/".join(parts)


def _route(
    template: str | None, path: str | None, path_parameters: Mapping[str, str] | None
) -> tuple[str, dict[str, str] | None]:
    """Return the request path and path parameters from a route template and what was given."""
    if path_parameters is not None:
        if not isinstance(path_parameters, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in path_parameters.items()
        ):
            raise EventError("path_parameters must be a dict of strings to strings.")
        path_parameters = dict(path_parameters)
    if path is None:
        if template is not None and "{" in template and path_parameters is None:
            raise EventError(
                f"The route {template!r} has parameters: pass path= or path_parameters=."
            )
        if template is not None and path_parameters is not None:
            return _path(fill_template(template, path_parameters)), path_parameters or None
        path = template if template is not None and "{" not in template else "/"
    path = _path(path)
    if path_parameters is None and template is not None:
        path_parameters = path_parameters_from(template, path)
    return path, path_parameters or None


def _stage_variables(stage_variables: Mapping[str, str] | None) -> dict[str, str] | None:
    if stage_variables is None:
        return None
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in stage_variables.items()):
        raise EventError("stage_variables must be a dict of strings to strings.")
    return dict(stage_variables) or None


def api_gateway_rest(
    method: str = "GET",
    path: str | None = None,
    *,
    resource: str | None = None,
    path_parameters: Mapping[str, str] | None = None,
    query: Mapping[str, MultiValue] | None = None,
    headers: Mapping[str, MultiValue] | None = None,
    body: Body = None,
    stage: str = "prod",
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    source_ip: str = "198.51.100.1",
    user_agent: str = _USER_AGENT,
    api_id: str = "a1b2c3d4e5",
    request_id: str | None = None,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return an API Gateway REST API proxy event (payload format 1.0).

    `resource` is the route template (`/items/{id}`); path parameters are read from `path`
    against it unless given, and `path` is filled from them when only they are given. Query
    and header values may be lists: `multiValue*` fields get every value, the single-value
    fields the last one, as API Gateway does. A bytes `body` is base64-encoded with
    `isBase64Encoded: true`; a dict or list is sent as JSON. `authorizer` is the
    `requestContext.authorizer` object (a Lambda authorizer's context, or `{"claims": {...}}`).
    """
    method = _method(method)
    path, params = _route(resource, path, path_parameters)
    resource = resource if resource is not None else path
    at = now(time)
    text, is_b64, content_type = encode_body(body)
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    defaults = {
        "Accept": "*/*",
        "Host": domain,
        "User-Agent": user_agent,
        "X-Amzn-Trace-Id": _trace_header(at),
        "X-Forwarded-For": source_ip,
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
    }
    if content_type is not None:
        defaults["Content-Type"] = content_type
    multi_headers = merge_headers(defaults, multi_values(headers, "headers"), lower=False)
    multi_query = multi_values(query, "query")
    context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
    }
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    context.update({
        "domainName": domain,
        "domainPrefix": api_id,
        "extendedRequestId": random_chars(14) + "=",
        "httpMethod": method,
        "identity": {
            "accessKey": None,
            "accountId": None,
            "caller": None,
            "cognitoAuthenticationProvider": None,
            "cognitoAuthenticationType": None,
            "cognitoIdentityId": None,
            "cognitoIdentityPoolId": None,
            "principalOrgId": None,
            "sourceIp": source_ip,
            "user": None,
            "userAgent": find_header(multi_headers, "User-Agent") or user_agent,
            "userArn": None,
        },
        "path": f"/{stage}{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id or new_uuid(),
        "requestTime": clf_time(at),
        "requestTimeEpoch": epoch_millis(at),
        "resourceId": lower_alnum(6),
        "resourcePath": resource,
        "stage": stage,
    })
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": {name: values[-1] for name, values in multi_headers.items()},
        "multiValueHeaders": multi_headers,
        "queryStringParameters": (
            {name: values[-1] for name, values in multi_query.items()} or None
        ),
        "multiValueQueryStringParameters": multi_query or None,
        "pathParameters": params,
        "stageVariables": _stage_variables(stage_variables),
        "requestContext": context,
        "body": text,
        "isBase64Encoded": is_b64,
    }


def _cookie_list(cookies: Mapping[str, str] | Sequence[str] | None) -> list[str]:
    if cookies is None:
        return []
    if isinstance(cookies, Mapping):
        return [f"{name}={value}" for name, value in cookies.items()]
    if isinstance(cookies, str) or not all(isinstance(c, str) for c in cookies):
        raise EventError("cookies must be a dict of names to values or a list of 'name=value'.")
    return list(cookies)


def _payload_v2(
    *,
    method: str,
    path: str,
    route_key: str,
    path_parameters: Mapping[str, str] | None,
    query: Mapping[str, MultiValue] | None,
    headers: Mapping[str, MultiValue] | None,
    cookies: Mapping[str, str] | Sequence[str] | None,
    body: Body,
    stage: str,
    stage_variables: Mapping[str, str] | None,
    authorizer: Mapping[str, Any] | None,
    source_ip: str,
    user_agent: str,
    api_id: str,
    domain: str,
    account_id: str,
    request_id: str | None,
    time: datetime | None,
    extra_headers: Mapping[str, str],
) -> dict[str, Any]:
    at = now(time)
    text, is_b64, content_type = encode_body(body)
    defaults = {
        "accept": "*/*",
        "host": domain,
        "user-agent": user_agent,
        "x-amzn-trace-id": _trace_header(at),
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
        **extra_headers,
    }
    if content_type is not None:
        defaults["content-type"] = content_type
    if text is not None:
        size = len(text.encode()) if not is_b64 else len(text) * 3 // 4 - text.count("=")
        defaults["content-length"] = str(size)
    multi_headers = merge_headers(defaults, multi_values(headers, "headers"), lower=True)
    cookie_list = _cookie_list(cookies)
    for value in multi_headers.pop("cookie", []):
        cookie_list.extend(part.strip() for part in value.split(";") if part.strip())
    multi_query = multi_values(query, "query")
    raw_path = path if stage == "$default" else f"/{stage}{path}"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": urlencode(
            [(name, value) for name, values in multi_query.items() for value in values]
        ),
    }
    if cookie_list:
        event["cookies"] = cookie_list
    event["headers"] = {name: ",".join(values) for name, values in multi_headers.items()}
    if multi_query:
        event["queryStringParameters"] = {
            name: ",".join(values) for name, values in multi_query.items()
        }
    context: dict[str, Any] = {"accountId": account_id, "apiId": api_id}
    if authorizer is not None:
        context["authorizer"] = dict(authorizer)
    context.update({
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": source_ip,
            "userAgent": find_header(multi_headers, "user-agent") or user_agent,
        },
        "requestId": request_id or new_uuid(),
        "routeKey": route_key,
        "stage": stage,
        "time": clf_time(at),
        "timeEpoch": epoch_millis(at),
    })
    event["requestContext"] = context
    if text is not None:
        event["body"] = text
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    event["isBase64Encoded"] = is_b64
    variables = _stage_variables(stage_variables)
    if variables:
        event["stageVariables"] = variables
    return event


def api_gateway_http(
    method: str = "GET",
    path: str | None = None,
    *,
    route_key: str = "$default",
    path_parameters: Mapping[str, str] | None = None,
    query: Mapping[str, MultiValue] | None = None,
    headers: Mapping[str, MultiValue] | None = None,
    cookies: Mapping[str, str] | Sequence[str] | None = None,
    body: Body = None,
    stage: str = "$default",
    stage_variables: Mapping[str, str] | None = None,
    authorizer: Mapping[str, Any] | None = None,
    source_ip: str = "198.51.100.1",
    user_agent: str = _USER_AGENT,
    api_id: str = "a1b2c3d4e5",
    request_id: str | None = None,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return an API Gateway HTTP API event (payload format 2.0).

    `route_key` is `$default` or `"METHOD /template/{param}"`; path parameters come from
    `path` against the template unless given. Header names are lower-cased and repeated
    values joined with commas, as are repeated query values; `Cookie` headers and `cookies`
    become the `cookies` list. `authorizer` is `requestContext.authorizer`, for example
    `{"jwt": {"claims": {...}, "scopes": [...]}}` or `{"lambda": {...}}`.
    """
    method = _method(method)
    template: str | None = None
    if route_key != "$default":
        route_method, _, template = route_key.partition(" ")
        if not template.startswith("/") or route_method.upper() not in (*METHODS, "ANY"):
            raise EventError(
                f"route_key must be '$default' or 'METHOD /path', for example "
                f"'GET /items/{{id}}', not {route_key!r}."
            )
    path, params = _route(template, path, path_parameters)
    domain = f"{api_id}.execute-api.{region}.amazonaws.com"
    return _payload_v2(
        method=method, path=path, route_key=route_key, path_parameters=params, query=query,
        headers=headers, cookies=cookies, body=body, stage=stage,
        stage_variables=stage_variables, authorizer=authorizer, source_ip=source_ip,
        user_agent=user_agent, api_id=api_id, domain=domain, account_id=account_id,
        request_id=request_id, time=time, extra_headers={},
    )


def function_url(
    method: str = "GET",
    path: str = "/",
    *,
    query: Mapping[str, MultiValue] | None = None,
    headers: Mapping[str, MultiValue] | None = None,
    cookies: Mapping[str, str] | Sequence[str] | None = None,
    body: Body = None,
    auth_type: str = "NONE",
    caller_account_id: str = _aws.DEFAULT_ACCOUNT_ID,
    source_ip: str = "198.51.100.1",
    user_agent: str = _USER_AGENT,
    url_id: str | None = None,
    request_id: str | None = None,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
) -> dict[str, Any]:
    """Return a Lambda Function URL request event (payload format 2.0).

    With `auth_type="NONE"` the account id is `anonymous`; with `"AWS_IAM"` the event carries
    the signing caller in `requestContext.authorizer.iam` (account `caller_account_id`).
    """
    method = _method(method)
    path = _path(path)
    if auth_type not in ("NONE", "AWS_IAM"):
        raise EventError(f"auth_type must be 'NONE' or 'AWS_IAM', not {auth_type!r}.")
    url_id = url_id or lower_alnum(32)
    authorizer: dict[str, Any] | None = None
    account = "anonymous"
    if auth_type == "AWS_IAM":
        account = caller_account_id
        user_id = f"AIDA{upper_alnum(17)}"
        authorizer = {"iam": {
            "accessKey": f"AKIA{upper_alnum(16)}",
            "accountId": caller_account_id,
            "callerId": user_id,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": f"arn:aws:iam::{caller_account_id}:user/example-user",
            "userId": user_id,
        }}
    return _payload_v2(
        method=method, path=path, route_key="$default", path_parameters=None, query=query,
        headers=headers, cookies=cookies, body=body, stage="$default", stage_variables=None,
        authorizer=authorizer, source_ip=source_ip, user_agent=user_agent, api_id=url_id,
        domain=f"{url_id}.lambda-url.{region}.on.aws", account_id=account,
        request_id=request_id, time=time,
        extra_headers={
            "x-amzn-tls-cipher-suite": "TLS_AES_128_GCM_SHA256",
            "x-amzn-tls-version": "TLSv1.3",
        },
    )


def alb(
    method: str = "GET",
    path: str = "/",
    *,
    query: Mapping[str, MultiValue] | None = None,
    headers: Mapping[str, MultiValue] | None = None,
    body: Body = None,
    multi_value_headers: bool = False,
    target_group: str = "example-targets",
    source_ip: str = "198.51.100.1",
    user_agent: str = _USER_AGENT,
    time: datetime | None = None,
    region: str = _aws.DEFAULT_REGION,
    account_id: str = _aws.DEFAULT_ACCOUNT_ID,
) -> dict[str, Any]:
    """Return an Application Load Balancer request event for a Lambda target.

    By default it has `headers` and `queryStringParameters` with the last value of each name;
    `multi_value_headers=True` gives the target group's multi-value form instead
    (`multiValueHeaders`, `multiValueQueryStringParameters`). Header names are lower-cased.
    Query names and values arrive percent-encoded, as ALB passes them without decoding.
    """
    method = _method(method)
    path = _path(path)
    at = now(time)
    text, is_b64, content_type = encode_body(body)
    defaults = {
        "accept": "*/*",
        "host": f"example-alb-1234567890.{region}.elb.amazonaws.com",
        "user-agent": user_agent,
        "x-amzn-trace-id": _trace_header(at),
        "x-forwarded-for": source_ip,
        "x-forwarded-port": "443",
        "x-forwarded-proto": "https",
    }
    if content_type is not None:
        defaults["content-type"] = content_type
    multi_headers = merge_headers(defaults, multi_values(headers, "headers"), lower=True)
    multi_query = {
        quote(name, safe=""): [quote(value, safe="") for value in values]
        for name, values in multi_values(query, "query").items()
    }
    event: dict[str, Any] = {
        "requestContext": {"elb": {"targetGroupArn": (
            f"arn:aws:elasticloadbalancing:{region}:{account_id}:targetgroup/{target_group}/"
            f"{secrets.token_hex(8)}"
        )}},
        "httpMethod": method,
        "path": path,
    }
    if multi_value_headers:
        event["multiValueQueryStringParameters"] = multi_query
        event["multiValueHeaders"] = multi_headers
    else:
        event["queryStringParameters"] = {k: v[-1] for k, v in multi_query.items()}
        event["headers"] = {k: v[-1] for k, v in multi_headers.items()}
    event["body"] = text if text is not None else ""
    event["isBase64Encoded"] = is_b64
    return event
