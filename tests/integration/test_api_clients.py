"""Runtime, Extensions and Telemetry API behaviours, end to end with the real clients.

Each test here is a row of `docs/api-behaviours.md` that a real client runs into: awslambdaric's
error cause in a large header, the Node.js client's streamed responses, curl's
`Expect: 100-continue`, a custom runtime's work after it answered, an extension that waits for
`platform.runtimeDone` (as the OpenTelemetry collector's does), telemetry when init fails or an
invocation times out, and the trace id a runtime turns into `_X_AMZN_TRACE_ID`.
"""

from __future__ import annotations

import http.server
import json
import re
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pytest_lambda
from pytest_lambda import BackendName, FunctionFactory, InvokeError, RuntimeName

RUNTIME: RuntimeName = "python3.13"


TRACE = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0"
TRACE_RE = r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0"
WAIT = 20.0


@pytest.fixture
def wire_dir(functions_dir: Path) -> Path:
    return functions_dir / "wire"


def host_layer(source: Path, backend: BackendName, tmp_path: Path) -> Path:
    """Return the layer as the backend runs it: on the host, `#!` finds the host's python3."""
    if backend == "docker":
        return source
    copy = tmp_path / f"host-{source.name}"
    shutil.copytree(source, copy)
    for script in (copy / "extensions").iterdir():
        script.write_text("#!/usr/bin/env python3\n" + script.read_text().split("\n", 1)[1])
    return copy


def listen_env(backend: BackendName) -> dict[str, str]:
    # On the host an extension cannot listen on sandbox.localdomain (only a container has it).
    return {"EXT_LISTEN_HOST": "127.0.0.1"} if backend == "process" else {}


# -- 1. platform.runtimeDone before the extensions are done ------------------------------------

def test_an_extension_waiting_for_runtime_done_does_not_time_the_invocation_out(
    python_runtime: RuntimeName, lambda_function: FunctionFactory, wire_dir: Path,
    backend: BackendName, tmp_path: Path,
) -> None:
    fn = lambda_function(
        "app.handler", code=wire_dir / "python", runtime=python_runtime, backend=backend,
        timeout=5,
        layers=[host_layer(wire_dir / "waiter", backend, tmp_path)],
        environment={"WAITER_GIVE_UP": "30", **listen_env(backend)},
    )
    for _ in range(2):
        result = fn.invoke({})
        assert result.function_error is None, (result.payload, result.logs)
        assert f"[waiter] runtimeDone {result.request_id}" in result.logs
        assert "Status: timeout" not in result.logs


# -- 2. awslambdaric's error cause in a header of up to 1 MiB ---------------------------------

def test_a_100000_character_exception_reaches_the_caller(
    python_runtime: RuntimeName, lambda_function: FunctionFactory, wire_dir: Path,
    backend: BackendName,
) -> None:
    fn = lambda_function("app.raise_huge", code=wire_dir / "python", runtime=python_runtime,
                         backend=backend, timeout=10)
    result = fn.invoke({"length": 100_000})
    assert result.function_error == "Unhandled"
    assert result.payload["errorType"] == "ValueError", result.logs[-2000:]
    assert result.payload["errorMessage"] == "x" * 100_000
    # The runtime survived it: the environment stays warm.
    again = fn.invoke({"length": 10})
    assert not again.cold_start and again.payload["errorMessage"] == "x" * 10


# -- 3. streamed responses with the Node.js client ---------------------------------------------

@pytest.mark.parametrize("backend", ["docker"], indirect=True)
def test_a_streamed_response_that_throws_is_a_function_error(
    lambda_function: FunctionFactory, wire_dir: Path, backend: BackendName,
) -> None:
    fn = lambda_function("stream.handler", code=wire_dir / "node", runtime="nodejs22.x",
                         backend=backend, timeout=10)
    whole = fn.invoke({})
    assert whole.function_error is None, whole.logs
    assert whole.raw_payload == b"partial body"
    failed = fn.invoke({"fail": True})
    assert failed.function_error == "Unhandled", (failed.raw_payload, failed.logs)
    assert failed.payload["errorType"] == "Error"
    assert failed.payload["errorMessage"] == "failed mid-stream"


# -- 4 and 5. curl's Expect: 100-continue; the invocation ends at the next /next ----------------

