"""Shared warm environments by default, fresh ones per test when asked (pytester)."""

from __future__ import annotations

import sys

import pytest

from pytest_lambda import BackendName

COUNTER_APP = """\
STATE = {}

def handler(event, context):
    if "set" in event:
        STATE["value"] = event["set"]
    return {"value": STATE.get("value")}
"""

SUITE = """\
from pathlib import Path

import pytest

FN = Path(__file__).parent / "fn"
{marker}

def make(lambda_function):
    # A generous timeout: a loaded CI machine must not turn the test into a timeout.
    return lambda_function("app.handler", code=FN, runtime="python3.13", timeout=60)


def test_1_sets_state(lambda_function):
    result = make(lambda_function).invoke({{"set": "from test 1"}})
    assert result.cold_start and result.payload == {{"value": "from test 1"}}


def test_2_reads_state(lambda_function):
    result = make(lambda_function).invoke({{}})
    assert result.ok, result.payload
    print("SAW", result.payload["value"], "cold" if result.cold_start else "warm")
"""


#: The process backend runs a Python runtime on an interpreter of its version: the host's.
HOST_PYTHON = "python{}.{}".format(*sys.version_info[:2])


def _on_backend(pytester: pytest.Pytester, backend: BackendName) -> None:
    """Point the suite's functions at a runtime `backend` serves here (the host's Python on the
    process backend, which needs an interpreter of the runtime's version)."""
    if backend == "process":
        for path in pytester.path.glob("*.py"):
            path.write_text(path.read_text().replace('"python3.13"', f'"{HOST_PYTHON}"'))


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTEST_LAMBDA_LOGS", "PYTEST_LAMBDA_ISOLATION", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)


def _suite(pytester: pytest.Pytester, marker: str = "") -> None:
    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(COUNTER_APP)
    pytester.makepyfile(test_user=SUITE.format(marker=marker))


def _saw(pytester: pytest.Pytester, backend: BackendName, *args: str) -> str:
    _on_backend(pytester, backend)
    result = pytester.runpytest_subprocess(f"--lambda-backend={backend}", "-p", "no:cacheprovider",
                                           "-s", *args, timeout=300)
    result.assert_outcomes(passed=2)
    (line,) = [line for line in result.outlines if "SAW " in line]
    return line[line.index("SAW "):]


def test_by_default_test_2_sees_the_state_test_1_left(
    pytester: pytest.Pytester, backend: BackendName
) -> None:
    _suite(pytester)
    assert _saw(pytester, backend) == "SAW from test 1 warm"


def test_per_test_gives_test_2_a_fresh_environment(
    pytester: pytest.Pytester, backend: BackendName
) -> None:
    _suite(pytester)
    assert _saw(pytester, backend, "--lambda-isolation=per-test") == "SAW None cold"


def test_the_variable_and_the_ini_key(pytester: pytest.Pytester,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    _suite(pytester)
    pytester.makeini("[pytest]\nlambda_isolation = per-test\n")
    assert _saw(pytester, "process") == "SAW None cold"
    monkeypatch.setenv("PYTEST_LAMBDA_ISOLATION", "shared")
    assert _saw(pytester, "process") == "SAW from test 1 warm"


def test_a_module_marker_chooses_per_test(pytester: pytest.Pytester) -> None:
    _suite(pytester, marker='pytestmark = pytest.mark.lambda_isolation("per-test")')
    assert _saw(pytester, "process") == "SAW None cold"


def test_the_closest_marker_wins(pytester: pytest.Pytester) -> None:
    # The module asks for per-test, test 2 alone for shared: test 1's environment was discarded
    # at its end, so test 2 starts cold even though it shares.
    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(COUNTER_APP)
    pytester.makepyfile(test_user=SUITE.format(marker="") + """

@pytest.mark.lambda_isolation("shared")
def test_3_shares(lambda_function):
    make(lambda_function).invoke({"set": "from test 3"})


@pytest.mark.lambda_isolation(mode="shared")
def test_4_shares_too(lambda_function):
    result = make(lambda_function).invoke({})
    print("SAW4", result.payload["value"])


@pytest.mark.lambda_isolation("per-test")
def test_5_does_not(lambda_function):
    result = make(lambda_function).invoke({})
    print("SAW5", result.payload["value"])
""")
    _on_backend(pytester, "process")
    result = pytester.runpytest_subprocess("--lambda-backend=process", "--lambda-isolation",
                                           "per-test", "-s", "-p", "no:cacheprovider",
                                           timeout=300)
    result.assert_outcomes(passed=5)
    result.stdout.fnmatch_lines(["*SAW None cold*", "*SAW4 from test 3*", "*SAW5 None*"])


def test_a_bad_marker_says_what_to_pass(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.lambda_isolation("fresh")
        def test_x():
            pass
        """
    )
    result = pytester.runpytest_subprocess("--lambda-backend=process", "--strict-markers")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([
        "*@pytest.mark.lambda_isolation('fresh') is not valid: pass one of 'shared', "
        "'per-test'.",
    ])
    assert "Traceback" not in result.stdout.str()


PROVISIONED_SUITE = """
import os
from pathlib import Path

FN = Path(__file__).parent / "fn"


def test_provisioned_environments_made_in_the_test_serve_it(lambda_function):
    fn = lambda_function("app.handler", code=FN, runtime="python3.13", timeout=60)
    fn.invoke({"set": "left by an earlier invocation"})
    version = fn.publish_version()
    version.set_provisioned_concurrency(1)
    result = version.invoke({})
    # The environment provisioned here serves the invocation: warm, and not an earlier one's.
    assert not result.cold_start and result.payload == {"value": None}, result.logs
"""


def test_per_test_keeps_the_provisioned_environments_the_test_made(
        pytester: pytest.Pytester) -> None:
    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(COUNTER_APP)
    pytester.makepyfile(test_user=PROVISIONED_SUITE)
    _on_backend(pytester, "process")
    result = pytester.runpytest_subprocess("--lambda-backend=process", "--lambda-isolation",
                                           "per-test", "-p", "no:cacheprovider", timeout=300)
    result.assert_outcomes(passed=1)
