"""The `lambda_api` fixture and the `async_delay_scale` setting as a user's suite meets them."""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

USER_TEST = '''
import json


def test_api(lambda_function, lambda_api, lambda_service, tmp_path):
    (tmp_path / "app.py").write_text(
        "def handler(event, context):\\n"
        "    if event.get('fail'):\\n"
        "        raise ValueError('no')\\n"
        "    return event\\n"
    )
    fn = lambda_function("app.handler", code=tmp_path, runtime=RUNTIME, name="orders",
                         backend="process")
    answer = lambda_api.client().invoke(FunctionName="orders", Payload=b'{"a": 1}')
    assert json.loads(answer["Payload"].read()) == {"a": 1}
    assert lambda_service.async_delay_scale == 0.001
    fn.invoke_async({"fail": True})
    (result,) = lambda_api.wait_for_async(timeout=60)
    assert result.condition == "RetriesExhausted" and result.invoke_count == 3
'''


def test_the_fixture_and_the_delay_scale_from_the_command_line(pytester: pytest.Pytester
                                                               ) -> None:
    import sys

    runtime = "python{}.{}".format(*sys.version_info[:2])
    pytester.makepyfile(USER_TEST.replace("RUNTIME", repr(runtime)))
    result = pytester.runpytest_subprocess("--lambda-backend=process",
                                           "--lambda-async-delay-scale=0.001")
    result.assert_outcomes(passed=1)
    assert ("lambda: asynchronous retry waits and event ages at 0.001 of Lambda's "
            "(from --lambda-async-delay-scale)") in result.outlines


@pytest.mark.parametrize("value", ["2", "-0.5", "fast"])
def test_a_bad_delay_scale_is_a_one_line_usage_error(pytester: pytest.Pytester,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     value: str) -> None:
    pytester.makepyfile("def test_ok(): pass")
    monkeypatch.setenv("PYTEST_LAMBDA_ASYNC_DELAY_SCALE", value)
    result = pytester.runpytest_subprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert f"PYTEST_LAMBDA_ASYNC_DELAY_SCALE: {value!r} is not a delay scale" in output
    assert "Traceback" not in output


ACCOUNT_TEST = '''
import threading
import time

import pytest

from pytest_lambda import TooManyRequestsException


def test_account(lambda_function, lambda_api, lambda_service, tmp_path):
    (tmp_path / "app.py").write_text(
        "import time\\n"
        "def handler(event, context):\\n"
        "    time.sleep(event.get('sleep', 0))\\n"
        "    return event\\n"
    )
    slow = lambda_function("app.handler", code=tmp_path, runtime=RUNTIME, name="slow",
                           backend="process")
    other = lambda_function("app.handler", code=tmp_path, runtime=RUNTIME, name="other",
                            backend="process")
    assert lambda_service.registry.account_concurrency == 1
    limit = lambda_api.client().get_account_settings()["AccountLimit"]
    assert limit["ConcurrentExecutions"] == 1
    other.invoke({})  # warm, so that the slow one's cold start is all the test waits for
    busy = threading.Thread(target=slow.invoke, args=({"sleep": 3},))
    busy.start()
    try:
        end = time.monotonic() + 60
        while lambda_service.registry.account_usage().in_flight == 0:
            assert time.monotonic() < end
            time.sleep(0.01)
        with pytest.raises(TooManyRequestsException) as exc:
            other.invoke({})
        assert exc.value.reason == "ConcurrentInvocationLimitExceeded"
    finally:
        busy.join()
    assert other.invoke({"a": 1}).payload == {"a": 1}
'''


def test_the_account_concurrency_from_the_ini_file_throttles_the_unreserved_pool(
    pytester: pytest.Pytester,
) -> None:
    import sys

    runtime = "python{}.{}".format(*sys.version_info[:2])
    pytester.makepyfile(ACCOUNT_TEST.replace("RUNTIME", repr(runtime)))
    pytester.makeini("[pytest]\nlambda_account_concurrency = 1\n")
    result = pytester.runpytest_subprocess("--lambda-backend=process")
    result.assert_outcomes(passed=1)
    assert ("lambda: account concurrency=1 (from ini lambda_account_concurrency): the "
            "functions without reserved concurrency share what reservations leave"
            ) in result.outlines


@pytest.mark.parametrize("value", ["0", "-5", "lots", "2.5"])
def test_a_bad_account_concurrency_is_a_one_line_usage_error(pytester: pytest.Pytester,
                                                             value: str) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess(f"--lambda-account-concurrency={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert (f"--lambda-account-concurrency: {value!r} is not an account concurrency: write a "
            f"whole number from 1 to 1,000,000") in output
    assert "Traceback" not in output


def test_the_default_account_concurrency_says_nothing_in_the_header(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--lambda-backend=process")
    result.assert_outcomes(passed=1)
    assert not [line for line in result.outlines if "account concurrency" in line]