@pytest.mark.parametrize("backend", ["docker", "process"], indirect=True)
def test_a_curl_bootstrap_posting_1_1_mb_gets_100_continue(
    lambda_function: FunctionFactory, wire_dir: Path, backend: BackendName,
) -> None:
    fn = lambda_function("unused.handler", code=wire_dir / "custom", runtime="provided.al2023",
                         backend=backend, timeout=10, environment={"RESPONSE_BYTES": "1100000"})
    result = fn.invoke({})
    assert result.function_error is None, result.logs
    assert result.raw_payload == b"r" * 1_100_000
    # curl asked, and was answered at once instead of waiting a second to send anyway.
    assert "> Expect: 100-continue" in result.logs
    assert "< HTTP/1.1 100 Continue" in result.logs, result.logs


def test_output_after_the_response_belongs_to_its_invocation(
    lambda_function: FunctionFactory, wire_dir: Path, backend: BackendName,
) -> None:
    fn = lambda_function("unused.handler", code=wire_dir / "custom", runtime="provided.al2023",
                         # One vCPU: bash and curl at 128 MB's share took 7.6 s an event in ci20.
                         backend=backend, timeout=10, memory_size=1769,
                         environment={"RESPONSE_BYTES": "10"})
    first = fn.invoke({})
    second = fn.invoke({})
    for result in (first, second):
        assert result.function_error is None, result.logs
        line = f"after response {result.request_id}"
        start = result.logs.index(f"START RequestId: {result.request_id}")
        end = result.logs.index(f"END RequestId: {result.request_id}")
        assert start < result.logs.index(line) < end, result.logs
    assert f"after response {first.request_id}" not in second.logs
    # Lambda counts the 0.2 s the runtime spent after answering.
    assert first.duration_ms >= 200 and second.duration_ms >= 200


# -- 6. telemetry when init fails, and for an invocation that ends the environment --------------

class Collector:
    """An HTTP endpoint on the host that records what the recorder extension POSTs."""

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

    def records(self) -> list[dict[str, Any]]:
        return [r for d in self.received if d["kind"] == "telemetry" for r in d["document"]]

    def wait_for(self, predicate: Any) -> list[dict[str, Any]]:
        with self._cond:
            assert self._cond.wait_for(lambda: predicate(self.records()), WAIT), self.received
            return self.records()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def collector(backend: BackendName, request: pytest.FixtureRequest) -> Iterator[Collector]:
    from pytest_lambda.backends.docker.environment import DockerBackend

    docker: DockerBackend | None = None
    if backend == "docker":
        from pytest_lambda.plugin.state import STATE_KEY

        request.getfixturevalue("client")
        made = request.config.stash[STATE_KEY].service().backend("docker")
        assert isinstance(made, DockerBackend)
        docker = made
        host = docker.network.gateway
    else:
        host = "127.0.0.1"
    collector = Collector(host)
    port = int(collector.url.rsplit(":", 1)[1].strip("/"))
    if docker is not None:  # functions reach only the host ports the session allows
        docker.host_ports.allow(port, "the test's collector")
    yield collector
    if docker is not None:
        docker.host_ports.revoke(port)
    collector.close()


@pytest.fixture
def recorder(functions_dir: Path, backend: BackendName, tmp_path: Path) -> Path:
    return host_layer(functions_dir / "extensions" / "layer", backend, tmp_path)


def test_telemetry_is_delivered_when_init_fails(
    python_runtime: RuntimeName, lambda_function: FunctionFactory, functions_dir: Path,
    backend: BackendName, recorder: Path, collector: Collector,
) -> None:
    fn = lambda_function(
        "importerr.handler", code=functions_dir / "initfail", runtime=python_runtime,
        backend=backend,
        layers=[recorder], environment={"COLLECTOR_URL": collector.url, "EXT_TELEMETRY": "1",
                                        **listen_env(backend)},
    )
    result = fn.invoke({})
    assert result.payload["errorType"] == "Runtime.ImportModuleError"
    got = collector.wait_for(lambda rs: any(r["type"] == "platform.initReport" for r in rs))
    by_type = {r["type"]: r for r in got}
    assert by_type["platform.initStart"]["time"] <= by_type["platform.initReport"]["time"]
    done = by_type["platform.initRuntimeDone"]["record"]
    assert done["status"] == "error" and done["errorType"] == "Runtime.ImportModuleError"
    assert by_type["platform.initReport"]["record"]["status"] == "error"


