"""A failed invocation is reported, never re-run; an environment is never reused after it fails.

Lambda never re-runs a synchronous invocation: a runtime that exits, is killed or runs out of
memory while it holds an event fails that invocation with `Runtime.ExitError` or
`Runtime.OutOfMemory`. Only an environment that died idle, before the event reached its runtime,
is replaced by a cold start that serves the event.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, Function, FunctionFactory, LambdaService, RuntimeName

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
# The Docker variants of these are the chaos test's record and the container-kill test above.
process_only = pytest.mark.parametrize("backend", ["process"], indirect=True)


@pytest.fixture
def reliability_fn(
    python_runtime: RuntimeName, lambda_function: FunctionFactory, functions_dir: Path,
    backend: BackendName,
) -> Callable[..., Function]:
    def make(**options: Any) -> Function:
        options.setdefault("timeout", 30)
        return lambda_function("app.handler", code=functions_dir / "reliability",
                               runtime=python_runtime, backend=backend, **options)
    return make


def _runs(record_dir: Path) -> list[tuple[str, str]]:
    path = record_dir / "runs"
    if not path.exists():
        return []
    return [(first, second) for first, second in
            (line.split() for line in path.read_text().splitlines())]


def test_a_crash_on_a_warm_invocation_is_an_exit_error(
    reliability_fn: Callable[..., Function],
) -> None:
    fn = reliability_fn(name="crash-on-second")
    fn.reset()
    first = fn.invoke({"action": "crash_on_call", "n": 2})
    assert first.cold_start and first.payload == {"calls": 1}
    crashed = fn.invoke({"action": "crash_on_call", "n": 2})
    assert crashed.function_error == "Unhandled"
    assert crashed.error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {crashed.request_id} Error: Runtime exited with error: "
                        "exit status 3",
    }
    assert not crashed.cold_start  # it failed where it ran: the warm environment
    assert "Status: error\tError Type: Runtime.ExitError" in crashed.logs.splitlines()[-1]
    after = fn.invoke({"action": "crash_on_call", "n": 2})
    assert after.cold_start and after.payload == {"calls": 1}  # a new environment


@process_only  # the record is a host file, which the process backend writes directly
def test_a_warm_crash_runs_the_handler_once(
    reliability_fn: Callable[..., Function], tmp_path: Path, backend: BackendName,
) -> None:
    tmp_path.chmod(0o777)
    fn = reliability_fn(name="crash-once")
    fn.reset()
    assert fn.invoke({"id": "warm-up", "record_dir": str(tmp_path)}).function_error is None
    crashed = fn.invoke({"id": "crash", "action": "exit", "record_dir": str(tmp_path)})
    assert crashed.error is not None
    assert crashed.error["errorType"] == "Runtime.ExitError"
    assert [run_id for run_id, _token in _runs(tmp_path)] == ["warm-up", "crash"]


@docker_only
def test_a_leak_ends_in_out_of_memory_not_in_a_fresh_environment(
    reliability_fn: Callable[..., Function],
) -> None:
    # 40 MB more per call at 128 MB: the third or fourth call cannot fit. Lambda reports that
    # call as Runtime.OutOfMemory; serving it again on a new environment would hide the leak.
    fn = reliability_fn(name="leaky", memory_size=128, timeout=60)
    fn.reset()
    results = []
    for _ in range(6):
        result = fn.invoke({"action": "leak", "mb": 40})
        results.append(result)
        if result.function_error:
            break
    failed = results[-1]
    assert failed.error is not None, [r.payload for r in results]
    assert failed.error["errorType"] == "Runtime.OutOfMemory", failed.error
    assert failed.error["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert not failed.cold_start
    assert [r.cold_start for r in results] == [True] + [False] * (len(results) - 1)
    assert [r.payload["calls"] for r in results[:-1]] == list(range(1, len(results)))
    after = fn.invoke({"action": "leak", "mb": 40})
    assert after.cold_start and after.payload == {"calls": 1, "held_mb": 40}


def _containers(lambda_service: LambdaService, name: str) -> list[Any]:
    from pytest_lambda.backends.docker.environment import DockerBackend

    backend = lambda_service.backend("docker")
    assert isinstance(backend, DockerBackend)
    return [backend.client.containers.get(cid) for cid in backend.containers_of(name)]


def _invoke_in_thread(
    fn: Function, event: dict[str, Any],
) -> tuple[threading.Thread, list[Any]]:
    results: list[Any] = []
    thread = threading.Thread(target=lambda: results.append(fn.invoke(event)), daemon=True)
    thread.start()
    return thread, results


@docker_only
def test_a_container_killed_mid_invocation_fails_that_invocation(
    reliability_fn: Callable[..., Function], lambda_service: LambdaService,
) -> None:
    fn = reliability_fn(name="killed-from-outside")
    fn.reset()
    assert fn.invoke({}).cold_start
    (container,) = _containers(lambda_service, fn.name)
    thread, results = _invoke_in_thread(fn, {"action": "started_then_sleep", "seconds": 30})
    deadline = time.monotonic() + 60
    while container.exec_run(["test", "-e", "/tmp/started"]).exit_code != 0:
        assert time.monotonic() < deadline, "the handler never started"
        time.sleep(0.05)
    container.kill()
    thread.join(timeout=60)
    (killed,) = results
    assert killed.error == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: {killed.request_id} Error: Runtime exited with error: "
                        "signal: killed",
    }
    assert not killed.cold_start
    after = fn.invoke({})
    assert after.cold_start and after.function_error is None


@process_only  # the Docker variant kills the container (the test above)
def test_a_runtime_killed_mid_invocation_fails_that_invocation(
    reliability_fn: Callable[..., Function], tmp_path: Path, backend: BackendName,
) -> None:
    fn = reliability_fn(name="runtime-killed")
    fn.reset()
    tmp_path.chmod(0o777)
    assert fn.invoke({"id": "warm-up", "record_dir": str(tmp_path)}).cold_start
    pid_file = tmp_path / "pid"
    thread, results = _invoke_in_thread(fn, {"id": "killed", "action": "pid", "seconds": 30,
                                             "path": str(pid_file), "record_dir": str(tmp_path)})
    deadline = time.monotonic() + 60
    while not pid_file.exists() or not pid_file.read_text():
        assert time.monotonic() < deadline, "the handler never started"
        time.sleep(0.05)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)
    thread.join(timeout=60)
    (killed,) = results
    assert killed.error["errorType"] == "Runtime.ExitError"
    assert killed.error["errorMessage"].endswith("Runtime exited with error: signal: killed")
    assert not killed.cold_start
    assert [run_id for run_id, _token in _runs(tmp_path)] == ["warm-up", "killed"]


def _wait_until_dead(pid: int) -> None:
    """Wait until `pid` has exited (a zombie or gone): its sockets and pipes are closed."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return
        if stat[stat.rindex(")") + 2] in "ZX":
            return
        time.sleep(0.01)
    raise AssertionError(f"process {pid} outlived SIGKILL")


