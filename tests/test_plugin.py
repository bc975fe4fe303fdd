"""The plugin as users see it: header, settings, fixtures, errors and Docker cleanup (pytester)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

SESSION = "pytest-lambda.session"
PID = "pytest-lambda.pid"

HELLO_APP = "def handler(event, context):\n    return {'hello': event.get('name', 'world')}\n"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTEST_LAMBDA_BACKEND", "PYTEST_LAMBDA_IMAGE_POLICY", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)


def _header(result: pytest.RunResult) -> str:
    lines = [line for line in result.outlines if line.startswith("lambda: backend=")]
    assert len(lines) == 1, result.outlines
    return lines[0]


# -- settings and the report header ----------------------------------------------------------


def test_header_names_the_option(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--lambda-backend=process")
    assert _header(result) == "lambda: backend=process (from --lambda-backend)"
    result.assert_outcomes(passed=1)


def test_header_lists_the_process_backends_interpreters_and_differences(
        pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--lambda-backend=process")
    (line,) = [line for line in result.outlines
               if line.startswith("lambda: process backend differs from Lambda: ")]
    host = "python{}.{}".format(*sys.version_info[:2])
    assert f"{host} on /" in line  # the interpreter that serves the host's own runtime
    assert "python3.14 " in line  # every Python runtime, served or refused
    for difference in ("isolated: only the code, the layers and awslambdaric are importable",
                       "not /var/task", "the host's network", "127.0.0.1:2000"):
        assert difference in line


def test_header_names_the_environment_variable(pytester: pytest.Pytester,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_ok(): pass")
    monkeypatch.setenv("PYTEST_LAMBDA_BACKEND", "process")
    result = pytester.runpytest_subprocess()
    assert _header(result) == "lambda: backend=process (from PYTEST_LAMBDA_BACKEND)"


def test_header_names_the_ini_key(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nlambda_backend = process\n")
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess()
    assert _header(result) == "lambda: backend=process (from ini lambda_backend)"


def test_option_beats_environment_beats_ini(pytester: pytest.Pytester,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    # Choosing docker only names it in the header; no engine is contacted.
    pytester.makeini("[pytest]\nlambda_backend = docker\n")
    pytester.makepyfile("def test_ok(): pass")
    monkeypatch.setenv("PYTEST_LAMBDA_BACKEND", "process")
    assert _header(pytester.runpytest_subprocess()) == (
        "lambda: backend=process (from PYTEST_LAMBDA_BACKEND)"
    )
    assert _header(pytester.runpytest_subprocess("--lambda-backend=docker")) == (
        "lambda: backend=docker (from --lambda-backend)"
    )
    monkeypatch.delenv("PYTEST_LAMBDA_BACKEND")
    assert _header(pytester.runpytest_subprocess()) == (
        "lambda: backend=docker (from ini lambda_backend)"
    )


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        ("option", "argument --lambda-backend: invalid choice: 'bogus'"),
        ("env", "ERROR: PYTEST_LAMBDA_BACKEND = 'bogus' is not a valid backend: "
                "use one of auto, docker, process."),
        ("ini", "ERROR: ini lambda_backend = 'bogus' is not a valid backend: "
                "use one of auto, docker, process."),
    ],
)
def test_bad_value_is_a_one_line_usage_error(pytester: pytest.Pytester,
                                             monkeypatch: pytest.MonkeyPatch, how: str,
                                             expected: str) -> None:
    pytester.makepyfile("def test_ok(): pass")
    args = []
    if how == "option":
        args.append("--lambda-backend=bogus")
    elif how == "env":
        monkeypatch.setenv("PYTEST_LAMBDA_BACKEND", "bogus")
    else:
        pytester.makeini("[pytest]\nlambda_backend = bogus\n")
    result = pytester.runpytest_subprocess(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert expected in output
    assert "Traceback" not in output and "pytest_lambda" not in output


def test_auto_says_why_it_chose(pytester: pytest.Pytester,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makepyfile("def test_ok(): pass")
    header = _header(pytester.runpytest_subprocess("--lambda-backend=auto"))
    assert header.startswith(("lambda: backend=docker (auto: Docker engine ",
                              "lambda: backend=process (auto: "))
    # With no engine to be found, auto falls back to the process backend and says why.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-such-docker.sock")
    header = _header(pytester.runpytest_subprocess())
    assert header.startswith("lambda: backend=process (auto: No Docker engine answers (")
    assert "--lambda-backend=process" in header


def test_fixtures_lists_lambda_function(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--fixtures", "--lambda-backend=process")
    result.stdout.fnmatch_lines([
        "lambda_function -- *",
        "*Make Lambda functions that run in Lambda-shaped execution environments.",
    ])


# -- lambda_function in a user's test ---------------------------------------------------------


def _write_function(pytester: pytest.Pytester) -> None:
    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(HELLO_APP)


def test_user_test_invokes_a_function_on_the_process_backend(pytester: pytest.Pytester) -> None:
    # The host's own Python runtime: the process backend refuses one the host cannot run.
    runtime = "python{}.{}".format(*sys.version_info[:2])
    _write_function(pytester)
    pytester.makepyfile(
        """
        from pathlib import Path

        def test_hello(lambda_function):
            fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                                 runtime="RUNTIME")
            result = fn.invoke({"name": "ada"})
            assert result.payload == {"hello": "ada"}
            assert result.cold_start and result.function_error is None
            assert not fn.invoke({}).cold_start
        """.replace("RUNTIME", runtime)
    )
    result = pytester.runpytest_subprocess("--lambda-backend=process", timeout=120)
    result.assert_outcomes(passed=1)


BAD_CONFIGURATIONS = {
    "unknown-runtime": (
        'handler="app.handler", code=FN, runtime="python2.7"',
        "ConfigurationError: Unknown runtime 'python2.7': pytest-aws-lambda supports nodejs20.x, "
        "*, python3.14.",
    ),
    "handler-without-dot": (
        'handler="app", code=FN, runtime="python3.13"',
        "ConfigurationError: Handler 'app' has no module: pass 'module.function', for example "
        "'app.handler' for the function handler in app.py.",
    ),
    "missing-code": (
        'handler="app.handler", code=FN / "nope", runtime="python3.13"',
        "ConfigurationError: Code path '*nope' does not exist: pass code= a directory or a .zip "
        "file with the function's code*",
    ),
    "memory-64": (
        'handler="app.handler", code=FN, runtime="python3.13", memory_size=64',
        "ConfigurationError: 1 validation error detected: Value '64' at 'memorySize' failed to "
        "satisfy constraint: Member must have value greater than or equal to 128 (pass "
        "memory_size= between 128 and 10240 MB).",
    ),
    "timeout-901": (
        'handler="app.handler", code=FN, runtime="python3.13", timeout=901',
        "ConfigurationError: 1 validation error detected: Value '901' at 'timeout' failed to "
        "satisfy constraint: Member must have value less than or equal to 900 (pass timeout= "
        "between 1 and 900 seconds).",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGURATIONS))
def test_bad_configuration_fails_the_test_with_one_sentence(pytester: pytest.Pytester,
                                                            case: str) -> None:
    call, sentence = BAD_CONFIGURATIONS[case]
    _write_function(pytester)
    pytester.makepyfile(
        f"""
        from pathlib import Path

        FN = Path(__file__).parent / "fn"

        def test_configure(lambda_function):
            lambda_function({call})
        """
    )
    result = pytester.runpytest_subprocess("--lambda-backend=process", timeout=120)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([f"E   *{sentence}"])
    output = result.stdout.str()
    # The user's line is shown; none of the harness's own frames are.
    assert ">       lambda_function(" in output
    assert "pytest_lambda/" not in output and "_config.py" not in output
    assert len([line for line in result.outlines if line.startswith("E ")]) == 1


# -- Docker: cleanup, also after kill -9 ------------------------------------------------------


@pytest.fixture
def docker_client(request: pytest.FixtureRequest):  # type: ignore[no-untyped-def]
    """Return a docker-py client; skip without an engine, but fail if the run asked for Docker."""
    from pytest_lambda._errors import BackendUnavailableError
    from pytest_lambda._state import require_backend

    try:
        require_backend("docker")
    except BackendUnavailableError as exc:
        if request.config.getoption("lambda_backend") == "docker":
            pytest.fail(f"--lambda-backend=docker but {exc}")
        pytest.skip(str(exc))
    import docker

    client = docker.from_env()
    yield client
    client.close()


def _labelled(client, label: str) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    containers = client.containers.list(all=True, filters={"label": label})
    networks = client.networks.list(filters={"label": label})
    return containers, networks


def _remove(client, label: str) -> None:  # type: ignore[no-untyped-def]
    containers, networks = _labelled(client, label)
    for c in containers:
        c.remove(force=True)
    for n in networks:
        n.remove()


DOCKER_USER_TEST = """
import os
from pathlib import Path

