"""Chaos: 500 invocations at concurrency 4 while environments are killed, crash and run out of
memory.

Every invocation is accounted for: it succeeds once, or fails with Lambda's exact error; no
event runs twice; no environment serves anything after it failed. The handler appends
"<event id> <runtime token>" to a host directory bound into each container, so runs are counted
outside the harness.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, FunctionFactory, LambdaService

INVOCATIONS = 500
CONCURRENCY = 4
OOM_AT = 250


@pytest.mark.slow
@pytest.mark.docker
@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_chaos(
    lambda_function: FunctionFactory, lambda_service: LambdaService, functions_dir: Path,
    backend: BackendName, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_lambda.backends.docker.environment import DockerBackend

    record = tmp_path / "record"
    record.mkdir()
    record.chmod(0o777)
    docker_backend = lambda_service.backend("docker")
    assert isinstance(docker_backend, DockerBackend)
    api = docker_backend.client.api
    make_host_config = api.create_host_config

    def with_record(*args: Any, **kwargs: Any) -> Any:
        binds = {**(kwargs.get("binds") or {}), str(record): {"bind": "/record", "mode": "rw"}}
        return make_host_config(*args, **{**kwargs, "binds": binds})

    monkeypatch.setattr(api, "create_host_config", with_record)
    fn = lambda_function("app.handler", code=functions_dir / "reliability", runtime="python3.13",
                         # A memory size no other test uses: every container of this kind,
                         # ready ones included, is made after the patch above and has /record.
                         backend=backend, name="chaos", memory_size=520, timeout=30,
                         environment={"RECORD_DIR": "/record"})
    fn.reset()

    rng = random.Random(20261129)
    events: list[dict[str, Any]] = []
    for i in range(INVOCATIONS):
        if i == OOM_AT:
            events.append({"id": str(i), "action": "allocate", "mb": 1024})
        elif rng.random() < 0.02:
            events.append({"id": str(i), "action": "exit", "code": 3})
        else:
            events.append({"id": str(i), "action": "ok", "seconds": rng.random() / 50})

    oom_running = threading.Event()
    killing = threading.Lock()  # the OOM event waits out a kill already chosen
    finished = threading.Event()
    kills = 0

    def invoke(event: dict[str, Any]) -> Any:
        if event["action"] == "allocate":
            with killing:
                oom_running.set()  # its error must be the OOM kill's, not ours
            try:
                return fn.invoke(event)
            finally:
                oom_running.clear()
        return fn.invoke(event)

    def killer() -> None:
        nonlocal kills
        chooser = random.Random(7)
        while not finished.wait(chooser.uniform(0.1, 0.6)):
            with killing:
                if oom_running.is_set():
                    continue
                running = docker_backend.containers_of("chaos")
                if running:
                    try:
                        api.kill(chooser.choice(running))
                        kills += 1
                    except Exception:
                        pass  # it went away by itself meanwhile

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            results = list(pool.map(invoke, events))
    finally:
        finished.set()
        thread.join(timeout=30)
        fn.reset()

    runs = [line.split() for line in (record / "runs").read_text().splitlines()]
    ran = Counter(run_id for run_id, _token in runs)
    assert max(ran.values()) == 1, [k for k, v in ran.items() if v > 1]  # none ran twice

    killed_by_us = 0
    failed_tokens: dict[str, str] = {}
    tokens = {run_id: token for run_id, token in runs}
    for event, result in zip(events, results, strict=True):
        run_id = event["id"]
        if result.function_error is None:
            assert event["action"] == "ok"
            assert result.payload["id"] == run_id
            assert ran[run_id] == 1
            continue
        error_type = result.error["errorType"]
        message = result.error["errorMessage"]
        prefix = f"RequestId: {result.request_id} Error: Runtime exited with error: "
        if event["action"] == "allocate":
            assert result.error == {"errorType": "Runtime.OutOfMemory",
                                    "errorMessage": prefix + "signal: killed"}
            assert ran[run_id] == 1
        elif event["action"] == "exit" and message == prefix + "exit status 3":
            assert error_type == "Runtime.ExitError"
            assert ran[run_id] == 1
        else:  # an environment we killed while it held (or was starting for) this event
            assert result.error == {"errorType": "Runtime.ExitError",
                                    "errorMessage": prefix + "signal: killed"}
            killed_by_us += 1
        if run_id in tokens:
            failed_tokens[run_id] = tokens[run_id]
    assert killed_by_us <= kills
    assert sum(1 for e, r in zip(events, results, strict=True)
               if e["action"] == "exit" and r.function_error is None) == 0

    # No environment served anything after it failed: a failed event is its runtime's last run.
    last_run_of = {token: run_id for run_id, token in runs}
    for run_id, token in failed_tokens.items():
        assert last_run_of[token] == run_id, f"environment {token} was reused after {run_id}"
    print(f"chaos: {kills} kills, {killed_by_us} invocations failed by them, "
          f"{sum(1 for e in events if e['action'] == 'exit')} exits, "
          f"{len(set(tokens.values()))} environments, {len(runs)} runs")
