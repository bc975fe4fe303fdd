"""Invariants of the event builders over generated parameters (hypothesis)."""

from __future__ import annotations

import base64
import hashlib
import json
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, unquote_plus

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pytest_lambda import events

FAST = settings(max_examples=60, deadline=None, database=None)

# Header names API Gateway accepts: tokens, never "cookie" (which payload 2.0 moves out).
header_names = st.from_regex(r"\AX-[A-Za-z0-9-]{1,12}\Z")
header_values = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=20)
multi = st.dictionaries(
    header_names,
    st.one_of(header_values, st.lists(header_values, min_size=1, max_size=3)),
    max_size=4,
)
query_values = st.text(max_size=10)
queries = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(query_values, st.lists(query_values, min_size=1, max_size=3)),
    max_size=4,
)


def as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else value


def folded(values: dict[str, Any]) -> dict[str, list[str]]:
    """Case-insensitive merge of a names-to-values dict, as the builders take it."""
    result: dict[str, list[str]] = {}
    for name, value in values.items():
        result.setdefault(name.lower(), []).extend(as_list(value))
    return result


# -- SQS ----------------------------------------------------------------------------------------

attribute_values = st.one_of(
    st.text(min_size=1, max_size=20),
    st.integers(-10**12, 10**12),
    st.binary(min_size=1, max_size=20),
)


@FAST
@given(body=st.text(max_size=200),
       attributes=st.dictionaries(st.from_regex(r"\A[A-Za-z][A-Za-z0-9_]{0,10}\Z"),
                                  attribute_values, max_size=4),
       fifo=st.booleans())
def test_sqs_checksums_match_the_message(body: str, attributes: dict[str, Any],
                                         fifo: bool) -> None:
    queue = "q.fifo" if fifo else "q"
    record = events.sqs(body, queue=queue, message_attributes=attributes)["Records"][0]
    assert record["body"] == body
    assert record["md5OfBody"] == hashlib.md5(body.encode()).hexdigest()
    if attributes:
        assert record["md5OfMessageAttributes"] == events.md5_of_message_attributes(
            record["messageAttributes"]
        )
    for name, value in attributes.items():
        attribute = record["messageAttributes"][name]
        if isinstance(value, bytes):
            assert base64.b64decode(attribute["binaryValue"], validate=True) == value
        else:
            assert attribute["stringValue"] == str(value)
    assert ("SequenceNumber" in record["attributes"]) is fifo


def _independent_md5(attributes: dict[str, Any]) -> str:
    """SQS's documented algorithm, written out again for boto3-style attributes."""
    digest = hashlib.md5()

    def put(data: bytes) -> None:
        digest.update(len(data).to_bytes(4, "big") + data)

    for name in sorted(attributes):
        value = attributes[name]
        put(name.encode())
        if isinstance(value, bytes):
            put(b"Binary")
            digest.update(b"\x02")
            put(value)
        else:
            put(b"String" if isinstance(value, str) else b"Number")
            digest.update(b"\x01")
            put(str(value).encode())
    return digest.hexdigest()


@FAST
@given(attributes=st.dictionaries(st.from_regex(r"\A[a-z]{1,8}\Z"), attribute_values,
                                  min_size=1, max_size=4))
def test_md5_of_message_attributes_follows_the_documented_algorithm(
    attributes: dict[str, Any]
) -> None:
    record = events.sqs(message_attributes=attributes)["Records"][0]
    assert record["md5OfMessageAttributes"] == _independent_md5(attributes)


# -- base64 fields ------------------------------------------------------------------------------


@FAST
@given(payloads=st.lists(st.one_of(st.binary(max_size=50), st.text(max_size=50)),
                         min_size=1, max_size=5))
def test_kinesis_data_decodes_to_the_payload(payloads: list[bytes | str]) -> None:
    records = events.kinesis_batch(payloads)["Records"]
    for record, payload in zip(records, payloads, strict=True):
        raw = payload.encode() if isinstance(payload, str) else payload
        assert base64.b64decode(record["kinesis"]["data"], validate=True) == raw


@FAST
@given(body=st.binary(max_size=300))
def test_binary_http_bodies_decode(body: bytes) -> None:
    for event in (events.api_gateway_rest("POST", "/", body=body),
                  events.api_gateway_http("POST", "/", body=body),
                  events.function_url("POST", "/", body=body),
                  events.alb("POST", "/", body=body)):
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"], validate=True) == body
    http = events.api_gateway_http("POST", "/", body=body)
    assert http["headers"]["content-length"] == str(len(body))
    cloudfront = events.cloudfront_viewer_request(body=body)["Records"][0]["cf"]["request"]
    assert base64.b64decode(cloudfront["body"]["data"], validate=True) == body


@FAST
@given(messages=st.lists(st.text(max_size=80), min_size=1, max_size=5))
def test_cloudwatch_logs_data_decodes(messages: list[str]) -> None:
    document = events.decode_cloudwatch_logs(events.cloudwatch_logs(messages))
    assert [event["message"] for event in document["logEvents"]] == messages
    ids = [event["id"] for event in document["logEvents"]]
    assert len(set(ids)) == len(ids)


@FAST
@given(key=st.text(min_size=1, max_size=60))
def test_s3_keys_decode_to_the_original(key: str) -> None:
    encoded = events.s3_put(key=key)["Records"][0]["s3"]["object"]["key"]
    assert unquote_plus(encoded) == key


# -- headers and query strings --------------------------------------------------------------------


