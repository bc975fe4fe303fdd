"""Reading handlers' HTTP responses the way API Gateway, ALB and Function URLs read them."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from pytest_lambda import LambdaHarnessError
from pytest_lambda.events import InvalidProxyResponseError, parse_proxy_response

ALL = ["api_gateway_rest", "api_gateway_http", "function_url", "alb"]


@pytest.mark.parametrize("source", ALL)
def test_json_body_is_decoded(source: str) -> None:
    response = parse_proxy_response(
        {"statusCode": 201, "headers": {"Content-Type": "application/json"},
         "body": json.dumps({"id": 1})},
        source,
    )
    assert response.status_code == 201
    assert response.body == {"id": 1}
    assert response.headers == {"content-type": "application/json"}
    assert response.text == '{"id": 1}'


@pytest.mark.parametrize("source", ALL)
def test_base64_body_is_decoded(source: str) -> None:
    response = parse_proxy_response(
        {"statusCode": 200, "headers": {"content-type": "image/png"},
         "body": base64.b64encode(b"\x89PNG\xff").decode(), "isBase64Encoded": True},
        source,
    )
    assert response.body == b"\x89PNG\xff"
    assert response.raw_body == b"\x89PNG\xff"
    assert response.is_base64_encoded


def test_text_body_stays_text() -> None:
    response = parse_proxy_response(
        {"statusCode": 200, "headers": {"Content-Type": "text/plain"}, "body": "[1]"}
    )
    assert response.body == "[1]"
    assert parse_proxy_response({"statusCode": 204}).body == ""


def test_multi_value_headers_are_folded_and_win_over_headers() -> None:
    response = parse_proxy_response({
        "statusCode": 200,
        "headers": {"X-A": "single", "X-B": "b"},
        "multiValueHeaders": {"X-A": ["1", "2"], "Set-Cookie": ["a=1", "b=2"]},
        "body": "",
    })
    assert response.headers == {"x-a": "1, 2", "x-b": "b"}
    assert response.multi_value_headers["x-a"] == ["1", "2"]
    assert response.cookies == ["a=1", "b=2"]


@pytest.mark.parametrize("source", ["api_gateway_http", "function_url"])
def test_payload_v2_cookies(source: str) -> None:
    response = parse_proxy_response(
        {"statusCode": 200, "cookies": ["s=1; Path=/"], "headers": {"set-cookie": "t=2"}},
        source,
    )
    assert response.cookies == ["t=2", "s=1; Path=/"]
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize("source", ["api_gateway_http", "function_url"])
@pytest.mark.parametrize("value", [{"message": "hi"}, [1, 2], "text", 3, None])
def test_payload_v2_infers_a_json_response(source: str, value: Any) -> None:
    response = parse_proxy_response(value, source)
    assert response.status_code == 200
    assert response.headers == {"content-type": "application/json"}
    assert response.body == value


@pytest.mark.parametrize(("response", "problem"), [
    ([1], "not an object"),
    ("ok", "not an object"),
    ({"body": "x"}, "statusCode is None"),
    ({"statusCode": "200"}, "statusCode is '200'"),
    ({"statusCode": True}, "statusCode is True"),
    ({"statusCode": 700}, "not an HTTP status"),
    ({"statusCode": 200, "body": {"a": 1}}, "body is a dict"),
    ({"statusCode": 200, "headers": ["x"]}, "headers is a list"),
    ({"statusCode": 200, "headers": {"x": None}}, "holds None"),
    ({"statusCode": 200, "multiValueHeaders": {"x": "1"}}, "not a list"),
    ({"statusCode": 200, "isBase64Encoded": "yes"}, "isBase64Encoded"),
    ({"statusCode": 200, "isBase64Encoded": True, "body": "not base64!"}, "not base64"),
    ({"statusCode": 200, "message": "extra"}, "unexpected keys"),
])
def test_rest_rejects_what_api_gateway_answers_502_to(response: Any, problem: str) -> None:
    with pytest.raises(InvalidProxyResponseError, match="502") as info:
        parse_proxy_response(response, "api_gateway_rest")
    assert problem in str(info.value)
    assert isinstance(info.value, LambdaHarnessError)
    assert str(info.value).count(". ") == 0  # one sentence


@pytest.mark.parametrize("source", ["alb", "api_gateway_http"])
def test_other_sources_reject_malformed_structured_responses(source: str) -> None:
    with pytest.raises(InvalidProxyResponseError, match="statusCode"):
        parse_proxy_response({"statusCode": "x"}, source)
    with pytest.raises(InvalidProxyResponseError, match="body is a list"):
        parse_proxy_response({"statusCode": 200, "body": [1]}, source)


def test_alb_ignores_keys_it_does_not_use() -> None:
    response = parse_proxy_response(
        {"statusCode": 404, "statusDescription": "404 Not Found", "body": "no"}, "alb"
    )
    assert response.status_code == 404


def test_payload_v2_rejects_bad_cookies_and_bytes() -> None:
    with pytest.raises(InvalidProxyResponseError, match="cookies"):
        parse_proxy_response({"statusCode": 200, "cookies": "a=1"}, "api_gateway_http")
    with pytest.raises(InvalidProxyResponseError, match="bytes"):
        parse_proxy_response(b"raw", "function_url")


def test_unknown_source_is_a_harness_error() -> None:
    with pytest.raises(LambdaHarnessError, match="source must be one of"):
        parse_proxy_response({"statusCode": 200}, "nlb")
