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