@FAST
@given(headers=multi, query=queries)
def test_rest_single_value_fields_agree_with_multi_value_fields(
    headers: dict[str, Any], query: dict[str, Any]
) -> None:
    event = events.api_gateway_rest(headers=headers, query=query)
    assert set(event["headers"]) == set(event["multiValueHeaders"])
    for name, values in event["multiValueHeaders"].items():
        assert event["headers"][name] == values[-1]
    for name, value in headers.items():
        assert event["multiValueHeaders"][name] == as_list(value)
    if query:
        assert event["multiValueQueryStringParameters"] == {k: as_list(v) for k, v in query.items()}
        assert event["queryStringParameters"] == {k: as_list(v)[-1] for k, v in query.items()}
    else:
        assert event["queryStringParameters"] is event["multiValueQueryStringParameters"] is None


@FAST
@given(headers=multi, query=queries)
def test_http_api_headers_join_repeated_values(headers: dict[str, Any],
                                               query: dict[str, Any]) -> None:
    event = events.api_gateway_http(headers=headers, query=query)
    for name, values in folded(headers).items():
        assert event["headers"][name] == ",".join(values)
    assert all(name == name.lower() for name in event["headers"])
    pairs = [(k, v) for k, values in query.items() for v in as_list(values)]
    assert parse_qsl(event["rawQueryString"], keep_blank_values=True) == pairs
    if query:
        assert event["queryStringParameters"] == {
            k: ",".join(as_list(v)) for k, v in query.items()
        }


@FAST
@given(headers=multi)
def test_alb_single_value_mode_is_the_last_of_multi_value_mode(headers: dict[str, Any]) -> None:
    single = events.alb(headers=headers)
    multi_event = events.alb(headers=headers, multi_value_headers=True)
    assert set(single["headers"]) == set(multi_event["multiValueHeaders"])
    for name, values in folded(headers).items():
        assert multi_event["multiValueHeaders"][name] == values
        assert single["headers"][name] == values[-1]


@FAST
@given(headers=multi)
def test_cloudfront_headers_keep_every_value(headers: dict[str, Any]) -> None:
    request = events.cloudfront_viewer_request(headers=headers)["Records"][0]["cf"]["request"]
    for name, values in folded(headers).items():
        assert [entry["value"] for entry in request["headers"][name]] == values


# -- DynamoDB typed JSON ---------------------------------------------------------------------------

numbers = st.one_of(
    st.integers(-(10**37), 10**37),
    st.decimals(min_value=-(10**20), max_value=10**20, places=6, allow_nan=False,
                allow_infinity=False),
)
leaves = st.one_of(
    st.none(), st.booleans(), numbers, st.text(max_size=20), st.binary(max_size=20),
    st.frozensets(st.text(max_size=10), min_size=1, max_size=4),
    st.frozensets(st.integers(-1000, 1000), min_size=1, max_size=4),
    st.frozensets(st.binary(max_size=10), min_size=1, max_size=4),
)
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.text(min_size=1, max_size=8), children, max_size=4),
    ),
    max_leaves=15,
)
items = st.dictionaries(st.text(min_size=1, max_size=8), values, max_size=6)


@FAST
@given(item=items)
def test_dynamodb_typed_json_round_trips(item: dict[str, Any]) -> None:
    typed = events.to_dynamodb_item(item)
    assert json.loads(json.dumps(typed)) == typed  # plain JSON, as streams deliver it
    assert events.from_dynamodb_item(typed) == item


@FAST
@given(value=st.floats(allow_nan=False, allow_infinity=False, min_value=-1e100, max_value=1e100)
       .filter(lambda f: f == 0 or abs(f) > 1e-120))
def test_dynamodb_floats_come_back_as_equal_decimals(value: float) -> None:
    back = events.from_dynamodb_json(events.to_dynamodb_json(value))
    assert float(back) == value


def _without_binary(value: Any) -> bool:
    if isinstance(value, (bytes, bytearray)):
        return False
    if isinstance(value, (list, frozenset, set)):
        return all(_without_binary(v) for v in value)
    if isinstance(value, dict):
        return all(_without_binary(v) for v in value.values())
    return True


def _sorted_sets(typed: Any) -> Any:
    if isinstance(typed, dict):
        return {k: sorted(v) if k in ("SS", "NS") else _sorted_sets(v) for k, v in typed.items()}
    if isinstance(typed, list):
        return [_sorted_sets(v) for v in typed]
    return typed


@FAST
@given(item=items.filter(_without_binary))
def test_dynamodb_typed_json_matches_boto3(item: dict[str, Any]) -> None:
    """boto3's TypeSerializer/TypeDeserializer are the outside reference (binary aside:
    boto3 holds bytes where the stream's JSON holds base64)."""
    types = pytest.importorskip("boto3.dynamodb.types")
    theirs = {k: types.TypeSerializer().serialize(v) for k, v in item.items()}
    assert _sorted_sets(events.to_dynamodb_item(item)) == _sorted_sets(theirs)
    deserializer = types.TypeDeserializer()
    assert events.from_dynamodb_item(theirs) == {
        k: deserializer.deserialize(v) for k, v in theirs.items()
    }


@FAST
@given(item=items)
def test_dynamodb_stream_images_parse_with_powertools(item: dict[str, Any]) -> None:
    models = pytest.importorskip("aws_lambda_powertools.utilities.parser.models")
    record = {"id": "key-1", **item}
    event = events.dynamodb_insert(record)
    parsed = models.DynamoDBStreamModel.model_validate(event, extra="forbid")
    image = parsed.Records[0].dynamodb.NewImage
    assert set(image) == set(record)
    assert event["Records"][0]["dynamodb"]["SizeBytes"] > 0


def test_decimals_with_exponents_round_trip() -> None:
    for number in (Decimal("1E+5"), Decimal("-0.000"), Decimal("123.4500")):
        assert events.from_dynamodb_json(events.to_dynamodb_json(number)) == number
