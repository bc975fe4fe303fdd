"""Coverage and debugger plumbing without environments: data mapping, ports, the forward, the
tools directory, and the control plane's lifted timeouts (through the fake backend)."""

from __future__ import annotations

import importlib.util
import json
import os
import socket
import threading
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from coverage import CoverageData
from fake_backend import FakeBackend, FakeEnvironment

from pytest_lambda import ConfigurationError
from pytest_lambda.backends import instrument
from pytest_lambda.config import limits as _limits
from pytest_lambda.config.function import validate_debug_port
from pytest_lambda.images.bootstrap import PYTHON_INSTRUMENT
from pytest_lambda.service.build import build_config
from pytest_lambda.service.service import LambdaService


def _env_data(root: Path, name: str, mapping: dict[str, str], *,
              lines: dict[str, list[int]] | None = None,
              arcs: dict[str, list[tuple[int, int]]] | None = None) -> Path:
    env = root / name
    env.mkdir()
    (env / "paths.json").write_text(json.dumps(mapping))
    data = CoverageData(basename=str(env / ".coverage"), suffix="host.1.1")
    if lines is not None:
        data.add_lines(lines)
    if arcs is not None:
        data.add_arcs(arcs)
    data.write()
    return Path(data.data_filename())


def test_collect_maps_the_task_root_home_and_keeps_only_the_sources(tmp_path: Path) -> None:
    written = _env_data(tmp_path, "env-a", {"/var/task": "/host/project/src"}, lines={
        "/var/task/app.py": [1, 2, 5],
        "/var/task/lib/util.py": [3],
        "/var/runtime/awslambdaric/bootstrap.py": [10],  # not the task root: not mapped
    })
    _env_data(tmp_path, "env-b", {"/var/task": "/host/project/other"},
              lines={"/var/task/app.py": [7]})  # outside --cov's sources: dropped
    target = CoverageData(no_disk=True)
    target.add_lines({"/host/project/src/app.py": [9]})  # what the test process ran itself
    merged = instrument.collect_coverage(tmp_path, ["/host/project/src"], target)
    assert merged == 2
    assert {f: sorted(target.lines(f) or []) for f in target.measured_files()} == {
        "/host/project/src/app.py": [1, 2, 5, 9],
        "/host/project/src/lib/util.py": [3],
    }
    assert not written.exists()  # merged once, then removed


def test_collect_merges_arcs_when_branches_are_measured(tmp_path: Path) -> None:
    _env_data(tmp_path, "env-a", {"/var/task": "/code"},
              arcs={"/var/task/app.py": [(-1, 1), (1, 2), (2, -1)]})
    target = CoverageData(no_disk=True)
    target.add_arcs({"/code/other.py": [(-1, 1)]})
    instrument.collect_coverage(tmp_path, [], target)
    assert sorted(target.arcs("/code/app.py") or []) == [(-1, 1), (1, 2), (2, -1)]


def test_collect_skips_what_it_cannot_read(tmp_path: Path) -> None:
    env = tmp_path / "env-x"
    env.mkdir()
    (env / ".coverage.host.1.1").write_bytes(b"not a database")
    (env / "paths.json").write_text("{}")
    assert instrument.collect_coverage(tmp_path, [], CoverageData(no_disk=True)) == 0


@pytest.mark.parametrize("port", [0, 1023, 65536, -1, "5678", 56.78, True])
def test_debug_port_out_of_range(port: object) -> None:
    with pytest.raises(ConfigurationError, match=r"^debug_port must be a TCP port number"):
        validate_debug_port(port)


@pytest.mark.parametrize("port", [None, 1024, 5678, 65535])
def test_debug_port_in_range(port: int | None) -> None:
    assert validate_debug_port(port) == port


