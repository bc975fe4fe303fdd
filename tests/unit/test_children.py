"""The process backend's children: tied to pytest, limited, swept only when their session died."""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_lambda.system import children as _children
from pytest_lambda.system.children import ProcessRecord, popen, start_time, sweep_dead

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _running(pid: int) -> bool:
    start = start_time(pid)
    if start is None:
        return False
    stat = Path(f"/proc/{pid}/stat").read_text()
    return stat[stat.rindex(")") + 2] not in "ZX"


def _dead_owner() -> tuple[int, int | None]:
    """Return the pid and start time of a process that has exited (and been reaped)."""
    proc = subprocess.Popen(["sleep", "0.2"])
    started = start_time(proc.pid)
    proc.wait()
    return proc.pid, started


def _group(tmp_path: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(["sleep", "60"], start_new_session=True)


def _write_record(cache: Path, owner: int, owner_started: int | None, leader: int,
                  leader_started: int | None, scratch: Path) -> Path:
    path = cache / "processes" / f"{os.uname().nodename}-{owner}-test.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"owner": owner, "owner_started": owner_started,
                                "scratch": str(scratch), "groups": [[leader, leader_started]]}))
    return path


def test_a_dead_sessions_groups_and_scratch_are_swept(tmp_path: Path, cache: Path) -> None:
    scratch = tmp_path / "pytest-lambda-fn-abc"
    scratch.mkdir()
    leader = _group(tmp_path)
    try:
        owner, owner_started = _dead_owner()
        record = _write_record(cache, owner, owner_started, leader.pid, start_time(leader.pid),
                               scratch)
        assert sweep_dead() == (1, 1)
        assert leader.wait(timeout=10) == -signal.SIGKILL
        assert not scratch.exists() and not record.exists()
    finally:
        leader.kill()
        leader.wait()


def test_a_live_sessions_record_is_left_alone(tmp_path: Path, cache: Path) -> None:
    scratch = tmp_path / "pytest-lambda-fn-live"
    scratch.mkdir()
    leader = _group(tmp_path)
    try:
        parent = os.getppid()  # alive: the record of a concurrent session
        record = _write_record(cache, parent, start_time(parent), leader.pid,
                               start_time(leader.pid), scratch)
        assert sweep_dead() == (0, 0)
        assert _running(leader.pid) and scratch.exists() and record.exists()
    finally:
        leader.kill()
        leader.wait()


def test_an_owner_pid_now_used_by_another_process_counts_as_dead(
    tmp_path: Path, cache: Path,
) -> None:
    scratch = tmp_path / "pytest-lambda-fn-reused"
    scratch.mkdir()
    parent = os.getppid()
    _write_record(cache, parent, (start_time(parent) or 0) - 1, 2**22 + 1, None, scratch)
    assert sweep_dead()[1] == 1 and not scratch.exists()


def test_a_leader_pid_now_used_by_another_process_is_not_killed(
    tmp_path: Path, cache: Path,
) -> None:
    bystander = _group(tmp_path)  # stands for an unrelated process that got the leader's pid
    try:
        owner, owner_started = _dead_owner()
        _write_record(cache, owner, owner_started, bystander.pid,
                      (start_time(bystander.pid) or 0) - 1, tmp_path / "pytest-lambda-x")
        assert sweep_dead() == (0, 1)
        assert _running(bystander.pid)
    finally:
        bystander.kill()
        bystander.wait()


def test_a_record_follows_an_environments_groups(tmp_path: Path, cache: Path) -> None:
    record = ProcessRecord(tmp_path / "pytest-lambda-fn-rec")
    record.add_group(os.getpid())
    doc = json.loads(record.path.read_text())
    assert doc["owner"] == os.getpid() and doc["groups"] == [[os.getpid(),
                                                               start_time(os.getpid())]]
    assert sweep_dead() == (0, 0)  # this session's own record
    record.remove()
    assert not record.path.exists()


def test_children_get_lambdas_file_limit_and_die_with_their_parent(tmp_path: Path) -> None:
    if _children._PRCTL is None:
        pytest.skip("no prctl here")
    out = tmp_path / "out"
    # A parent that starts a child through popen() and is then killed: the child must follow.
    script = (
        "import sys, time\n"
        "from pytest_lambda.system.children import popen\n"
        "p = popen(['sh', '-c', 'ulimit -n; echo $$; exec sleep 60'], max_files=1024,"
        " stdout=open(sys.argv[1], 'w'))\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script, str(out)])
    try:
        deadline = time.monotonic() + 30
        while len(out.read_text().split() if out.exists() else []) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        limit, child = (int(word) for word in out.read_text().split())
        assert limit == min(1024, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
        assert _running(child)
        parent.kill()
        parent.wait()
        deadline = time.monotonic() + 10
        while _running(child) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(child)
    finally:
        parent.kill()
        parent.wait()


def test_popen_from_a_short_lived_thread_outlives_the_thread(tmp_path: Path) -> None:
    # The death signal follows the thread that forked: popen() forks from a long-lived one.
    import threading

    procs: list[subprocess.Popen[bytes]] = []
    thread = threading.Thread(target=lambda: procs.append(popen(["sleep", "30"], max_files=1024)))
    thread.start()
    thread.join()
    try:
        time.sleep(0.2)
        assert procs[0].poll() is None
    finally:
        procs[0].kill()
        procs[0].wait()
