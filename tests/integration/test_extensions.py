"""Lambda extensions on both backends, end to end.

The extension under test (`tests/functions/extensions/layer/extensions/recorder`) prints what it
sees into the function's log stream and POSTs SHUTDOWN events and Telemetry API batches to a
collector the test runs where the environment reaches the host (the session network's gateway,
or loopback for the process backend), so each stage of the lifecycle is observed from outside
the environment. On the process backend the layer is a copy whose #! line finds the host's
python3 (`#!/var/lang/bin/python3` exists only in the runtime images).
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, Function, FunctionFactory, RuntimeName

RUNTIME: RuntimeName = "python3.13"
WAIT = 20.0  # seconds a collector waits for a delivery before the test fails


class Collector:
    """An HTTP endpoint on the host that records what extensions POST to it."""

    def __init__(self, host: str) -> None:
        self.received: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        collector = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self.send_response(200)
                self.end_headers()
                with collector._cond:
                    collector.received.append(doc)
                    collector._cond.notify_all()

            def log_message(self, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer((host, 0), Handler)
        self.url = f"http://{host}:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def wait_for(self, predicate: Any) -> list[dict[str, Any]]:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.received), WAIT), self.received
            return list(self.received)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def layer(functions_dir: Path, backend: BackendName, tmp_path: Path) -> Path:
    source = functions_dir / "extensions" / "layer"
    if backend == "docker":
        return source
    copy = tmp_path / "host-layer"
    shutil.copytree(source, copy)
    script = copy / "extensions" / "recorder"
    script.write_text("#!/usr/bin/env python3\n" + script.read_text().split("\n", 1)[1])
    return copy


@pytest.fixture
def collector(backend: BackendName, request: pytest.FixtureRequest) -> Iterator[Collector]:
    docker = None
    if backend == "docker":
        docker = request.getfixturevalue("lambda_service_docker").backend("docker")
        host = docker.network.gateway
    else:
        host = "127.0.0.1"
    c = Collector(host)
    port = int(c.url.rsplit(":", 1)[1].strip("/"))
    if docker is not None:  # functions reach only the host ports the session allows
        docker.host_ports.allow(port, "the test's collector")
    yield c
    if docker is not None:
        docker.host_ports.revoke(port)
    c.close()


@pytest.fixture
def lambda_service_docker(pytestconfig: pytest.Config, client: Any) -> Any:
    from pytest_lambda.plugin.state import STATE_KEY

    return pytestconfig.stash[STATE_KEY].service()


@pytest.fixture
def make_fn(lambda_function: Any, functions_dir: Path, layer: Path, collector: Collector,
            backend: BackendName, python_runtime: RuntimeName) -> Any:
    # On the host, the recorder cannot listen on sandbox.localdomain (only the container has it).
    listen = {"EXT_LISTEN_HOST": "127.0.0.1"} if backend == "process" else {}

    def make(layers: list[Path] | None = None, timeout: int = 3, **env: str) -> Any:
        return lambda_function(
            "app.handler", code=functions_dir / "extensions" / "fn", runtime=python_runtime,
            backend=backend, layers=layers or [layer], timeout=timeout,
            environment={"COLLECTOR_URL": collector.url, **listen, **env},
        )
    return make


def recorder_lines(logs: str, word: str) -> list[str]:
    return [line.split(f"[recorder] {word} ", 1)[1] for line in logs.splitlines()
            if line.startswith(f"[recorder] {word} ")]


def events_in(logs: str) -> list[dict[str, Any]]:
    return [json.loads(text) for text in recorder_lines(logs, "event")]


def test_lifecycle_register_invoke_shutdown(
    make_fn: Callable[..., Function], collector: Collector, backend: BackendName,
) -> None:
    fn = make_fn()
    trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
    first = fn.invoke({}, trace_id=trace)
    assert first.function_error is None, first.logs
    # Registered before the runtime started, with Lambda's register response.
    (registered,) = recorder_lines(first.logs, "registered")
    status, rest = registered.split(" ", 1)
    assert status == "200"
    body, rest = rest.split(" env ", 1)
    assert json.loads(body) == {"functionName": fn.name, "functionVersion": "$LATEST",
                                "handler": "app.handler"}
    env_text, argv = rest.split(" argv ", 1)
    seen = json.loads(env_text)
    opt = "/opt" if backend == "docker" else str(fn.config.opt_dir)
    assert json.loads(argv) == [f"{opt}/extensions/recorder"]
    assert not [k for k in seen if k.startswith("_")]  # no _HANDLER, _AWS_XRAY_*
    assert "AWS_XRAY_CONTEXT_MISSING" not in seen
    assert seen["AWS_LAMBDA_FUNCTION_NAME"] == fn.name
    assert first.logs.index("[recorder] registered") < first.logs.index("START RequestId")
    # One INVOKE per invocation, with the invocation's id, ARN and deadline.
    second = fn.invoke({})
    assert not second.cold_start
    for result in (first, second):
        (event,) = events_in(result.logs)
        assert event["eventType"] == "INVOKE"
        assert event["requestId"] == result.request_id == result.payload["request_id"]
        assert event["invokedFunctionArn"] == fn.arn
        assert isinstance(event["deadlineMs"], int)
        assert event["tracing"]["type"] == "X-Amzn-Trace-Id"
    # The caller's trace id, then a new one (Lambda gives every invocation one).
    assert events_in(first.logs)[0]["tracing"]["value"] == trace
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0",
                        events_in(second.logs)[0]["tracing"]["value"])
    assert events_in(first.logs)[0]["deadlineMs"] <= events_in(second.logs)[0]["deadlineMs"]
    # Tearing the environment down sends SHUTDOWN with reason spindown.
    fn.reset()
    received = collector.wait_for(lambda r: any(d["kind"] == "shutdown" for d in r))
    (shutdown,) = [d["document"] for d in received if d["kind"] == "shutdown"]
    assert shutdown["eventType"] == "SHUTDOWN"
    assert shutdown["shutdownReason"] == "spindown"
    assert isinstance(shutdown["deadlineMs"], int)


def test_an_extension_holding_the_invoke_delays_its_end(make_fn: Callable[..., Function]) -> None:
    fn = make_fn(EXT_HOLD_MS="300")
    result = fn.invoke({})
    assert result.function_error is None, result.logs
    logs = result.logs
    handled = logs.index(f"[function] handling {result.request_id}")
    holding = logs.index(f"[recorder] holding {result.request_id}")
    released = logs.index(f"[recorder] released {result.request_id}")
    end = logs.index(f"END RequestId: {result.request_id}")
    assert holding < released < end
    assert handled < end


def test_an_extension_holding_the_invoke_past_the_timeout_times_it_out(
    make_fn: Callable[..., Function], collector: Collector,
) -> None:
    fn = make_fn(EXT_HOLD_MS="1500", timeout=1)  # it asks for SHUTDOWN in time
    result = fn.invoke({})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Sandbox.Timedout"
    assert "Status: timeout" in result.logs
    received = collector.wait_for(lambda r: any(d["kind"] == "shutdown" for d in r))
    (shutdown,) = [d["document"] for d in received if d["kind"] == "shutdown"]
    assert shutdown["shutdownReason"] == "timeout"
    assert fn.invoke({}).cold_start  # the timed-out environment is gone


def test_a_runtime_crash_shuts_the_extensions_down_with_failure(
    make_fn: Callable[..., Function], collector: Collector,
) -> None:
    fn = make_fn()
    result = fn.invoke({"crash": True})
    assert result.payload["errorType"] == "Runtime.ExitError"
    assert "exit status 7" in result.payload["errorMessage"]
    received = collector.wait_for(lambda r: any(d["kind"] == "shutdown" for d in r))
    (shutdown,) = [d["document"] for d in received if d["kind"] == "shutdown"]
    assert shutdown["shutdownReason"] == "failure"


def test_an_extension_init_error_fails_the_init(make_fn: Callable[..., Function]) -> None:
    fn = make_fn(EXT_MODE="init_error")
    result = fn.invoke({})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Extension.ConfigMissing"
    assert ("INIT_REPORT Init Duration:" in result.logs
            and "Status: error\tError Type: Extension.ConfigMissing" in result.logs)
    assert "[function] handling" not in result.logs  # the runtime never ran


def test_an_extension_that_exits_during_init_is_a_crash(make_fn: Callable[..., Function]) -> None:
    fn = make_fn(EXT_MODE="crash")
    result = fn.invoke({})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Extension.Crash"
    assert "exit status 3" in result.payload["errorMessage"]
    assert "Error Type: Extension.Crash" in result.logs
    assert "[recorder] crashing" in result.logs


def test_the_disable_file_disables_extensions(
    make_fn: Callable[..., Function], layer: Path, tmp_path: Path,
) -> None:
    off = tmp_path / "off"
    off.mkdir()
    (off / "disable-extensions-jwigqn8j").write_text("")
    result = make_fn(layers=[layer, off]).invoke({})
    assert result.function_error is None, result.logs
    assert "[recorder]" not in result.logs


def test_a_directory_in_extensions_is_not_started(
    make_fn: Callable[..., Function], layer: Path, tmp_path: Path,
) -> None:
    other = tmp_path / "other"
    shutil.copytree(layer, other)
    (other / "extensions" / "recorder").unlink()
    (other / "extensions" / "subdir").mkdir()
    result = make_fn(layers=[other]).invoke({})
    assert result.function_error is None, result.logs
    assert "[recorder]" not in result.logs


def test_telemetry_subscriber_gets_function_logs_and_platform_events(
    make_fn: Callable[..., Function], collector: Collector,
) -> None:
    fn = make_fn(EXT_TELEMETRY="1")
    result = fn.invoke({})
    assert result.function_error is None, result.logs
    assert '[recorder] subscribed 200 "OK"' in result.logs
    rid = result.request_id

    def records(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [r for d in received if d["kind"] == "telemetry" for r in d["document"]]

    def has_report(received: list[dict[str, Any]]) -> bool:
        return any(r["type"] == "platform.report" and r["record"]["requestId"] == rid
                   for r in records(received))

    got = records(collector.wait_for(has_report))
    mine = [r for r in got if r["type"] == "function" or r["record"].get("requestId") == rid]
    kinds = [r["type"] for r in mine]
    assert kinds.index("platform.start") < kinds.index("platform.runtimeDone") < kinds.index(
        "platform.report")
    function_lines = [r["record"] for r in mine if r["type"] == "function"]
    assert f"[function] handling {rid}" in function_lines
    by_type = {r["type"]: r for r in mine}
    start = by_type["platform.start"]["record"]
    assert start == {"requestId": rid, "version": "$LATEST", "tracing": {
        "type": "X-Amzn-Trace-Id", "value": start["tracing"]["value"]}}
    assert start["tracing"]["value"].startswith("Root=1-")
    done = by_type["platform.runtimeDone"]["record"]
    assert done["status"] == "success" and set(done["metrics"]) == {"durationMs", "producedBytes"}
    report = by_type["platform.report"]["record"]
    assert report["status"] == "success"
    assert report["metrics"]["memorySizeMB"] == fn.config.memory_size
    assert {"durationMs", "billedDurationMs", "maxMemoryUsedMB", "initDurationMs"} <= set(
        report["metrics"])
    for record in mine:
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", record["time"])
    assert any(r["type"] == "platform.initReport" for r in got)
    # The init's own records: when it started, which runtime, which extensions subscribed.
    (init_start,) = [r for r in got if r["type"] == "platform.initStart"]
    # Init began well before the invocation did (Lambda stamps it with init's own start).
    assert init_start["time"] < by_type["platform.start"]["time"]
    assert init_start["record"]["runtimeVersion"]
    assert init_start["record"]["runtimeVersionArn"].startswith("arn:aws:lambda:")
    extension = [r["record"] for r in got if r["type"] == "platform.extension"]
    assert extension == [{"name": "recorder", "state": "Ready", "events": ["INVOKE", "SHUTDOWN"]}]
    subscription = [r["record"] for r in got if r["type"] == "platform.telemetrySubscription"]
    assert subscription == [{"name": "recorder", "state": "Subscribed",
                             "types": ["platform", "function"]}]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.parametrize("backend", ["process"], indirect=True)
def test_process_teardown_kills_the_extensions_and_their_children(
    make_fn: Callable[..., Function],
) -> None:
    fn = make_fn(EXT_CHILD="1", EXT_EVENTS="INVOKE")  # no SHUTDOWN: it runs until it is killed
    result = fn.invoke({})
    assert result.function_error is None, result.logs
    (line,) = recorder_lines(result.logs, "pids")
    pids = [int(word) for word in line.split()]
    assert all(_alive(pid) for pid in pids)
    fn.reset()
    deadline = time.monotonic() + WAIT
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not [pid for pid in pids if _alive(pid)]


@pytest.mark.parametrize("backend", ["process"], indirect=True)
def test_process_extension_whose_interpreter_is_missing_fails_the_init(
    lambda_function: FunctionFactory, functions_dir: Path, backend: BackendName,
    python_runtime: RuntimeName,
) -> None:
    fn = lambda_function(
        "app.handler", code=functions_dir / "extensions" / "fn", runtime=python_runtime,
        backend=backend, layers=[functions_dir / "extensions" / "layer"],  # #!/var/lang/bin/...
    )
    result = fn.invoke({})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "Extension.LaunchError"
    message = result.payload["errorMessage"]
    assert message.startswith("Extension recorder could not be started: its interpreter "
                              "/var/lang/bin/python3 (from its #! line) does not exist on this "
                              "host."), message
    assert "docker backend" in message and "#!/usr/bin/env python3" in message
    assert "Status: error\tError Type: Extension.LaunchError" in result.logs
    assert "[function] handling" not in result.logs  # the runtime never ran
