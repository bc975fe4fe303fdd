"""Sessions leave nothing behind: the process backend after kill -9, and pytest-xdist (pytester)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    import docker

    from tests.conftest import LeftOnEngine

#: The process backend runs a Python runtime on an interpreter of its version: the host's.
HOST_PYTHON = "python{}.{}".format(*sys.version_info[:2])

SPAWNER_APP = """
import os
import subprocess
import time


def handler(event, context):
    child = subprocess.Popen(["sleep", "300"])  # in the runtime's process group
    with open(event["path"], "w") as f:
        f.write(f"{os.getpid()} {child.pid} {os.environ['TMPDIR']}")
    time.sleep(300)  # busy in the handler: it would not notice its Runtime API going away
"""

HELLO_APP = "def handler(event, context):\n    return {'hello': event.get('name', 'world')}\n"


def _alive(pid: int) -> bool:
    """Return True while `pid` runs (a zombie or a gone process is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _wait(predicate: Callable[[], object], timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return bool(predicate())


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_process_backend_leftovers_of_a_kill_9_are_swept_by_the_next_session(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(pytester.path / "cache"))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.mkdir("spawner")
    (pytester.path / "spawner" / "app.py").write_text(SPAWNER_APP)
    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(HELLO_APP)
    pids_file = pytester.path / "pids.txt"
    pytester.makepyfile(
        test_sleeper=f"""
        from pathlib import Path

        def test_hang(lambda_function):
            fn = lambda_function("app.handler", code=Path(__file__).parent / "spawner",
                                 runtime={HOST_PYTHON!r}, name="leftover-spawner", timeout=600)
            fn.invoke({{"path": {str(pids_file)!r}}})  # killed with pytest while it runs
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-m", "pytest", "test_sleeper.py", "--lambda-backend=process",
         "-p", "no:cacheprovider", "-s"],
        cwd=pytester.path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    runtime = grandchild = 0
    try:
        if not _wait(lambda: pids_file.exists() and pids_file.read_text(), timeout=120):
            child.kill()
            out = child.communicate(timeout=30)[0].decode(errors="replace")
            pytest.fail(f"the child session never ran the function:\n{out}")
        runtime_text, grandchild_text, scratch_text = pids_file.read_text().split()
        runtime, grandchild, scratch = int(runtime_text), int(grandchild_text), Path(scratch_text)
        assert _alive(runtime) and _alive(grandchild) and scratch.is_dir()
        os.kill(child.pid, signal.SIGKILL)
        child.communicate(timeout=30)

        # The runtime dies with pytest; what it started lives on (reparented) with the scratch
        # directory, until the next session sweeps them.
        assert _wait(lambda: not _alive(runtime)), "the runtime outlived pytest"
        assert _alive(grandchild) and scratch.is_dir()

        second = pytester.makepyfile(
            test_second=f"""
            from pathlib import Path

            def test_hello(lambda_function):
                fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                                     runtime={HOST_PYTHON!r})
                assert fn.invoke({{"name": "again"}}).payload == {{"hello": "again"}}
            """
        )
        result = pytester.runpytest_subprocess(second, "--lambda-backend=process", timeout=120)
        result.assert_outcomes(passed=1)
        assert _wait(lambda: not _alive(grandchild), timeout=10), "the sweep left the child"
        assert not scratch.exists()
        assert not list((pytester.path / "cache" / "processes").glob("*.json"))
    finally:
        if child.poll() is None:
            child.kill()
            child.communicate(timeout=30)
        for pid in (runtime, grandchild):
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)


# -- pytest-xdist ---------------------------------------------------------------------------------


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


XDIST_CONFTEST = """
import os
from pathlib import Path

import pytest

from pytest_lambda.plugin.state import STATE_KEY


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_sessionfinish(session):
    yield
    # After every sessionfinish implementation: the moment the worker has told the controller
    # it finished, after which execnet may interrupt it. Its service must be closed by now, the
    # engine's removals handed to its reaper.
    marker = Path(__file__).parent / f"session-{os.getpid()}.txt"
    if hasattr(session.config, "workerinput") and marker.exists():
        state = session.config.stash[STATE_KEY]
        (marker.parent / f"closed-{os.getpid()}.txt").write_text(str(state._closed))
"""

XDIST_TEST = """
import os
import threading
from pathlib import Path

import pytest


@pytest.mark.parametrize("n", range(4))
def test_concurrent(lambda_function, lambda_service, n):
    fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                         runtime="python3.13", name=f"xdist-{n % 2}")
    results = []
    threads = [threading.Thread(target=lambda: results.append(fn.invoke({"name": "x"})))
               for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.payload for r in results] == [{"hello": "x"}] * 2
    labels = lambda_service.backend("docker").labels
    here = Path(__file__).parent
    (here / f"session-{os.getpid()}.txt").write_text(labels.session)
    (here / "run.txt").write_text(labels.run)
"""


@pytest.mark.slow
@pytest.mark.docker
def test_an_xdist_run_closes_in_the_workers_and_leaves_nothing(
    pytester: pytest.Pytester, docker_client: docker.DockerClient, left_on_engine: LeftOnEngine,
) -> None:
    pytest.importorskip("xdist")
    pytester.mkdir("fn")
    (pytester.path / "fn" / "app.py").write_text(HELLO_APP)
    pytester.makeconftest(XDIST_CONFTEST)
    pytester.makepyfile(test_xdist=XDIST_TEST)
    result = pytester.runpytest_subprocess("-n", "2", "--lambda-backend=docker",
                                           "-p", "no:cacheprovider", timeout=600)
    result.assert_outcomes(passed=4)
    workers = sorted(int(p.stem.split("-")[1]) for p in pytester.path.glob("session-*.txt"))
    assert workers
    # Each worker had closed its service before it reported that it had finished, and its
    # reaper, which execnet cannot interrupt, removed what the engine held.
    assert [p.read_text() for p in pytester.path.glob("closed-*.txt")] == ["True"] * len(workers)
    run = (pytester.path / "run.txt").read_text()
    assert left_on_engine(docker_client, f"pytest-lambda.run={run}") == ([], [])
    mounts = Path("/proc/mounts").read_text() if Path("/proc/mounts").exists() else ""
    assert not [line for line in mounts.splitlines() for pid in workers
                if f"-{pid}-" in line and "/ephemeral/" in line]
