"""The plugin as users see it: header, settings, fixtures, errors and Docker cleanup (pytester)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from pytest_lambda.containers.client import remove_network

if TYPE_CHECKING:
    import docker

    from tests.conftest import LeftOnEngine

#: The process backend runs a Python runtime on an interpreter of its version: the host's.
HOST_PYTHON = "python{}.{}".format(*sys.version_info[:2])

SESSION = "pytest-lambda.session"
PID = "pytest-lambda.pid"

HELLO_APP = "def handler(event, context):\n    return {'hello': event.get('name', 'world')}\n"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("PYTEST_LAMBDA_BACKEND", "PYTEST_LAMBDA_IMAGE_POLICY", "PYTEST_ADDOPTS"):
        monkeypatch.delenv(name, raising=False)


def _header(result: pytest.RunResult) -> str:
    """Return the header's backend line (an `auto` session says what it chose at its end too)."""
    lines = [line for line in result.outlines if line.startswith("lambda: backend=")]
    assert lines, result.outlines
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
    for difference in ("isolated: only the code, the layers, awslambdaric and the images' "
                       "pinned boto3 are importable",
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
    _write_function(pytester)
    pytester.makepyfile(
        """
        from pathlib import Path

        def test_hello(lambda_function):
            lambda_function("app.handler", code=Path(__file__).parent / "fn",
                            runtime="python3.13")
        """
    )
    result = pytester.runpytest_subprocess("--lambda-backend=auto")
    assert _header(result) == (
        "lambda: backend=auto (not probed yet: docker when an engine answers, else process)"
    )
    chosen = [line for line in result.outlines if line.startswith("lambda: backend=")][1:]
    assert len(chosen) == 1 and chosen[0].startswith(
        ("lambda: backend=docker (auto: Docker engine ", "lambda: backend=process (auto: "))
    # With no engine to be found, auto falls back to the process backend and says why.
    monkeypatch.setenv("DOCKER_HOST", f"unix://{pytester.path}/no-such-docker.sock")
    result = pytester.runpytest_subprocess()
    chosen = [line for line in result.outlines if line.startswith("lambda: backend=")][1:]
    assert chosen[0].startswith("lambda: backend=process (auto: No Docker engine answers (")
    assert "--lambda-backend=process" in chosen[0]


class _SilentEngine:
    """A unix socket that accepts connections and never answers (an engine that hangs)."""

    def __init__(self) -> None:
        import socket
        import tempfile
        import threading

        self._dir = tempfile.mkdtemp(prefix="silent-", dir="/tmp")  # short: sun_path is 108
        self.path = os.path.join(self._dir, "docker.sock")
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(self.path)
        self._sock.listen(16)
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self.accepted.append(conn)  # held open, never answered

    def close(self) -> None:
        import shutil

        self._sock.close()
        for conn in self.accepted:
            conn.close()
        shutil.rmtree(self._dir, ignore_errors=True)


@pytest.fixture
def silent_engine(monkeypatch: pytest.MonkeyPatch) -> Iterator[_SilentEngine]:
    engine = _SilentEngine()
    monkeypatch.setenv("DOCKER_HOST", f"unix://{engine.path}")
    yield engine
    engine.close()


def test_in_process_session_never_contacts_the_engine(pytester: pytest.Pytester,
                                                      silent_engine: _SilentEngine) -> None:
    pytester.makepyfile(
        """
        from pytest_lambda import invoke_handler

        def handler(event, context):
            return {"doubled": event["n"] * 2}

        def test_one():
            assert invoke_handler(handler, {"n": 2}).payload == {"doubled": 4}

        def test_two(lambda_context):
            assert handler({"n": 3}, lambda_context) == {"doubled": 6}
        """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=60)
    result.assert_outcomes(passed=2)
    assert silent_engine.accepted == []
    assert _header(result) == (
        "lambda: backend=auto (not probed yet: docker when an engine answers, else process)"
    )


def test_engine_is_probed_when_a_function_first_needs_a_backend(
        pytester: pytest.Pytester, silent_engine: _SilentEngine) -> None:
    _write_function(pytester)
    pytester.makepyfile(
        """
        from pathlib import Path

        def test_hello(lambda_function):
            fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                                 runtime="python3.13")
            assert fn.invoke({"name": "lazy"}).payload == {"hello": "lazy"}
            again = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                                    runtime="python3.13")
            assert again.invoke({}).payload == {"hello": "world"}
        """.replace("python3.13", HOST_PYTHON)  # it ends on the process backend
    )
    result = pytester.runpytest_subprocess(timeout=120)
    result.assert_outcomes(passed=1)
    assert len(silent_engine.accepted) == 1  # probed once, on the first function, not again
    # What auto chose is said once it is known, at the end of the session.
    result.stdout.fnmatch_lines(["lambda: backend=process (auto: No Docker engine answers (*"])


def test_docker_host_credentials_never_reach_the_header_or_messages(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_function(pytester)
    pytester.makepyfile(
        """
        from pathlib import Path

        def test_hello(lambda_function):
            fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                                 runtime="python3.13", backend="docker")
        """
    )
    monkeypatch.setenv("DOCKER_HOST", "tcp://ada:s3cret-pw@127.0.0.1:1")
    result = pytester.runpytest_subprocess("--lambda-backend=auto", timeout=120)
    output = result.stdout.str() + result.stderr.str()
    assert "127.0.0.1:1" in output  # the address is said ...
    assert "s3cret-pw" not in output  # ... its password is not


def _old_cache_entry(cache: os.PathLike[str] | str, name: str) -> str:
    import pathlib

    entry = pathlib.Path(cache, "code", name)
    entry.mkdir(parents=True)
    (entry / "blob.bin").write_bytes(os.urandom(1024 * 1024))
    a_day_ago = time.time() - 86_400
    os.utime(entry, (a_day_ago, a_day_ago))
    return str(entry)


def test_session_that_used_the_cache_prunes_it_at_its_end(pytester: pytest.Pytester,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    import zipfile

    cache = pytester.path / "cache"
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(cache))
    old = _old_cache_entry(cache, "0" * 64)
    with zipfile.ZipFile(pytester.path / "fn.zip", "w") as zf:
        zf.writestr("app.py", HELLO_APP)
    pytester.makepyfile(
        """
        from pathlib import Path

        def test_hello(lambda_function):
            fn = lambda_function("app.handler", code=Path(__file__).parent / "fn.zip",
                                 runtime="python3.13")
            assert fn.invoke({"name": "cache"}).payload == {"hello": "cache"}
        """.replace("python3.13", HOST_PYTHON)  # on the process backend
    )
    result = pytester.runpytest_subprocess("--lambda-backend=process",
                                           "--lambda-cache-max-size=512KiB", timeout=120)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"lambda: cache {cache} (pruned to 512KiB at the end of a "
                                 f"session that used it, from --lambda-cache-max-size)"])
    assert not os.path.exists(old)  # least recently used, and over the size
    left = os.listdir(cache / "code")
    assert len(left) == 1 and left[0] != "0" * 64  # the session's own unpacked zip stays
    assert os.listdir(cache / "leases") == []  # the session's lease went with it


