"""Lambda logs in test reports: terminal sections, -rA, the setting, JUnit XML (pytester)."""

from __future__ import annotations

import re
import sys
import xml.etree.ElementTree as ET

import pytest

from pytest_lambda import BackendName

APP = """\
import os

def handler(event, context):
    print("handling", event.get("name"), "in", os.environ["AWS_LAMBDA_FUNCTION_NAME"])
    if event.get("fail"):
        raise ZeroDivisionError("division by zero")
    return {"hello": event.get("name")}
"""


#: The process backend runs a Python runtime on an interpreter of its version: the host's.
HOST_PYTHON = "python{}.{}".format(*sys.version_info[:2])


def _on_backend(pytester: pytest.Pytester, backend: BackendName) -> None:
    """Point the suite's functions at a runtime `backend` serves here (the host's Python on the
    process backend, which needs an interpreter of the runtime's version)."""
    if backend == "process":
        for path in pytester.path.glob("*.py"):
            path.write_text(path.read_text().replace('"python3.13"', f'"{HOST_PYTHON}"'))

USER_TESTS = """\
from pathlib import Path

import pytest

FN = Path(__file__).parent / "fn"


@pytest.fixture
def greeter(lambda_function):
    fn = lambda_function("app.handler", code=FN, runtime="python3.13", name="greeter",
                         timeout=60)
    fn.invoke({"name": "from-setup"})
    return fn


def test_fails(greeter):
    result = greeter.invoke({"name": "ada"})
    print("REQUEST", result.request_id)
    assert greeter.invoke({"name": "bob", "fail": True}).ok


def test_passes(greeter):
    result = greeter.invoke({"name": "cy"})
    print("REQUEST", result.request_id)
    assert result.ok


def test_no_invocations():
    pass
"""


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTEST_LAMBDA_LOGS", "PYTEST_LAMBDA_ISOLATION", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)


def _suite(pytester: pytest.Pytester) -> None:
    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(APP)
    pytester.makepyfile(test_user=USER_TESTS)


def _run(pytester: pytest.Pytester, backend: BackendName, *args: str) -> pytest.RunResult:
    _on_backend(pytester, backend)
    return pytester.runpytest_subprocess(f"--lambda-backend={backend}", "-p", "no:cacheprovider",
                                         *args, timeout=300)


def _request_ids(result: pytest.RunResult) -> list[str]:
    return re.findall(r"^REQUEST (\S+)$", result.stdout.str(), re.MULTILINE)


def _section(text: str, title: str) -> str:
    """Return the text of the terminal section `--- title ---` up to the next separator line."""
    match = re.search(rf"^-+ {re.escape(title)} -+\n(.*?)(?=^[-=_]{{5,}})", text,
                      re.MULTILINE | re.DOTALL)
    assert match, f"no section {title!r} in:\n{text}"
    return match.group(1)


def test_a_failing_test_shows_each_invocation_of_each_phase(
    pytester: pytest.Pytester, backend: BackendName
) -> None:
    _suite(pytester)
    result = _run(pytester, backend, "-k", "fails")
    result.assert_outcomes(failed=1, deselected=2)
    out = result.stdout.str()
    setup = _section(out, "Captured Lambda logs setup")
    call = _section(out, "Captured Lambda logs call")
    assert re.match(
        rf"\[1\] greeter \({backend}\) RequestId: \S+: ok \(cold start, [\d.]+ ms\)\n"
        r"INIT_START .*\nSTART RequestId: \S+ Version: \$LATEST\n"
        r"handling from-setup in greeter\n", setup), setup
    (ok_id,) = _request_ids(result)
    assert re.search(
        rf"^\[1\] greeter \({backend}\) RequestId: {ok_id}: ok \(warm, [\d.]+ ms\)\n"
        rf"START RequestId: {ok_id} Version: \$LATEST\nhandling ada in greeter\n"
        rf"END RequestId: {ok_id}\nREPORT RequestId: {ok_id}\tDuration: ", call, re.MULTILINE)
    assert re.search(
        rf"^\[2\] greeter \({backend}\) RequestId: \S+: Unhandled ZeroDivisionError: division by "
        r"zero \(warm, [\d.]+ ms\)\nSTART RequestId: ", call, re.MULTILINE), call
    assert "handling bob in greeter" in call
    # A traceback's lines, which awslambdaric joins with carriage returns, are lines here.
    assert "\r" not in call
    assert re.search(r"^\[ERROR\] ZeroDivisionError: division by zero\n"
                     r"Traceback \(most recent call last\):\n\s+File .*app\.py\", line 6, "
                     r"in handler\n",
                     call, re.MULTILINE), call
    assert call.count("REPORT RequestId: ") == 2
    # Lambda's logs do not leak into the test's own captured stdout.
    assert "START RequestId" not in _section(out, "Captured stdout call")