def test_an_environment_that_died_idle_is_replaced_and_serves_the_event(
    reliability_fn: Callable[..., Function], tmp_path: Path, backend: BackendName,
    lambda_service: LambdaService,
) -> None:
    # The legitimate replacement: nothing had reached the runtime, so the event runs once, on a
    # new environment, as a cold start.
    fn = reliability_fn(name="died-idle")
    fn.reset()
    tmp_path.chmod(0o777)
    pid_file = tmp_path / "pid"
    if backend == "docker":
        assert fn.invoke({}).cold_start
        (container,) = _containers(lambda_service, fn.name)
        container.kill()
        container.wait(timeout=60)
    else:
        assert fn.invoke({"action": "pid", "seconds": 0, "path": str(pid_file)}).cold_start
        pid = int(pid_file.read_text())
        os.kill(pid, signal.SIGKILL)
        _wait_until_dead(pid)
    served = fn.invoke({"id": "after", "record_dir": str(tmp_path) if backend == "process"
                        else None})
    assert served.function_error is None and served.cold_start
    if backend == "process":
        assert [run_id for run_id, _token in _runs(tmp_path)] == ["after"]


# -- rebuilt code ---------------------------------------------------------------------------------

def _zip_with_answer(path: Path, answer: str) -> None:
    import zipfile

    source = f"def handler(event, context):\n    return {answer!r}\n"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        info = zipfile.ZipInfo("app.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        zf.writestr(info, source)


def test_a_zip_rebuilt_with_its_old_size_and_mtime_runs_the_new_code(
    python_runtime: RuntimeName, lambda_function: FunctionFactory, tmp_path: Path,
    backend: BackendName,
) -> None:
    # What `cp -p`, `rsync -a` and reproducible builds produce: other bytes, same size and mtime.
    archive = tmp_path / "fn.zip"
    _zip_with_answer(archive, "code A")
    old = time.time() - 3600
    os.utime(archive, (old, old))
    first = lambda_function("app.handler", code=archive, runtime=python_runtime, backend=backend)
    assert first.invoke({}).payload == "code A"
    size = archive.stat().st_size
    rebuilt = tmp_path / "build" / "fn.zip"
    rebuilt.parent.mkdir()
    _zip_with_answer(rebuilt, "code B")
    assert rebuilt.stat().st_size == size
    os.utime(rebuilt, (old, old))
    os.replace(rebuilt, archive)
    second = lambda_function("app.handler", code=archive, runtime=python_runtime, backend=backend)
    assert second.invoke({}).payload == "code B"


# -- process and file limits ----------------------------------------------------------------------

def test_file_descriptors_are_limited_to_lambdas_1024(
    reliability_fn: Callable[..., Function], backend: BackendName,
) -> None:
    fn = reliability_fn(name="fd-limit")
    limits = fn.invoke({"action": "rlimits"}).payload
    expected = 1024
    if backend == "process":  # never above the host's hard limit
        import resource

        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        expected = expected if hard == resource.RLIM_INFINITY else min(expected, hard)
    assert limits["RLIMIT_NOFILE"] == [expected, expected]
    opened = fn.invoke({"action": "open_files", "max": 5000}).payload
    assert opened["error"] == "EMFILE"
    assert 1000 < opened["opened"] < 1024  # the runtime holds a few descriptors of its own


@docker_only
def test_processes_are_limited_to_lambdas_1024(reliability_fn: Callable[..., Function]) -> None:
    fn = reliability_fn(name="process-limit", memory_size=2048)
    # A bounded fork loop: children wait on a pipe and exit when the handler closes it.
    forked = fn.invoke({"action": "fork_loop", "max": 4096})
    assert forked.function_error is None, forked.error
    assert forked.payload["error"] == "EAGAIN"
    # Every task of the environment's cgroup counts (the runtime's threads too).
    assert 500 < forked.payload["forked"] < 1024
    assert fn.invoke({}).function_error is None  # the environment is fine afterwards


# -- /tmp on a nearly full cache disk -------------------------------------------------------------

@pytest.fixture
def small_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A 64 MB tmpfs as the cache directory, filled to 8 MB free (root only)."""
    import subprocess

    from pytest_lambda.backends.docker.ephemeral import unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"/tmp is not disk here: {reason}")
    mountpoint = tmp_path / "small-cache"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(mountpoint)],
                   check=True, capture_output=True)
    try:
        with open(mountpoint / "filler", "wb") as f:
            f.write(b"\1" * (56 * 1024 * 1024))
        monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(mountpoint))
        yield mountpoint
    finally:
        # Environments may still hold a loop mount inside: detach now, freed when unused.
        subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True)


@docker_only
def test_tmp_on_a_nearly_full_cache_disk_is_a_tmpfs_not_lost_writes(
    python_runtime: RuntimeName, lambda_function: FunctionFactory, small_cache_dir: Path,
    functions_dir: Path, backend: BackendName,
) -> None:
    # With 8 MB free, a sparse 512 MB file would show the function ~500 MB free and then lose
    # its writes. The environment gets a tmpfs instead, and the harness says so.
    from pytest_lambda import EphemeralStorageWarning

    fn = lambda_function("app.handler", code=functions_dir / "limits", runtime=python_runtime,
                         backend=backend, name="tmp-without-room", memory_size=256, timeout=60)
    try:
        with pytest.warns(EphemeralStorageWarning, match="tmpfs counted against its memory"):
            wrote = fn.invoke({"action": "write", "path": "/tmp/big", "mb": 40})
        assert wrote.function_error is None, wrote.error
        assert wrote.payload == {"written_mb": 40, "errno": None}
    finally:
        fn.reset()


def test_disk_tmp_reserves_its_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.backends.docker.ephemeral import DiskTmp, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        pytest.skip(f"/tmp is not disk here: {reason}")
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path))
    tmp = DiskTmp(512)
    try:
        st = tmp.image.stat()
        assert st.st_blocks * 512 >= 512 * 1024 * 1024  # allocated, not a sparse file
        free = os.statvfs(tmp.mountpoint)
        assert free.f_bavail * free.f_frsize >= 500 * 1024 * 1024
    finally:
        tmp.release()


def test_disk_tmp_leaves_the_cache_disk_a_margin(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    # Reservations that would leave the cache's disk nearly full are refused, so the
    # environment gets a tmpfs (with a warning) instead of the session running out of disk.
    from pytest_lambda.backends.docker import ephemeral

    free = os.statvfs(tmp_path)
    monkeypatch.setattr(ephemeral, "FREE_DISK_MARGIN", free.f_bavail * free.f_frsize)
    with open(tmp_path / "img", "wb") as f, pytest.raises(ephemeral.NoRoomError,
                                                         match="kept free"):
        ephemeral._reserve(f.fileno(), 1024 * 1024, tmp_path)
    assert (tmp_path / "img").stat().st_blocks == 0  # nothing was allocated