def test_session_that_never_used_the_cache_leaves_it_alone(pytester: pytest.Pytester,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    cache = pytester.path / "cache"
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(cache))
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_MAX_SIZE", "0")
    old = _old_cache_entry(cache, "1" * 64)
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--lambda-backend=process")
    result.assert_outcomes(passed=1)
    assert os.path.exists(old)


def test_bad_cache_size_is_a_one_line_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_ok(): pass")
    result = pytester.runpytest_subprocess("--lambda-cache-max-size=huge")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --lambda-cache-max-size: 'huge' is not a size: *"])


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


def test_a_runtime_only_awss_image_serves_fails_under_the_hermetic_policy_with_one_sentence(
    pytester: pytest.Pytester, docker_client: docker.DockerClient,
) -> None:
    _write_function(pytester)
    pytester.makepyfile(
        """
        from pathlib import Path

        def test_configure(lambda_function):
            lambda_function("app.handler", code=Path(__file__).parent / "fn",
                            runtime="python3.12")
        """
    )
    result = pytester.runpytest_subprocess("--lambda-backend=docker",
                                           "--lambda-image-policy=hermetic", timeout=120)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "E   *ConfigurationError: pytest-aws-lambda has no hermetic python3.12 image, as no "
        "Debian suite ships Python 3.12 *: run `docker pull public.ecr.aws/lambda/python:3.12` "
        "where a registry is reachable *'prefer-official' or 'official'*",
    ])
    assert len([line for line in result.outlines if line.startswith("E ")]) == 1
    assert "pytest_lambda/" not in result.stdout.str()


# -- Docker: cleanup, also after kill -9 ------------------------------------------------------


@pytest.fixture
def docker_client(request: pytest.FixtureRequest) -> docker.DockerClient:
    """Return a docker-py client; skip without an engine, but fail if the run asked for Docker."""
    from pytest_lambda import BackendUnavailableError
    from pytest_lambda.service.service import require_backend

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


def _labelled(client: docker.DockerClient, label: str) -> tuple[list[Any], list[Any]]:
    # ignore_removed: a container removed between the listing and its inspection (the
    # session being swept) is not an error.
    containers = client.containers.list(all=True, filters={"label": label}, ignore_removed=True)
    networks = client.networks.list(filters={"label": label})
    return containers, networks


def _remove(client: docker.DockerClient, label: str) -> None:
    containers, networks = _labelled(client, label)
    for c in containers:
        c.remove(force=True)
    for n in networks:
        remove_network(client, n.id)


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
def test_docker_session_leaves_nothing_behind(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, left_on_engine: LeftOnEngine,
) -> None:
    _write_function(pytester)
    pytester.makepyfile(DOCKER_USER_TEST)
    result = pytester.runpytest_subprocess("--lambda-backend=docker", timeout=300)
    result.assert_outcomes(passed=1)
    session = (pytester.path / "session.txt").read_text()
    # Other pytest sessions may be running on this engine: look at this session's labels only.
    assert left_on_engine(docker_client, f"{SESSION}={session}") == ([], [])


@pytest.mark.docker
def test_kill_9_leftovers_are_swept_by_the_next_session(
    pytester: pytest.Pytester, docker_client: docker.DockerClient,
) -> None:
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
        containers: list[Any] = []
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
