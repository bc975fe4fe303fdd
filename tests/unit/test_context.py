"""LambdaContext: the real runtime's attributes and types, and a countdown freezegun can move."""

from __future__ import annotations

import inspect
import re
import time

import pytest

from pytest_lambda import LambdaContext
from pytest_lambda.config.names import (
    DEFAULT_ACCOUNT_ID,
    DEFAULT_REGION,
    function_arn,
    log_stream_name,
)

LOG_STREAM = re.compile(r"^\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}$")


def test_defaults_match_the_real_runtime() -> None:
    context = LambdaContext()
    assert context.function_name == "test-function"
    assert context.function_version == "$LATEST"
    assert context.memory_limit_in_mb == "128"
    assert context.invoked_function_arn == (
        "arn:aws:lambda:us-east-1:123456789012:function:test-function"
    )
    assert context.log_group_name == "/aws/lambda/test-function"
    assert LOG_STREAM.match(context.log_stream_name)
    assert context.identity.cognito_identity_id is None
    assert context.identity.cognito_identity_pool_id is None
    assert context.client_context is None
    assert context.tenant_id is None
    assert context.w3c() == {}


def test_attributes_agree_with_awslambdaric() -> None:
    """The real runtime's context is the reference for names and types."""
    awslambdaric = pytest.importorskip("awslambdaric.lambda_context")
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": "f", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/f",
        "AWS_LAMBDA_LOG_STREAM_NAME": "s",
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        real = awslambdaric.LambdaContext(
            "id-1", {"client": {"app_title": "t"}, "custom": {"a": 1}, "env": {"e": 2},
                     "w3c": {"traceparent": "00-x", "other": "dropped"}},
            {"cognitoIdentityId": "i", "cognitoIdentityPoolId": "p"},
            int(time.time() * 1000) + 5000, "arn:aws:lambda:us-east-1:1:function:f", "tenant",
        )
    ours = LambdaContext(
        function_name="f", memory_limit_in_mb=512, aws_request_id="id-1", timeout=5,
        invoked_function_arn="arn:aws:lambda:us-east-1:1:function:f", log_stream_name="s",
        identity={"cognitoIdentityId": "i", "cognitoIdentityPoolId": "p"},
        client_context={"client": {"app_title": "t"}, "custom": {"a": 1}, "env": {"e": 2},
                        "w3c": {"traceparent": "00-x", "other": "dropped"}},
        tenant_id="tenant",
    )
    for name in ("aws_request_id", "log_group_name", "log_stream_name", "function_name",
                 "memory_limit_in_mb", "function_version", "invoked_function_arn", "tenant_id"):
        assert getattr(ours, name) == getattr(real, name), name
        assert type(getattr(ours, name)) is type(getattr(real, name)), name
    assert ours.identity.cognito_identity_id == real.identity.cognito_identity_id
    assert ours.identity.cognito_identity_pool_id == real.identity.cognito_identity_pool_id
    assert ours.client_context is not None and real.client_context is not None
    assert ours.client_context.custom == real.client_context.custom
    assert ours.client_context.env == real.client_context.env
    assert ours.client_context.client is not None
    assert ours.client_context.client.app_title == real.client_context.client.app_title
    assert ours.client_context.client.installation_id is None
    assert ours.w3c() == real.w3c() == {"traceparent": "00-x"}
    assert abs(ours.get_remaining_time_in_millis() - real.get_remaining_time_in_millis()) < 50
    public = {n for n in dir(real) if not n.startswith("_")}
    assert public <= {n for n in dir(ours) if not n.startswith("_")}
    assert repr(ours).startswith("LambdaContext([aws_request_id=id-1,")


def test_each_context_gets_a_fresh_request_id() -> None:
    assert LambdaContext().aws_request_id != LambdaContext().aws_request_id


def test_powertools_logger_accepts_it() -> None:
    """Powertools' inject_lambda_context reads these attributes; it must build its model."""
    lambda_context = pytest.importorskip("aws_lambda_powertools.logging.lambda_context")
    model = lambda_context.build_lambda_context_model(LambdaContext(function_name="orders"))
    assert model.function_name == "orders"
    assert model.function_memory_size == "128"


def test_remaining_time_counts_down_and_stops_at_zero() -> None:
    context = LambdaContext(timeout=0.05)
    first = context.get_remaining_time_in_millis()
    assert isinstance(first, int)
    assert 0 < first <= 50
    time.sleep(0.06)
    assert context.get_remaining_time_in_millis() == 0


def test_remaining_time_follows_a_frozen_clock() -> None:
    freezegun = pytest.importorskip("freezegun")
    with freezegun.freeze_time("2024-01-01 00:00:00") as frozen:
        context = LambdaContext(timeout=3)
        assert context.get_remaining_time_in_millis() == 3000
        time.sleep(0.01)  # real time passes; the frozen clock does not
        assert context.get_remaining_time_in_millis() == 3000
        frozen.tick(1.25)
        assert context.get_remaining_time_in_millis() == 1750
        frozen.tick(5)
        assert context.get_remaining_time_in_millis() == 0


def test_log_writes_to_stdout(capsys: pytest.CaptureFixture[str]) -> None:
    LambdaContext().log("hello")
    assert capsys.readouterr().out == "hello"


def test_region_and_account_shape_the_arn() -> None:
    context = LambdaContext(function_name="f", region="eu-west-1", account_id="111122223333")
    assert context.invoked_function_arn == "arn:aws:lambda:eu-west-1:111122223333:function:f"


def test_aws_helpers() -> None:
    assert DEFAULT_REGION == "us-east-1" and DEFAULT_ACCOUNT_ID == "123456789012"
    assert function_arn("f") == "arn:aws:lambda:us-east-1:123456789012:function:f"
    assert function_arn("f", "eu-west-1", "1", "live") == (
        "arn:aws:lambda:eu-west-1:1:function:f:live"
    )
    assert log_stream_name(0).startswith("1970/01/01/[$LATEST]")
    assert LOG_STREAM.match(log_stream_name())
    assert log_stream_name() != log_stream_name()


def test_lambda_context_fixture_is_a_documented_pytest_fixture() -> None:
    from pytest_lambda.plugin import fixtures

    fixture = fixtures.lambda_context
    doc = inspect.getdoc(fixture) or ""
    assert doc.startswith("Return a fresh")


def test_lambda_context_fixture(pytester: pytest.Pytester) -> None:
    pytester.makeconftest("from pytest_lambda.plugin.fixtures import lambda_context\n")
    pytester.makepyfile("""
        from pytest_lambda import LambdaContext

        def handler(event, context):
            return context.get_remaining_time_in_millis()

        def test_it(lambda_context):
            assert isinstance(lambda_context, LambdaContext)
            assert 0 < handler({}, lambda_context) <= 3000
    """)
    result = pytester.runpytest_inprocess(
        "-p", "no:lambda", "-p", "no:cacheprovider", "-p", "no:xdist", "-p", "no:benchmark"
    )
    result.assert_outcomes(passed=1)