def test_telemetry_of_a_timed_out_invocation_is_delivered(
    python_runtime: RuntimeName, lambda_function: FunctionFactory, functions_dir: Path,
    backend: BackendName, recorder: Path, collector: Collector,
) -> None:
    fn = lambda_function(
        "app.handler", code=functions_dir / "extensions" / "fn", runtime=python_runtime,
        # One vCPU: at 128 MB's share a loaded machine kept the extension from taking the
        # report's batch within the shutdown phase (ci20).
        backend=backend, layers=[recorder], timeout=1, memory_size=1769,
        environment={"COLLECTOR_URL": collector.url, "EXT_TELEMETRY": "1",
                     **listen_env(backend)},
    )
    result = fn.invoke({"sleep": 3})
    assert result.payload["errorType"] == "Sandbox.Timedout"

    def has_report(records: list[dict[str, Any]]) -> bool:
        return any(r["type"] == "platform.report"
                   and r["record"]["requestId"] == result.request_id for r in records)

    got = collector.wait_for(has_report)
    mine = {r["type"]: r["record"] for r in got
            if isinstance(r["record"], dict) and r["record"].get("requestId") == result.request_id}
    assert mine["platform.runtimeDone"]["status"] == "timeout"
    assert mine["platform.report"]["status"] == "timeout"


# -- 10. the trace id -------------------------------------------------------------------------

@pytest.fixture
def traced_code(wire_dir: Path, tmp_path: Path) -> Path:
    """Return the trace handler with Powertools (and what its Logger imports) beside it."""
    import aws_lambda_powertools
    import jmespath
    import typing_extensions

    code = tmp_path / "traced"
    shutil.copytree(wire_dir / "python", code)
    shutil.copytree(Path(aws_lambda_powertools.__file__).parent, code / "aws_lambda_powertools",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(Path(jmespath.__file__).parent, code / "jmespath",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(typing_extensions.__file__, code / "typing_extensions.py")
    return code


def test_each_invocation_gets_a_trace_id(
    python_runtime: RuntimeName, lambda_function: FunctionFactory, traced_code: Path,
    backend: BackendName,
) -> None:
    # One vCPU: importing Powertools uncompiled (a read-only /var/task keeps no byte code) at
    # 128 MB's share outlasts the timeout on a busy machine.
    fn = lambda_function("app.trace", code=traced_code, runtime=python_runtime,
                         backend=backend, timeout=10, memory_size=1769)
    first, second = fn.invoke({}), fn.invoke({})
    assert re.fullmatch(TRACE_RE, first.payload["env"]), first.logs
    assert re.fullmatch(TRACE_RE, second.payload["env"])
    assert first.payload["env"] != second.payload["env"]
    given = fn.invoke({"powertools": True}, trace_id=TRACE)
    assert given.function_error is None, given.logs
    assert given.payload["env"] == TRACE
    assert given.payload["logger"]["xray_trace_id"] == "1-5759e988-bd862e3fe1be46a994272793"


def test_a_malformed_trace_id_is_refused_in_one_sentence(
    lambda_function: FunctionFactory, wire_dir: Path,
) -> None:
    fn = lambda_function("app.handler", code=wire_dir / "python", runtime=RUNTIME,
                         backend="process")
    with pytest.raises(InvokeError, match=r"^trace_id='nope' is not an X-Ray trace header"):
        fn.invoke({}, trace_id="nope")


def test_invoke_handler_sets_the_trace_id_for_the_call_only(
    monkeypatch: pytest.MonkeyPatch, wire_dir: Path,
) -> None:
    import importlib.util

    monkeypatch.delenv("_X_AMZN_TRACE_ID", raising=False)
    spec = importlib.util.spec_from_file_location("wire_trace_app", wire_dir / "python" / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    result = pytest_lambda.invoke_handler(module.trace, {"powertools": True})
    assert re.fullmatch(TRACE_RE, result.payload["env"])
    root = result.payload["env"].split(";")[0][len("Root="):]
    assert result.payload["logger"]["xray_trace_id"] == root
    import os

    assert "_X_AMZN_TRACE_ID" not in os.environ
