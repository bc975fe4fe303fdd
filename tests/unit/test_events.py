"""The event builders, checked against Powertools' parser models and AWS's documented shapes."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
from collections.abc import Callable
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import unquote_plus

import pytest

from pytest_lambda import events
from pytest_lambda.events import EventError

models = pytest.importorskip("aws_lambda_powertools.utilities.parser.models")
pydantic = pytest.importorskip("pydantic")

Gap = tuple[tuple[Any, ...], str]

# Known gaps of the Powertools 3.x parser models: real events these models reject. Each entry
# is (error location, pydantic error type); docs/events.md lists them with the reason.
ALB_MULTI_VALUE_GAPS: frozenset[Gap] = frozenset({
    (("headers",), "missing"),
    (("queryStringParameters",), "missing"),
    (("multiValueHeaders",), "extra_forbidden"),
    (("multiValueQueryStringParameters",), "extra_forbidden"),
})
PRE_TOKEN_V2_GAPS: frozenset[Gap] = frozenset({
    (("request", "scopes"), "dict_type"),
    (("triggerSource",), "extra_forbidden"),
})
REST_LAMBDA_AUTHORIZER_GAPS: frozenset[Gap] = frozenset({
    (("requestContext", "authorizer", "principalId"), "extra_forbidden"),
    (("requestContext", "authorizer", "integrationLatency"), "extra_forbidden"),
    (("requestContext", "authorizer", "tenant"), "extra_forbidden"),
})
TRIGGER_SOURCE_LITERAL_GAP: frozenset[Gap] = frozenset({(("triggerSource",), "literal_error")})
NO_GAPS: frozenset[Gap] = frozenset()

WHEN = datetime(2024, 3, 4, 5, 6, 7, 890000, tzinfo=timezone.utc)

CASES: list[tuple[str, Callable[[], dict[str, Any]], str, frozenset[Gap]]] = [
    ("s3-put", lambda: events.s3_put(), "S3Model", NO_GAPS),
    ("s3-put-body", lambda: events.s3_put("b", "a dir/ü file.txt", body=b"abc",
                                          version_id="v1"), "S3Model", NO_GAPS),
    ("s3-copy", lambda: events.s3_copy(), "S3Model", NO_GAPS),
    ("s3-delete", lambda: events.s3_delete(), "S3Model", NO_GAPS),
    ("s3-delete-marker", lambda: events.s3_delete(delete_marker=True), "S3Model", NO_GAPS),
    ("s3-batch", lambda: events.batch(events.s3_put(key="a"), events.s3_delete(key="b")),
     "S3Model", NO_GAPS),
    ("sqs", lambda: events.sqs(), "SqsModel", NO_GAPS),
    ("sqs-fifo", lambda: events.sqs({"order": 1}, queue="orders.fifo", trace_header="Root=1-x",
                                    message_attributes={"s": "x", "n": 1, "b": b"\x00"}),
     "SqsModel", NO_GAPS),
    ("sqs-batch", lambda: events.sqs_batch(["a", "b", "c"], receive_count=2), "SqsModel",
     NO_GAPS),
    ("sns", lambda: events.sns(), "SnsModel", NO_GAPS),
    ("sns-attributes", lambda: events.sns({"a": 1}, subject="Hi", message_attributes={
        "s": "x", "n": 2.5, "b": b"\x01", "l": ["a", "b"]}), "SnsModel", NO_GAPS),
    ("rest", lambda: events.api_gateway_rest(), "APIGatewayProxyEventModel", NO_GAPS),
    ("rest-full", lambda: events.api_gateway_rest(
        "POST", "/items/42", resource="/items/{id}", query={"tag": ["a", "b"], "q": "x y"},
        headers={"X-Multi": ["1", "2"]}, body=b"\x89PNG", stage_variables={"env": "test"},
        authorizer={"principalId": "user", "integrationLatency": 12, "tenant": "t1"},
    ), "APIGatewayProxyEventModel", REST_LAMBDA_AUTHORIZER_GAPS),
    ("rest-cognito", lambda: events.api_gateway_rest(
        authorizer={"claims": {"sub": "abc"}, "scopes": None}), "APIGatewayProxyEventModel",
     NO_GAPS),
    ("http", lambda: events.api_gateway_http(), "APIGatewayProxyEventV2Model", NO_GAPS),
    ("http-full", lambda: events.api_gateway_http(
        "PUT", "/items/42", route_key="PUT /items/{id}", query={"a": ["1", "2"]},
        headers={"Cookie": "a=1; b=2", "X-Multi": ["1", "2"]}, cookies=["c=3"],
        body={"name": "x"}, stage="prod", stage_variables={"env": "test"},
        authorizer={"jwt": {"claims": {"sub": "abc"}, "scopes": ["read"]}},
    ), "APIGatewayProxyEventV2Model", NO_GAPS),
    ("http-lambda-authorizer", lambda: events.api_gateway_http(
        authorizer={"lambda": {"user": "x"}}), "APIGatewayProxyEventV2Model", NO_GAPS),
    ("function-url", lambda: events.function_url(), "LambdaFunctionUrlModel", NO_GAPS),
    ("function-url-iam", lambda: events.function_url("POST", "/hook", auth_type="AWS_IAM",
                                                     body=b"\x00\x01"),
     "LambdaFunctionUrlModel", NO_GAPS),
    ("alb", lambda: events.alb(), "AlbModel", NO_GAPS),
    ("alb-full", lambda: events.alb("POST", "/x", query={"q": "a b"}, body={"a": 1}),
     "AlbModel", NO_GAPS),
    ("alb-multi", lambda: events.alb(multi_value_headers=True, query={"q": ["1", "2"]}),
     "AlbModel", ALB_MULTI_VALUE_GAPS),
    ("eventbridge", lambda: events.eventbridge({"orderId": "1"}, resources=["arn:aws:x"]),
     "EventBridgeModel", NO_GAPS),
    ("scheduled", lambda: events.scheduled(), "EventBridgeModel", NO_GAPS),
    ("dynamodb-insert", lambda: events.dynamodb_insert(), "DynamoDBStreamModel", NO_GAPS),
    ("dynamodb-modify", lambda: events.dynamodb_modify(
        {"pk": "a", "sk": 1, "n": Decimal("1.5")}, {"pk": "a", "sk": 1, "n": 2, "s": {"x"}},
        key_names=["pk", "sk"]), "DynamoDBStreamModel", NO_GAPS),
    ("dynamodb-remove-ttl", lambda: events.dynamodb_remove(ttl=True), "DynamoDBStreamModel",
     NO_GAPS),
    ("dynamodb-keys-only", lambda: events.dynamodb_insert(stream_view_type="KEYS_ONLY"),
     "DynamoDBStreamModel", NO_GAPS),
    ("kinesis", lambda: events.kinesis(), "KinesisDataStreamModel", NO_GAPS),
    ("kinesis-batch", lambda: events.kinesis_batch([b"\x00\xff", {"a": 1}, "text"]),
     "KinesisDataStreamModel", NO_GAPS),
    ("cloudwatch-logs", lambda: events.cloudwatch_logs(["one", "two"]), "CloudWatchLogsModel",
     NO_GAPS),
    ("pre-sign-up", lambda: events.cognito_pre_sign_up(
        validation_data={"k": "v"}, client_metadata={"m": "1"}),
     "CognitoPreSignupTriggerModel", NO_GAPS),
    ("pre-sign-up-admin", lambda: events.cognito_pre_sign_up(
        trigger_source="PreSignUp_AdminCreateUser"), "CognitoPreSignupTriggerModel",
     TRIGGER_SOURCE_LITERAL_GAP),
    ("post-confirmation", lambda: events.cognito_post_confirmation(),
     "CognitoPostConfirmationTriggerModel", NO_GAPS),
    ("post-confirmation-forgot", lambda: events.cognito_post_confirmation(
        trigger_source="PostConfirmation_ConfirmForgotPassword"),
     "CognitoPostConfirmationTriggerModel", TRIGGER_SOURCE_LITERAL_GAP),
    ("pre-token-v1", lambda: events.cognito_pre_token_generation(groups=["admins"]),
     "CognitoPreTokenGenerationTriggerModelV1", NO_GAPS),
    ("pre-token-v2", lambda: events.cognito_pre_token_generation(version="2"),
     "CognitoPreTokenGenerationTriggerModelV2AndV3", PRE_TOKEN_V2_GAPS),
]


def model_errors(model: Any, event: dict[str, Any], **options: Any) -> set[Gap]:
    """Return the (location, type) of each error the model reports for the event."""
    try:
        model.model_validate(event, **options)
    except pydantic.ValidationError as exc:
        return {(tuple(error["loc"]), error["type"]) for error in exc.errors()}
    return set()


@pytest.mark.parametrize(("build", "model_name", "gaps"),
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_event_validates_against_the_powertools_model(
    build: Callable[[], dict[str, Any]], model_name: str, gaps: frozenset[Gap]
) -> None:
    model = getattr(models, model_name)
    event = build()
    json.dumps(event)  # every event is plain JSON
    lax = model_errors(model, event)
    assert lax <= {gap for gap in gaps if gap[1] != "extra_forbidden"}
    assert model_errors(model, event, extra="forbid") <= gaps


@pytest.mark.parametrize("gaps", [ALB_MULTI_VALUE_GAPS, PRE_TOKEN_V2_GAPS,
                                  REST_LAMBDA_AUTHORIZER_GAPS, TRIGGER_SOURCE_LITERAL_GAP])
def test_every_allow_listed_gap_still_exists(gaps: frozenset[Gap]) -> None:
    """A gap fixed upstream should leave the allow-list, so each one must still show."""
    seen: set[Gap] = set()
    for _, build, model_name, case_gaps in CASES:
        if case_gaps == gaps:
            seen |= model_errors(getattr(models, model_name), build(), extra="forbid")
    assert seen == gaps


def test_every_builder_has_a_model_case_or_a_shape_check() -> None:
    covered = {case[0].split("-")[0] for case in CASES}
    assert {"s3", "sqs", "sns", "rest", "http", "function", "alb", "eventbridge", "scheduled",
            "dynamodb", "kinesis", "cloudwatch", "pre", "post"} <= covered
    assert set(events.BUILDERS) >= {"cloudfront-viewer-request", "cloudfront-origin-request"}


# -- S3 ------------------------------------------------------------------------------------------


def test_s3_key_is_url_encoded_as_s3_sends_it() -> None:
    record = events.s3_put(key="a dir/ü+file.txt")["Records"][0]
    assert record["s3"]["object"]["key"] == "a+dir/%C3%BC%2Bfile.txt"
    assert unquote_plus(record["s3"]["object"]["key"]) == "a dir/ü+file.txt"


def test_s3_put_derives_size_and_etag_from_the_body() -> None:
    obj = events.s3_put(body=b"hello")["Records"][0]["s3"]["object"]
    assert obj["size"] == 5
    assert obj["eTag"] == hashlib.md5(b"hello").hexdigest()


def test_s3_delete_has_no_size_or_etag() -> None:
    record = events.s3_delete(key="k")["Records"][0]
    assert record["eventName"] == "ObjectRemoved:Delete"
    assert set(record["s3"]["object"]) == {"key", "sequencer"}
    marker = events.s3_delete(delete_marker=True)["Records"][0]
    assert marker["eventName"] == "ObjectRemoved:DeleteMarkerCreated"
    assert marker["s3"]["object"]["versionId"]


def test_s3_records_are_consistent() -> None:
    record = events.s3_copy("my-bucket", "k", region="eu-west-1")["Records"][0]
    assert record["eventName"] == "ObjectCreated:Copy"
    assert record["awsRegion"] == "eu-west-1"
    assert record["s3"]["bucket"]["arn"] == "arn:aws:s3:::my-bucket"
    owner = record["s3"]["bucket"]["ownerIdentity"]["principalId"]
    assert record["userIdentity"]["principalId"] == f"AWS:{owner}"


def test_s3_sequencers_grow() -> None:
    first = events.s3_put()["Records"][0]["s3"]["object"]["sequencer"]
    second = events.s3_put()["Records"][0]["s3"]["object"]["sequencer"]
    assert int(second, 16) > int(first, 16)


def test_s3_rejects_a_size_that_disagrees_with_the_body() -> None:
    with pytest.raises(EventError, match="disagrees"):
        events.s3_put(body=b"abc", size=4)


# -- batches, ids and time -------------------------------------------------------------------


def test_batch_joins_records_of_one_source() -> None:
    event = events.batch(events.sqs("a"), events.sqs_batch(["b", "c"]))
    assert [r["body"] for r in event["Records"]] == ["a", "b", "c"]


def test_batch_refuses_mixed_sources() -> None:
    with pytest.raises(EventError, match="several sources"):
        events.batch(events.sqs(), events.s3_put())
    with pytest.raises(EventError, match="Records"):
        events.batch(events.eventbridge())


@pytest.mark.parametrize(("build", "path"), [
    (events.sqs, ("Records", 0, "messageId")),
    (events.sns, ("Records", 0, "Sns", "MessageId")),
    (events.api_gateway_rest, ("requestContext", "requestId")),
    (events.api_gateway_http, ("requestContext", "requestId")),
    (events.eventbridge, ("id",)),
    (events.dynamodb_insert, ("Records", 0, "eventID")),
    (events.kinesis, ("Records", 0, "eventID")),
    (events.cloudfront_viewer_request, ("Records", 0, "cf", "config", "requestId")),
])
def test_ids_are_fresh_on_every_call(build: Callable[[], dict[str, Any]],
                                     path: tuple[Any, ...]) -> None:
    def dig(event: Any) -> Any:
        for step in path:
            event = event[step]
        return event

    assert dig(build()) != dig(build())


def test_events_take_the_time_they_are_given() -> None:
    assert events.s3_put(time=WHEN)["Records"][0]["eventTime"] == "2024-03-04T05:06:07.890Z"
    assert events.eventbridge(time=WHEN)["time"] == "2024-03-04T05:06:07Z"
    attributes = events.sqs(time=WHEN)["Records"][0]["attributes"]
    assert attributes["SentTimestamp"] == str(int(WHEN.timestamp() * 1000))
    context = events.api_gateway_rest(time=WHEN)["requestContext"]
    assert context["requestTime"] == "04/Mar/2024:05:06:07 +0000"
    assert context["requestTimeEpoch"] == int(WHEN.timestamp() * 1000)


def test_events_follow_a_frozen_clock() -> None:
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2030-01-02 03:04:05"):
        assert events.sns()["Records"][0]["Sns"]["Timestamp"] == "2030-01-02T03:04:05.000Z"
        assert events.scheduled()["time"] == "2030-01-02T03:04:05Z"


def test_region_and_account_flow_into_every_arn() -> None:
    options: dict[str, Any] = {"region": "eu-central-1", "account_id": "111122223333"}
    assert events.sqs(**options)["Records"][0]["eventSourceARN"] == (
        "arn:aws:sqs:eu-central-1:111122223333:example-queue"
    )
    assert events.sns(topic="t", **options)["Records"][0]["Sns"]["TopicArn"] == (
        "arn:aws:sns:eu-central-1:111122223333:t"
    )
    assert events.kinesis(**options)["Records"][0]["eventSourceARN"].startswith(
        "arn:aws:kinesis:eu-central-1:111122223333:stream/"
    )
    assert events.scheduled(rule="r", **options)["resources"] == [
        "arn:aws:events:eu-central-1:111122223333:rule/r"
    ]
    assert events.dynamodb_insert(**options)["Records"][0]["eventSourceARN"].startswith(
        "arn:aws:dynamodb:eu-central-1:111122223333:table/example-table/stream/"
    )


# -- SQS and SNS -------------------------------------------------------------------------------


def test_sqs_fifo_fields() -> None:
    record = events.sqs("x", queue="jobs.fifo", message_group_id="g1")["Records"][0]
    attributes = record["attributes"]
    assert attributes["MessageGroupId"] == "g1"
    assert attributes["MessageDeduplicationId"] == hashlib.sha256(b"x").hexdigest()
    assert attributes["SequenceNumber"].isdigit()
    later = events.sqs("y", queue="jobs.fifo")["Records"][0]["attributes"]["SequenceNumber"]
    assert int(later) > int(attributes["SequenceNumber"])


def test_sqs_standard_queue_refuses_a_deduplication_id() -> None:
    with pytest.raises(EventError, match="FIFO"):
        events.sqs(message_deduplication_id="d")


def test_sqs_message_attributes_take_lambda_shape() -> None:
    record = events.sqs(message_attributes={
        "s": "x", "n": 3, "b": b"\x00", "custom": {"DataType": "Number.int", "StringValue": "7"},
    })["Records"][0]
    attributes = record["messageAttributes"]
    assert attributes["s"] == {"stringValue": "x", "stringListValues": [],
                               "binaryListValues": [], "dataType": "String"}
    assert attributes["n"]["dataType"] == "Number"
    assert base64.b64decode(attributes["b"]["binaryValue"]) == b"\x00"
    assert attributes["custom"]["dataType"] == "Number.int"
    assert record["md5OfMessageAttributes"] == events.md5_of_message_attributes(attributes)
    assert "md5OfMessageAttributes" not in events.sqs()["Records"][0]


@pytest.mark.parametrize("value", [True, None, {"DataType": "Bool"}])
def test_sqs_refuses_attributes_sqs_has_no_type_for(value: Any) -> None:
    with pytest.raises(EventError):
        events.sqs(message_attributes={"a": value})


def test_md5_of_message_attributes_matches_moto() -> None:
    """moto implements SQS's MD5 of message attributes; the two must agree."""
    moto = pytest.importorskip("moto")
    boto3 = pytest.importorskip("boto3")
    attributes: dict[str, Any] = {
        "text": {"DataType": "String", "StringValue": "héllo"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "typed": {"DataType": "String.custom", "StringValue": "x"},
    }
    with moto.mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        url = client.create_queue(QueueName="q")["QueueUrl"]
        sent = client.send_message(QueueUrl=url, MessageBody="b", MessageAttributes=attributes)
    record = events.sqs("b", message_attributes=attributes)["Records"][0]
    assert record["md5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert record["md5OfBody"] == sent["MD5OfMessageBody"]


def test_sns_notification_fields() -> None:
    sns = events.sns({"a": 1}, message_attributes={"l": ["x"], "b": b"\x02"})["Records"][0]
    assert sns["EventSubscriptionArn"].startswith(sns["Sns"]["TopicArn"] + ":")
    assert json.loads(sns["Sns"]["Message"]) == {"a": 1}
    assert sns["Sns"]["Subject"] is None
    assert sns["Sns"]["MessageAttributes"]["l"] == {"Type": "String.Array", "Value": '["x"]'}
    assert base64.b64decode(sns["Sns"]["MessageAttributes"]["b"]["Value"]) == b"\x02"


# -- HTTP events ---------------------------------------------------------------------------------


def test_rest_path_parameters_come_from_the_resource() -> None:
    event = events.api_gateway_rest("GET", "/users/7/files/a/b.txt",
                                    resource="/users/{id}/files/{proxy+}")
    assert event["pathParameters"] == {"id": "7", "proxy": "a/b.txt"}
    assert event["resource"] == event["requestContext"]["resourcePath"]
    assert event["requestContext"]["path"] == "/prod/users/7/files/a/b.txt"


def test_rest_path_is_filled_from_path_parameters() -> None:
    event = events.api_gateway_rest(resource="/items/{id}", path_parameters={"id": "9"})
    assert event["path"] == "/items/9"


@pytest.mark.parametrize(("template", "path"), [
    ("/items/{id}", "/users/1"), ("/items/{id}", "/items"), ("/items/{id}", "/items/1/x"),
])
def test_rest_refuses_a_path_that_does_not_match_the_resource(template: str, path: str) -> None:
    with pytest.raises(EventError, match="does not match"):
        events.api_gateway_rest("GET", path, resource=template)


def test_rest_needs_a_path_for_a_parameterised_resource() -> None:
    with pytest.raises(EventError, match="pass path= or path_parameters="):
        events.api_gateway_rest(resource="/items/{id}")


def test_rest_multi_value_fields() -> None:
    event = events.api_gateway_rest(query={"a": ["1", "2"], "b": "3"},
                                    headers={"X-Id": ["p", "q"], "accept": "text/html"})
    assert event["queryStringParameters"] == {"a": "2", "b": "3"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["3"]}
    assert event["multiValueHeaders"]["X-Id"] == ["p", "q"]
    assert event["headers"]["X-Id"] == "q"
    assert event["headers"]["accept"] == "text/html"
    assert "Accept" not in event["headers"]  # the caller's header replaced the default


def test_rest_nulls_where_api_gateway_sends_null() -> None:
    event = events.api_gateway_rest()
    for key in ("queryStringParameters", "multiValueQueryStringParameters", "pathParameters",
                "stageVariables", "body"):
        assert event[key] is None
    assert event["isBase64Encoded"] is False


def test_binary_bodies_are_base64_encoded() -> None:
    rest = events.api_gateway_rest("POST", "/", body=b"\x00\xff")
    assert rest["isBase64Encoded"] is True
    assert base64.b64decode(rest["body"]) == b"\x00\xff"
    http = events.api_gateway_http("POST", "/", body=b"\x00\xff")
    assert http["isBase64Encoded"] is True
    assert http["headers"]["content-length"] == "2"
    assert base64.b64decode(http["body"]) == b"\x00\xff"


def test_json_bodies_get_a_content_type() -> None:
    event = events.api_gateway_rest("POST", "/", body={"a": 1})
    assert json.loads(event["body"]) == {"a": 1}
    assert event["headers"]["Content-Type"] == "application/json"


def test_http_api_v2_shape() -> None:
    event = events.api_gateway_http(
        "POST", "/orders/5", route_key="POST /orders/{id}", query={"a": ["1", "2"]},
        headers={"X-Multi": ["1", "2"], "Cookie": "a=1; b=2"}, cookies={"c": "3"},
    )
    assert event["pathParameters"] == {"id": "5"}
    assert event["headers"]["x-multi"] == "1,2"
    assert "cookie" not in event["headers"]
    assert event["cookies"] == ["c=3", "a=1", "b=2"]
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["rawQueryString"] == "a=1&a=2"
    assert event["requestContext"]["routeKey"] == event["routeKey"] == "POST /orders/{id}"
    assert "body" not in event and "stageVariables" not in event


def test_http_api_named_stage_prefixes_the_raw_path() -> None:
    event = events.api_gateway_http(path="/x", stage="prod")
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == "/prod/x"


def test_http_api_refuses_a_bad_route_key() -> None:
    with pytest.raises(EventError, match="route_key"):
        events.api_gateway_http(route_key="items")


def test_function_url_is_told_apart_from_http_api() -> None:
    """The Powertools models cannot tell these apart; the domain and route key can."""
    url = events.function_url(region="eu-west-1")
    assert url["requestContext"]["domainName"].endswith(".lambda-url.eu-west-1.on.aws")
    assert url["requestContext"]["domainName"].split(".")[0] == url["requestContext"]["apiId"]
    assert url["routeKey"] == url["requestContext"]["stage"] == "$default"
    assert url["requestContext"]["accountId"] == "anonymous"
    assert "pathParameters" not in url
    http = events.api_gateway_http()
    assert http["requestContext"]["domainName"].endswith(".execute-api.us-east-1.amazonaws.com")


def test_function_url_iam_carries_the_caller() -> None:
    url = events.function_url(auth_type="AWS_IAM", caller_account_id="111122223333")
    iam = url["requestContext"]["authorizer"]["iam"]
    assert url["requestContext"]["accountId"] == iam["accountId"] == "111122223333"
    with pytest.raises(EventError, match="auth_type"):
        events.function_url(auth_type="JWT")


def test_alb_single_and_multi_value_modes() -> None:
    single = events.alb(query={"q": ["a b", "c"]}, headers={"X-A": ["1", "2"]})
    assert single["queryStringParameters"] == {"q": "c"}
    assert single["headers"]["x-a"] == "2"
    assert "multiValueHeaders" not in single
    multi = events.alb(query={"q": ["a b", "c"]}, multi_value_headers=True)
    assert multi["multiValueQueryStringParameters"] == {"q": ["a%20b", "c"]}
    assert "headers" not in multi and "queryStringParameters" not in multi
    assert multi["requestContext"]["elb"]["targetGroupArn"].startswith(
        "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/example-targets/"
    )
    assert single["body"] == "" and single["isBase64Encoded"] is False


def test_alb_multi_value_event_folds_to_a_valid_single_value_event() -> None:
    """The AlbModel has no multi-value form: fold it, then the model must accept it."""
    multi = events.alb("POST", "/x", query={"q": ["1", "2"]}, headers={"X": ["a", "b"]},
                       body="hi", multi_value_headers=True)
    folded = dict(multi)
    folded["headers"] = {k: v[-1] for k, v in folded.pop("multiValueHeaders").items()}
    folded["queryStringParameters"] = {
        k: v[-1] for k, v in folded.pop("multiValueQueryStringParameters").items()
    }
    models.AlbModel.model_validate(folded, extra="forbid")


@pytest.mark.parametrize("method", ["ANY", "FETCH", ""])
def test_http_builders_refuse_unknown_methods(method: str) -> None:
    for build in (events.api_gateway_rest, events.api_gateway_http, events.alb,
                  events.function_url):
        with pytest.raises(EventError, match="method"):
            build(method)


def test_http_builders_refuse_relative_paths() -> None:
    with pytest.raises(EventError, match="start with '/'"):
        events.api_gateway_rest("GET", "items")


def test_headers_must_be_strings() -> None:
    with pytest.raises(EventError, match="headers"):
        events.api_gateway_rest(headers={"X": 1})  # type: ignore[dict-item]  # bad on purpose


# -- EventBridge, Kinesis, CloudWatch Logs ---------------------------------------------------


def test_scheduled_event_is_an_eventbridge_rule_event() -> None:
    event = events.scheduled(rule="nightly")
    assert event["source"] == "aws.events"
    assert event["detail-type"] == "Scheduled Event"
    assert event["detail"] == {}
    assert event["version"] == "0"


def test_eventbridge_refuses_a_non_dict_detail() -> None:
    with pytest.raises(EventError, match="detail"):
        events.eventbridge(["x"])  # type: ignore[arg-type]  # not a mapping, on purpose


def test_kinesis_data_is_base64_of_the_payload() -> None:
    record = events.kinesis({"a": 1}, partition_key="p")["Records"][0]
    assert json.loads(base64.b64decode(record["kinesis"]["data"])) == {"a": 1}
    assert record["eventID"].endswith(":" + record["kinesis"]["sequenceNumber"])
    batch = events.kinesis_batch(["a", "b"])["Records"]
    assert int(batch[1]["kinesis"]["sequenceNumber"]) > int(batch[0]["kinesis"]["sequenceNumber"])


def test_cloudwatch_logs_round_trip() -> None:
    event = events.cloudwatch_logs(["first", "second"], log_group="/g", time=WHEN)
    document = events.decode_cloudwatch_logs(event)
    assert document["logGroup"] == "/g"
    assert document["owner"] == "123456789012"
    assert [e["message"] for e in document["logEvents"]] == ["first", "second"]
    assert document["logEvents"][0]["timestamp"] == int(WHEN.timestamp() * 1000)
    assert document["logStream"].startswith("2024/03/04/[$LATEST]")
    parsed = models.CloudWatchLogsModel.model_validate(event)
    assert parsed.awslogs.decoded_data.logEvents[1].message == "second"


def test_decode_cloudwatch_logs_refuses_other_events() -> None:
    with pytest.raises(EventError, match="CloudWatch Logs"):
        events.decode_cloudwatch_logs(events.sqs())


# -- DynamoDB --------------------------------------------------------------------------------------


def test_dynamodb_typed_json() -> None:
    item = {"s": "x", "n": 1, "d": Decimal("1.25"), "f": 0.5, "b": b"\x00", "t": True,
            "null": None, "l": [1, "a"], "m": {"k": "v"}, "ss": {"b", "a"}, "ns": {2, 1},
            "bs": {b"\x01"}}
    typed = events.to_dynamodb_item(item)
    assert typed == {
        "s": {"S": "x"}, "n": {"N": "1"}, "d": {"N": "1.25"}, "f": {"N": "0.5"},
        "b": {"B": "AA=="}, "t": {"BOOL": True}, "null": {"NULL": True},
        "l": {"L": [{"N": "1"}, {"S": "a"}]}, "m": {"M": {"k": {"S": "v"}}},
        "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["1", "2"]}, "bs": {"BS": ["AQ=="]},
    }
    back = events.from_dynamodb_item(typed)
    assert back == {**item, "f": Decimal("0.5")}


@pytest.mark.parametrize("value", [set(), {1, "a"}, float("nan"), float("inf"), object(),
                                   Decimal(10) ** 126, Decimal("1." + "1" * 38)])
def test_dynamodb_refuses_values_it_cannot_store(value: Any) -> None:
    with pytest.raises(EventError):
        events.to_dynamodb_json(value)


def test_dynamodb_images_follow_the_stream_view_type() -> None:
    def change(view: str) -> dict[str, Any]:
        image: dict[str, Any] = events.dynamodb_modify(stream_view_type=view)["Records"][0][
            "dynamodb"]
        return image

    assert {"NewImage", "OldImage"} <= set(change("NEW_AND_OLD_IMAGES"))
    assert "OldImage" not in change("NEW_IMAGE")
    assert "NewImage" not in change("OLD_IMAGE")
    keys_only = change("KEYS_ONLY")
    assert "NewImage" not in keys_only and "OldImage" not in keys_only
    assert keys_only["Keys"] == {"id": {"S": "item-1"}}
    with pytest.raises(EventError, match="stream_view_type"):
        change("ALL")


def test_dynamodb_keys_must_be_in_the_item_and_unchanged() -> None:
    with pytest.raises(EventError, match="no key attribute"):
        events.dynamodb_insert({"name": "x"})
    with pytest.raises(EventError, match="never changes a key"):
        events.dynamodb_modify({"id": "1"}, {"id": "2"})


def test_dynamodb_records_parse_with_powertools_deserializer() -> None:
    item = {"id": "1", "n": Decimal("2.5"), "tags": {"a", "b"}, "nested": {"l": [1, None]}}
    parsed = models.DynamoDBStreamModel.model_validate(events.dynamodb_insert(item))
    assert parsed.Records[0].dynamodb.NewImage == item
    remove = events.dynamodb_remove(ttl=True)["Records"][0]
    assert remove["userIdentity"] == {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    assert "NewImage" not in remove["dynamodb"]


# -- Cognito --------------------------------------------------------------------------------------


def test_cognito_events_are_consistent() -> None:
    event = events.cognito_post_confirmation(user_attributes={"email": "a@b.c"}, region="eu-west-1")
    assert event["userPoolId"].startswith("eu-west-1_")
    assert event["userName"] == event["request"]["userAttributes"]["sub"]
    assert event["request"]["userAttributes"]["email"] == "a@b.c"
    assert event["response"] == {}
    v1 = events.cognito_pre_token_generation()
    assert v1["response"] == {"claimsOverrideDetails": None} and "scopes" not in v1["request"]
    v2 = events.cognito_pre_token_generation(version="2", scopes=["openid"])
    assert v2["request"]["scopes"] == ["openid"]
    assert v2["response"] == {"claimsAndScopeOverrideDetails": None}


def test_cognito_refuses_unknown_trigger_sources_and_non_string_attributes() -> None:
    with pytest.raises(EventError, match="trigger_source"):
        events.cognito_pre_sign_up(trigger_source="SignUp")
    with pytest.raises(EventError, match="strings"):
        events.cognito_pre_sign_up(user_attributes={"age": 3})  # type: ignore[dict-item]  # on purpose
    with pytest.raises(EventError, match="version"):
        events.cognito_pre_token_generation(version="4")


# -- CloudFront (no Powertools model: checked against the documented shape) -----------------------

# The Lambda@Edge request event structure from CloudFront's developer guide ("Lambda@Edge
# event structure"): key -> type, or a nested spec. A trailing "?" marks an optional key.
CONFIG_SPEC = {"distributionDomainName": str, "distributionId": str, "eventType": str,
               "requestId": str}
BODY_SPEC = {"inputTruncated": bool, "action": str, "encoding": str, "data": str}
REQUEST_SPEC = {"body?": BODY_SPEC, "clientIp": str, "headers": dict, "method": str,
                "querystring": str, "uri": str}
S3_ORIGIN_SPEC = {"authMethod": str, "customHeaders": dict, "domainName": str, "path": str,
                  "region": str}
CUSTOM_ORIGIN_SPEC = {"customHeaders": dict, "domainName": str, "keepaliveTimeout": int,
                      "path": str, "port": int, "protocol": str, "readTimeout": int,
                      "sslProtocols": list}


def check_spec(value: Any, spec: dict[str, Any], where: str) -> None:
    assert isinstance(value, dict), where
    required = {k for k in spec if not k.endswith("?")}
    allowed = {k.rstrip("?") for k in spec}
    assert required <= set(value) <= allowed, f"{where}: {sorted(value)}"
    for key, kind in spec.items():
        name = key.rstrip("?")
        if name not in value:
            continue
        if isinstance(kind, dict):
            check_spec(value[name], kind, f"{where}.{name}")
        else:
            assert isinstance(value[name], kind), f"{where}.{name}"


def check_cloudfront(event: dict[str, Any], event_type: str) -> dict[str, Any]:
    assert set(event) == {"Records"} and len(event["Records"]) == 1
    record = event["Records"][0]
    assert set(record) == {"cf"} and set(record["cf"]) == {"config", "request"}
    config, request = record["cf"]["config"], record["cf"]["request"]
    assert isinstance(request, dict)
    check_spec(config, CONFIG_SPEC, "config")
    assert config["eventType"] == event_type
    assert config["distributionDomainName"].endswith(".cloudfront.net")
    assert config["distributionId"].startswith("E") and config["distributionId"].isupper()
    spec = dict(REQUEST_SPEC)
    if event_type == "origin-request":
        spec["origin"] = dict
    check_spec(request, spec, "request")
    ipaddress.ip_address(request["clientIp"])
    assert request["uri"].startswith("/")
    assert request["method"].isupper()
    for name, entries in request["headers"].items():
        assert name == name.lower()
        assert entries and all(set(e) == {"key", "value"} for e in entries)
        assert all(e["key"].lower() == name and isinstance(e["value"], str) for e in entries)
    host = request["headers"]["host"][0]["value"]
    assert host == config["distributionDomainName"]
    if "body" in request:
        assert request["body"]["action"] == "read-only"
        assert request["body"]["encoding"] == "base64"
    return request


def test_cloudfront_viewer_request_shape() -> None:
    event = events.cloudfront_viewer_request(
        "/img.png", querystring={"size": ["l", "m"]}, headers={"Accept-Language": ["en", "fr"]},
        body="payload",
    )
    request = check_cloudfront(event, "viewer-request")
    assert request["querystring"] == "size=l&size=m"
    assert request["headers"]["accept-language"] == [
        {"key": "Accept-Language", "value": "en"}, {"key": "Accept-Language", "value": "fr"},
    ]
    assert base64.b64decode(request["body"]["data"]) == b"payload"
    assert request["body"]["inputTruncated"] is False
    assert "origin" not in request


def test_cloudfront_viewer_body_is_truncated_at_40_kb() -> None:
    request = events.cloudfront_viewer_request(body=b"x" * (40 * 1024 + 1))["Records"][0]
    body = request["cf"]["request"]["body"]
    assert body["inputTruncated"] is True
    assert len(base64.b64decode(body["data"])) == 40 * 1024


@pytest.mark.parametrize(("origin", "spec"), [("s3", S3_ORIGIN_SPEC),
                                              ("custom", CUSTOM_ORIGIN_SPEC)])
def test_cloudfront_origin_request_shape(origin: str, spec: dict[str, Any]) -> None:
    event = events.cloudfront_origin_request("/a", origin=origin, querystring="?x=1")
    request = check_cloudfront(event, "origin-request")
    assert set(request["origin"]) == {origin}
    check_spec(request["origin"][origin], spec, f"origin.{origin}")
    assert request["querystring"] == "x=1"
    assert request["headers"]["via"][0]["value"].endswith(".cloudfront.net (CloudFront)")
    assert request["headers"]["x-forwarded-for"][0]["value"] == request["clientIp"]


def test_cloudfront_refuses_bad_input() -> None:
    with pytest.raises(EventError, match="uri"):
        events.cloudfront_viewer_request("img.png")
    with pytest.raises(EventError, match="origin"):
        events.cloudfront_origin_request(origin="ftp")
