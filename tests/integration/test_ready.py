"""Cold starts in containers started ahead of need (`backends/docker/ready.py`) see what a
container created for the function sees: the same variables, mounts, limits and user.

Docker only, and only where the harness may mount into running containers (root, a local
engine): CI runs as root, so these never skip there.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import LambdaService
from pytest_lambda.system import mounts

pytestmark = pytest.mark.skipif(
    mounts.available() is not None and not os.environ.get("CI"),
    reason=f"ready containers unavailable: {mounts.available()}",
)

PROBE = r'''
import errno, os, resource

def _try_write(path):
    try:
        with open(path, "w") as f:
            f.write("x")
        os.remove(path)
        return "ok"
    except OSError as exc:
        return errno.errorcode[exc.errno]

def _mounts():
    seen = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] in ("/var/task", "/opt", "/tmp", "/etc/resolv.conf"):
                seen.setdefault(fields[4], []).append(fields[5].split(",")[0])
    return seen

def _memory_limit():
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            return open(path).read().strip()
        except OSError:
            continue
    return None

def handler(event, context):
    status = dict(line.split(":\t", 1) for line in open("/proc/self/status").read().splitlines()
                  if ":\t" in line)
    st = os.statvfs("/tmp")
    # Left out: what differs by invocation, container or session (the ports, the credentials).
    env = {k: v for k, v in os.environ.items()
           if k not in ("AWS_LAMBDA_RUNTIME_API", "AWS_LAMBDA_LOG_STREAM_NAME", "_X_AMZN_TRACE_ID",
                        "HOSTNAME", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                        "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL")}
    mount_table = _mounts()
    return {
        "env": env,
        "task": sorted(os.listdir("/var/task")),
        "opt": sorted(os.listdir("/opt")),
        "tmp": sorted(os.listdir("/tmp")),
        "write_task": _try_write("/var/task/x"),
        "write_opt": _try_write("/opt/x"),
        "write_tmp": _try_write("/tmp/x"),
        "tmp_mb": round(st.f_blocks * st.f_frsize / 2**20 / 64),
        "ids": [os.getuid(), os.getgid()],
        "caps": status["CapEff"], "no_new_privs": status.get("NoNewPrivs"),
        "nofile": list(resource.getrlimit(resource.RLIMIT_NOFILE)),
        "memory": _memory_limit(),
        "resolv": open("/etc/resolv.conf").read(),
        "cwd": os.getcwd(),
        "here": sorted(os.listdir(".")),  # relative paths start at the code, not under it
        "parent": open("/proc/%d/cmdline" % os.getppid(), "rb").read().split(b"\0")[0].decode(),
        "mount_options": {k: v[-1] for k, v in mount_table.items()},
        "task_mounts": len(mount_table.get("/var/task", [])),
    }
'''


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(PROBE)
    (tmp_path / "layer" / "bin").mkdir(parents=True)
    (tmp_path / "layer" / "bin" / "tool").write_text("#!/bin/sh\n")
    return tmp_path


def _probe(ready: int, code: Path, count: int) -> list[dict[str, Any]]:
    with LambdaService(backend="docker", ready_containers=ready) as service:
        results = []
        for i in range(count):
            fn = service.function("app.handler", code=code / "fn", runtime="python3.13",
                                  memory_size=256, layers=[code / "layer"],
                                  environment={"PROBE_INDEX": str(i)})
            result = fn.invoke({})
            assert result.function_error is None, result.logs
            assert result.cold_start
            results.append(result.payload)
        return results


def test_a_ready_container_looks_like_a_created_one(code: Path) -> None:
    created = _probe(0, code, 1)[0]
    first, second, third = _probe(2, code, 3)
    assert created["task_mounts"] == 1
    # The first cold start of a kind makes its container there and then; the later ones took
    # containers made ahead of need, whose code is mounted over an empty directory.
    assert second["task_mounts"] == third["task_mounts"] == 2
    for seen in (first, second, third):
        assert seen["env"].pop("PROBE_INDEX") in "012"
    created["env"].pop("PROBE_INDEX")
    for seen in (second, third):
        seen.pop("task_mounts")
        expected = {k: v for k, v in created.items() if k != "task_mounts"}
        assert seen == expected
    assert created["task"] == created["here"] == ["app.py"]  # the FIFO is hidden under the code
    assert created["opt"] == ["bin"]
    assert created["write_task"] == created["write_opt"] == "EROFS"
    assert created["write_tmp"] == "ok" and created["tmp"] == []
    assert created["ids"] == [993, 993]
    assert created["mount_options"]["/var/task"] == "ro"


def test_the_setting_turns_them_off_and_the_header_says_so(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    on = pytester.runpytest_subprocess("--lambda-backend=docker")
    on.stdout.fnmatch_lines(["lambda: ready containers: 2 of each kind started ahead of need "
                             "(from default)"])
    off = pytester.runpytest_subprocess("--lambda-backend=docker",
                                        "--lambda-ready-containers=0")
    off.stdout.fnmatch_lines(["lambda: ready containers: off (from --lambda-ready-containers)*"])


def test_an_engine_that_does_not_see_the_mounts_is_refused_in_one_sentence(
    code: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """As where the engine runs in a mount namespace that takes no propagation from the test's:
    the code never reaches the container. Seen here by not mounting it at all."""
    from pytest_lambda import EnvironmentStartError

    monkeypatch.setattr(mounts, "bind_read_only", lambda *args, **kwargs: None)
    with LambdaService(backend="docker", ready_containers=2) as service:
        fn = service.function("app.handler", code=code / "fn", runtime="python3.13")
        with pytest.raises(EnvironmentStartError,
                           match=r"does not see mounts .*--lambda-ready-containers=0"):
            fn.invoke({})


# The probe, run under the launcher: it also reports the paths the launcher's mounts give.
MEASURED_PROBE = PROBE + r'''

def measured(event, context):
    seen = handler(event, context)
    table = {}
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4].startswith("/var/pytest-lambda/"):
                table.setdefault(fields[4], []).append(fields[5].split(",")[0])
    seen["launcher_mounts"] = {k: v[-1] for k, v in table.items()}
    seen["state_mounts"] = len(table.get("/var/pytest-lambda/state", []))
    seen["write_state"] = _try_write("/var/pytest-lambda/state/probe")
    seen["write_tools"] = _try_write("/var/pytest-lambda/tools/probe")
    seen["write_pycache"] = _try_write("/var/pytest-lambda/pycache/probe-%d" % os.getpid())
    seen["tools"] = sorted(n for n in os.listdir("/var/pytest-lambda/tools")
                           if n in ("coverage", "instrument.py", "wrapper"))
    import sys
    seen["coverage"] = "coverage" in sys.modules
    return seen
'''


def _probe_measured(ready: int, code: Path, count: int) -> tuple[list[dict[str, Any]], Any, int]:
    """Run `count` cold starts of the probe under coverage; return what each saw, the lines
    collected and how many data files were."""
    from coverage import CoverageData

    from pytest_lambda.backends.instrument import CoverageRequest, new_coverage_root

    (code / "fn" / "app.py").write_text(MEASURED_PROBE)
    data = CoverageData(no_disk=True)
    with LambdaService(backend="docker", ready_containers=ready) as service:
        service.coverage = CoverageRequest(branch=False, root=new_coverage_root())
        results = []
        for i in range(count):
            # A whole CPU: coverage.py's start at a small share is slow on a busy machine.
            fn = service.function("app.measured", code=code / "fn", runtime="python3.13",
                                  memory_size=1769, layers=[code / "layer"],
                                  environment={"PROBE_INDEX": str(i)})
            result = fn.invoke({})
            assert result.function_error is None, result.logs
            assert result.cold_start
            results.append(result.payload)
        files = service.collect_coverage([str(code / "fn")], data)
    return results, data, files


def test_a_measured_runtime_takes_a_ready_container_that_looks_like_a_created_one(
        code: Path) -> None:
    """Under coverage (and so under a debugger: the same launcher, mounts and variables) cold
    starts take ready containers too, with the launcher's tools and state in place."""
    [created], created_data, created_files = _probe_measured(0, code, 1)
    (first, second, third), data, files = _probe_measured(2, code, 3)
    assert created["task_mounts"] == created["state_mounts"] == 1
    # The later cold starts took containers made ahead of need, their code and state directory
    # mounted in at the cold start (over the empty directories the container was made with).
    for seen in (second, third):
        assert (seen["task_mounts"], seen["state_mounts"]) == (2, 2), seen
    for seen in (created, first, second, third):
        assert seen["env"].pop("PROBE_INDEX") in "012"
    for seen in (second, third):
        for key in ("task_mounts", "state_mounts"):
            seen.pop(key)
        expected = {k: v for k, v in created.items() if k not in ("task_mounts", "state_mounts")}
        assert seen == expected
    assert created["coverage"] is True
    assert not any("PYTEST_LAMBDA" in k or k == "AWS_LAMBDA_EXEC_WRAPPER"
                   for k in created["env"])  # the launcher's own variables are gone
    assert created["launcher_mounts"] == {"/var/pytest-lambda/tools": "ro",
                                          "/var/pytest-lambda/state": "rw",
                                          "/var/pytest-lambda/pycache": "rw"}
    assert (created["write_state"], created["write_tools"], created["write_pycache"]) == (
        "ok", "EROFS", "ok")
    assert created["tools"] == ["coverage", "instrument.py", "wrapper"]
    # Every environment's lines reach the host, mapped back to the code's own path.
    assert (created_files, files) == (1, 3)
    app = str(code / "fn" / "app.py")
    assert set(data.lines(app) or []) == set(created_data.lines(app) or []) != set()


