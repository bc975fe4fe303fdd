"""Sessions leave nothing behind: the process backend after kill -9, and pytest-xdist (pytester)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

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


def _wait(predicate, timeout: float = 30) -> bool:  # type: ignore[no-untyped-def]
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
                                 runtime="python3.13", name="leftover-spawner", timeout=600)
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
            test_second="""
            from pathlib import Path

            def test_hello(lambda_function):
                fn = lambda_function("app.handler", code=Path(__file__).parent / "fn",
                                     runtime="python3.13")
                assert fn.invoke({"name": "again"}).payload == {"hello": "again"}
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