def test_hello(lambda_function, lambda_service):
    fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                         runtime="python3.13")
    result = fn.invoke({"name": "docker"})
    assert result.payload == {"hello": "docker"}, result.logs
    labels = lambda_service.backend("docker").labels
    Path("session.txt").write_text(labels.session)
    assert labels.pid == os.getpid()
"""


@pytest.mark.docker
def test_docker_session_leaves_nothing_behind(pytester: pytest.Pytester, docker_client) -> None:
    _write_function(pytester)
    pytester.makepyfile(DOCKER_USER_TEST)
    result = pytester.runpytest_subprocess("--lambda-backend=docker", timeout=300)
    result.assert_outcomes(passed=1)
    session = (pytester.path / "session.txt").read_text()
    # Other pytest sessions may be running on this engine: look at this session's labels only.
    containers, networks = _labelled(docker_client, f"{SESSION}={session}")
    assert containers == [] and networks == []


@pytest.mark.docker
def test_kill_9_leftovers_are_swept_by_the_next_session(pytester: pytest.Pytester,
                                                        docker_client) -> None:
    _write_function(pytester)
    pytester.makepyfile(
        test_sleeper="""
        import time
        from pathlib import Path

        def test_hang(lambda_function):
            fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                                 runtime="python3.13")
            assert fn.invoke({}).payload == {"hello": "world"}
            time.sleep(60)
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "test_sleeper.py", "--lambda-backend=docker",
         "-p", "no:cacheprovider", "-s"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    label = f"{PID}={child.pid}"
    try:
        deadline = time.monotonic() + 180
        containers: list = []
        while time.monotonic() < deadline and child.poll() is None:
            containers, networks = _labelled(docker_client, label)
            if containers and networks:
                break
            time.sleep(0.5)
        if not containers:
            child.kill()
            out = child.communicate(timeout=30)[0].decode(errors="replace")
            pytest.fail(f"the child session made no container:\n{out}")
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)
        assert child.returncode == -signal.SIGKILL

        # Nothing ran its cleanup: the container and network outlive the process.
        containers, networks = _labelled(docker_client, label)
        assert len(containers) >= 1 and len(networks) == 1

        second = pytester.makepyfile(test_second=DOCKER_USER_TEST)
        result = pytester.runpytest_subprocess(second, "--lambda-backend=docker", timeout=300)
        result.assert_outcomes(passed=1)
        containers, networks = _labelled(docker_client, label)
        assert containers == [] and networks == []
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=30)
        _remove(docker_client, label)