def test_passing_tests_show_their_logs_under_rA(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    quiet = _run(pytester, "process", "-k", "passes")
    quiet.assert_outcomes(passed=1, deselected=2)
    assert "Captured Lambda logs" not in quiet.stdout.str()

    shown = _run(pytester, "process", "-k", "passes", "-rA")
    out = shown.stdout.str()
    (request_id,) = _request_ids(shown)
    assert "= PASSES =" in out
    assert f"END RequestId: {request_id}" in _section(out, "Captured Lambda logs call")
    assert "Captured Lambda logs setup" in out


def test_never_hides_them_and_always_shows_passing_ones(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _suite(pytester)
    never = _run(pytester, "process", "--lambda-logs=never", "-rA")
    never.assert_outcomes(failed=1, passed=2)
    assert "Captured Lambda logs" not in never.stdout.str()
    assert "START RequestId" not in never.stdout.str()
    assert "lambda: logs in reports=never (from --lambda-logs); isolation=shared (from default)" \
        in never.outlines

    monkeypatch.setenv("PYTEST_LAMBDA_LOGS", "always")
    always = _run(pytester, "process")
    always.assert_outcomes(failed=1, passed=2)
    out = always.stdout.str()
    assert "lambda: logs in reports=always (from PYTEST_LAMBDA_LOGS); isolation=shared " \
        "(from default)" in always.outlines
    passing = out.split("= Lambda logs of passing tests =")[1].split("short test summary")[0]
    assert "test_user.py::test_passes" in passing
    assert "handling cy in greeter" in _section(passing, "Captured Lambda logs call")
    assert "test_no_invocations" not in passing  # no invocations, no section
    assert "test_fails" not in passing


def test_the_ini_key_and_a_bad_value(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlambda_logs = sometimes\n")
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess()
    result.stderr.fnmatch_lines([
        "ERROR: ini lambda_logs = 'sometimes' is not a valid logs: "
        "use one of on-failure, always, never."
    ])


def _testcases(path: str) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    return {case.get("name", ""): case for case in root.iter("testcase")}


def test_junit_xml_carries_them_as_system_out(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = _run(pytester, "process", "--junitxml=out.xml")
    result.assert_outcomes(failed=1, passed=2)
    cases = _testcases(str(pytester.path / "out.xml"))
    (out,) = cases["test_fails"].findall("system-out")
    text = out.text or ""
    assert "Captured Lambda logs setup" in text and "Captured Lambda logs call" in text
    assert "handling bob in greeter" in text
    assert f"START RequestId: {_request_ids(result)[0]}" in text
    assert text.count("REPORT RequestId: ") == 3
    assert cases["test_passes"].findall("system-out") == []  # on-failure: failing tests only

    always = _run(pytester, "process", "--junitxml=out.xml", "--lambda-logs=always")
    always.assert_outcomes(failed=1, passed=2)
    cases = _testcases(str(pytester.path / "out.xml"))
    (out,) = cases["test_passes"].findall("system-out")
    assert "handling cy in greeter" in (out.text or "")
    assert cases["test_no_invocations"].findall("system-out") == []


def test_junit_system_out_joins_pytests_own(pytester: pytest.Pytester) -> None:
    _suite(pytester)
    result = _run(pytester, "process", "--junitxml=out.xml", "-o", "junit_logging=system-out",
                  "-k", "fails")
    result.assert_outcomes(failed=1, deselected=2)
    (out,) = _testcases(str(pytester.path / "out.xml"))["test_fails"].findall("system-out")
    text = out.text or ""
    assert "REQUEST " in text  # the test's own stdout, as pytest writes it
    assert "handling bob in greeter" in text


def test_in_process_and_earlier_made_functions_are_recorded(pytester: pytest.Pytester) -> None:
    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(APP)
    pytester.makepyfile(
        """
        from pathlib import Path

        from pytest_lambda import invoke_handler

        MADE = []

        def handler(event, context):
            print("in-process", event["n"])
            return event["n"]

        def test_makes(lambda_function):
            MADE.append(lambda_function("app.handler", code=Path(__file__).parent / "fn",
                                        runtime="python3.13", name="made-earlier"))

        def test_uses_it_later():
            MADE[0].invoke({"name": "later"})
            invoke_handler(handler, {"n": 7}, function_name="local")
            assert False
        """
    )
    result = _run(pytester, "process")
    result.assert_outcomes(passed=1, failed=1)
    call = _section(result.stdout.str(), "Captured Lambda logs call")
    assert re.search(r"^\[1\] made-earlier \(process\) RequestId: \S+: ok \(cold start", call,
                     re.MULTILINE)
    assert "handling later in made-earlier" in call
    assert re.search(r"^\[2\] local \(in-process\) RequestId: \S+: ok \(cold start", call,
                     re.MULTILINE)
    assert "in-process 7" in call


def test_under_xdist_the_sections_reach_the_controller_and_junit(
    pytester: pytest.Pytester,
) -> None:
    _suite(pytester)
    result = _run(pytester, "process", "-n", "2", "--junitxml=out.xml", "--lambda-logs=always")
    result.assert_outcomes(failed=1, passed=2)
    out = result.stdout.str()
    assert "handling bob in greeter" in _section(out, "Captured Lambda logs call")
    assert "handling cy in greeter" in out.split("= Lambda logs of passing tests =")[1]
    cases = _testcases(str(pytester.path / "out.xml"))
    assert "handling bob in greeter" in (cases["test_fails"].findall("system-out")[0].text or "")
    assert "handling cy in greeter" in (cases["test_passes"].findall("system-out")[0].text or "")