COUNTED_APP = '''def handler(event, context):
    if event.get("branch") == "a":
        word = "took"
    else:
        word = "went"
    with open("/proc/self/mountinfo") as f:
        task = sum(1 for line in f if line.split()[4] == "/var/task")
    return {"word": word, "task_mounts": task}
'''

COUNTED_TEST = '''
from pathlib import Path


def test_cold_starts(lambda_function):
    seen = []
    for i in range(3):
        fn = lambda_function("app.handler", code=Path(__file__).parent / "src",
                             runtime="python3.13", memory_size=1769,
                             environment={"RUN_INDEX": str(i)})
        result = fn.invoke({"branch": "a"})
        assert result.cold_start and result.function_error is None, result.logs
        seen.append(result.payload)
        fn.reset()
    assert [s["word"] for s in seen] == ["took"] * 3
    # Each ran in a ready container (the first made at once for it, the others ahead of need):
    # its code mounted over the empty directory the container was made with.
    assert [s["task_mounts"] for s in seen] == [2, 2, 2], seen
'''


def test_under_cov_cold_starts_take_ready_containers_and_their_lines_are_reported(
        pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    src = pytester.mkdir("src")
    (src / "app.py").write_text(COUNTED_APP)
    pytester.makepyfile(test_counted=COUNTED_TEST)
    monkeypatch.setenv("TMPDIR", str(pytester.mkdir("tmp")))
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    monkeypatch.delenv("COV_CORE_SOURCE", raising=False)
    result = pytester.runpytest_subprocess(
        "--lambda-backend=docker", "--lambda-ready-containers=2", "-p", "no:cacheprovider",
        "--cov=src", "--cov-report=term-missing", timeout=300)
    result.assert_outcomes(passed=1)
    line = next(line for line in result.stdout.lines if line.startswith("src/app.py "))
    assert line.split("%", 1)[1].strip() == "5", line  # only the other branch is missing


DEBUGGED_APP = '''import time


def handler(event, context):
    time.sleep(event.get("sleep", 0))
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return {"task": points.count("/var/task"), "state": points.count("/var/pytest-lambda/state")}
'''


def _attach_debugger(port: int) -> socket.socket:
    """Attach as a DAP client does (debugpy lets the runtime go on at `configurationDone`)."""
    deadline = time.monotonic() + 60
    while True:
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
    requests = [("initialize", {"clientID": "pytest", "adapterID": "debugpy"}),
                ("attach", {"justMyCode": False}), ("configurationDone", {})]
    for seq, (command, arguments) in enumerate(requests, 1):
        body = json.dumps({"seq": seq, "type": "request", "command": command,
                           "arguments": arguments}).encode()
        sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
    return sock


def test_a_debugged_runtime_takes_a_ready_container_and_its_state_reaches_the_host(
        code: Path) -> None:
    (code / "fn" / "app.py").write_text(DEBUGGED_APP)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with LambdaService(backend="docker", ready_containers=2) as service:
        fn = service.function("app.handler", code=code / "fn", runtime="python3.13", timeout=1,
                              memory_size=1769, debug_port=port)
        results: list[Any] = []
        invoker = threading.Thread(target=lambda: results.append(fn.invoke({"sleep": 2})))
        invoker.start()
        client = _attach_debugger(port)  # through the forward, to the ready container's address
        try:
            invoker.join(timeout=120)
            [result] = results
            # Past the 1 s timeout: lifted while the debugger is attached.
            assert (result.function_error, result.payload) == (None, {"task": 2, "state": 2}), (
                result.logs)
        finally:
            client.close()
        # Detached: the launcher's "0", written in the container, reaches the host through the
        # state directory mounted in, and the timeout holds again.
        for _ in range(5):
            late = fn.invoke({"sleep": 3})
            assert not late.cold_start
            if late.function_error is not None:
                break
        assert "Task timed out after 1.00 seconds" in late.payload["errorMessage"], late.logs