def test_debug_port_belongs_to_the_pool_key(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return e\n")
    plain = build_config("app.handler", code=tmp_path, runtime="python3.13")
    debugged = build_config("app.handler", code=tmp_path, runtime="python3.13",
                            debug_port=5678)
    assert plain.debug_port is None and debugged.debug_port == 5678
    assert plain.pool_key() != debugged.pool_key()  # never a warm non-debug environment


def test_only_python_functions_from_code_are_instrumented(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return e\n")
    request = instrument.CoverageRequest(branch=False, root=tmp_path)
    python = build_config("app.handler", code=tmp_path, runtime="python3.13")
    node = build_config("app.handler", code=tmp_path, runtime="nodejs22.x")
    assert instrument.instrumented(python, request)
    assert not instrument.instrumented(python, None)
    assert not instrument.instrumented(node, request)


def test_the_tools_directory_holds_the_launcher_and_the_packages_only(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path))
    tools = instrument.tools_dir()
    assert tools == instrument.tools_dir()  # made once
    names = sorted(p.name for p in tools.iterdir() if p.name != "__pycache__")
    assert names == ["coverage", "debugpy", "instrument.py", "wrapper"], names  # no .pth, no
    assert os.access(tools / "wrapper", os.X_OK)                               # metadata
    assert (tools / "coverage" / "control.py").is_file()
    import importlib.util

    # Compiled for this Python, since containers cannot write next to the read-only sources.
    assert Path(importlib.util.cache_from_source(str(tools / "coverage" / "control.py"))).is_file()


@pytest.fixture
def echo_server() -> Iterator[tuple[str, int]]:
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while data := conn.recv(4096):
                    conn.sendall(data.upper())

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()
    server.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_forward_waits_for_its_target_and_pipes_both_ways(echo_server) -> None:  # type: ignore[no-untyped-def]
    target: list[tuple[str, int]] = []
    port = _free_port()
    forward = instrument.LoopbackForward(port, lambda: target[0] if target else None)
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
            target.append(echo_server)  # the container got its address after the client came
            client.sendall(b"hello")
            assert client.recv(5) == b"HELLO"
        with pytest.raises(ConfigurationError, match=f"^debug_port={port} is in use on "
                                                     r"127\.0\.0\.1 .*: pick a free port\.$"):
            instrument.LoopbackForward(port, lambda: echo_server)
    finally:
        forward.close()
    instrument.check_debug_port(port)  # closed: free again


# -- the control plane lifts timeouts while a debugger holds the environment --------------------


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> dict[str, bool]:
    state = {"held": True}
    monkeypatch.setattr(FakeEnvironment, "debugger_holds", lambda self: state["held"])
    return state


@pytest.fixture
def service() -> Iterator[LambdaService]:
    backend = FakeBackend()
    svc = LambdaService(backends={"fake": lambda: backend})
    yield svc
    svc.close()


def _config(tmp_path: Path, **options: object):  # type: ignore[no-untyped-def]
    (tmp_path / "app.py").write_text("def handler(event, context):\n    return event\n")
    return build_config("app.handler", code=str(tmp_path), runtime="python3.13",
                        **options)  # type: ignore[arg-type]  # each test passes its own keywords


def test_an_invocation_held_by_a_debugger_outlives_its_timeout(
        service: LambdaService, held: dict[str, bool], tmp_path: Path) -> None:
    config = _config(tmp_path, timeout=1)
    result = service.invoke(config, {"op": "sleep", "seconds": 1.5}, backend="fake")
    assert result.function_error is None, result.logs
    held["held"] = False  # detached: the timeout applies again, in the same environment
    late = service.invoke(config, {"op": "sleep", "seconds": 1.5}, backend="fake")
    assert not late.cold_start
    assert late.error is not None and late.error["errorType"] == "Sandbox.Timedout"


def test_an_init_held_by_a_debugger_outlives_the_init_limit(
        service: LambdaService, held: dict[str, bool], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_limits, "INIT_TIMEOUT_S", 1)
    config = _config(tmp_path, environment={"INIT_SLEEP": "1.5"})
    result = service.invoke(config, {"op": "echo"}, backend="fake")
    assert result.function_error is None and "Status: timeout" not in result.logs, result.logs
    held["held"] = False
    service.reset(config, "fake")
    cut = service.invoke(config, {"op": "echo"}, backend="fake")
    assert "INIT_REPORT" in cut.logs and "Status: timeout" in cut.logs, cut.logs


def test_collect_keeps_the_packages_named_as_coverage_sources(tmp_path: Path) -> None:
    _env_data(tmp_path, "env-a", {"/var/task": "/code"}, lines={
        "/var/task/app.py": [1],
        "/var/task/orders/__init__.py": [1],
        "/var/task/orders/model.py": [2],
        "/var/task/ordersx.py": [3],  # not the package "orders"
        "/var/task/vendored/lib.py": [4],
    })
    target = CoverageData(no_disk=True)
    instrument.collect_coverage(tmp_path, [], target, ["app", "orders"])
    assert sorted(target.measured_files()) == [
        "/code/app.py", "/code/orders/__init__.py", "/code/orders/model.py"]


def test_a_dead_sessions_coverage_directory_is_swept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import subprocess
    import sys
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    left = tmp_path / f"pytest-lambda-coverage-{dead}-abc"
    (left / "env-x").mkdir(parents=True)
    alive = tmp_path / f"pytest-lambda-coverage-{os.getpid()}-def"
    alive.mkdir()
    made = instrument.new_coverage_root()
    assert made.parent == tmp_path
    assert made.name.startswith(f"pytest-lambda-coverage-{os.getpid()}-")
    assert not left.exists() and alive.exists()


def test_debug_port_without_debugpy_is_one_sentence(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "app.py").write_text("def handler(e, c):\n    return e\n")
    monkeypatch.setattr(instrument, "available", lambda tool: tool != "debugpy")
    refused = pytest.raises(ConfigurationError, match=r"^debug_port= needs debugpy in the "
                                                      r"test environment .*: pip install debugpy")
    with LambdaService(backends={"fake": FakeBackend}) as svc, refused:
        svc.function("app.handler", code=tmp_path, runtime="python3.13",
                     backend="fake",  # type: ignore[arg-type]  # the fake backend's name
                     debug_port=5678)


def _launcher() -> Any:
    """The launcher, loaded as the runtime's interpreter loads it (a file of its own)."""
    spec = importlib.util.spec_from_file_location("pytest_lambda_launcher", PYTHON_INSTRUMENT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_runtime_asks_for_its_next_event_while_the_launcher_saves(tmp_path: Path) -> None:
    """Saving coverage data is the harness's work: it must not hold the runtime (an
    invocation lasts until the runtime asks for its next event, under the function's timeout
    and CPU share), and the harness sees it is done when `unsaved` goes."""
    launcher = _launcher()
    saving, release = threading.Event(), threading.Event()
    saves: list[str] = []

    def slow_save() -> None:
        saves.append(threading.current_thread().name)
        if len(saves) > 1:  # after the init's
            saving.set()
            release.wait(timeout=30)

    launcher._SAVERS.append(slow_save)
    launcher._saver.append(launcher._Saver(str(tmp_path)))
    asked = threading.Event()

    class RuntimeClient:  # awslambdaric's, as far as the launcher wraps it
        def wait_next_invocation(self) -> object:
            asked.set()
            return object()

    client = types.ModuleType("awslambdaric.lambda_runtime_client")
    client.LambdaRuntimeClient = RuntimeClient  # type: ignore[attr-defined]
    launcher._wrap_client(client)
    RuntimeClient().wait_next_invocation()  # the init's end: saved there and then
    assert saves == [threading.current_thread().name] and asked.is_set()
    asked.clear()
    runtime = threading.Thread(target=RuntimeClient().wait_next_invocation, daemon=True)
    runtime.start()
    assert saving.wait(timeout=30)
    assert asked.wait(timeout=30), "the runtime waited for the save before asking"
    assert (tmp_path / instrument.UNSAVED).exists()
    release.set()
    instrument.wait_saved([tmp_path], timeout=30)
    assert not (tmp_path / instrument.UNSAVED).exists()
