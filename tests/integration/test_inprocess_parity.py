"""`invoke_handler` (in the test process) against the Docker backend, for one handler.

The two paths share the `InvokeResult` type; this shows they fill it the same way: the same
payloads and error documents (request ids and file paths aside), the same flags and logs framing.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendName, FunctionFactory, InvokeResult, RuntimeName, invoke_handler

PARITY = Path(__file__).resolve().parent.parent / "functions" / "parity"

docker_only = pytest.mark.parametrize("backend", ["docker"], indirect=True)
pytestmark = docker_only

CASES = {
    "success": {"action": "echo", "n": [1, 2.5, None, "é"]},
    "exception": {"action": "raise", "key": "order_id"},
    "decimal": {"action": "decimal"},
    "unserialisable": {"action": "unserialisable"},
    "timeout": {"action": "sleep", "seconds": 10},
    "output": {"action": "print"},
}


def _handler() -> Any:
    spec = importlib.util.spec_from_file_location("parity_app", PARITY / "app.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.handler


def _comparable(result: InvokeResult) -> dict[str, Any]:
    """What must agree between the two paths: ids, paths and timings masked."""
    def mask(value: Any) -> Any:
        if isinstance(value, str):
            return value.replace(result.request_id, "<id>")
        if isinstance(value, dict):
            return {k: mask(v) for k, v in value.items() if k != "requestId"}
        return value

    error = mask(result.error) if result.error is not None else None
    if error is not None and "stackTrace" in error:
        assert isinstance(error["stackTrace"], list)
        assert all(isinstance(line, str) for line in error["stackTrace"])
        error["stackTrace"] = "<list of str>"
    lines = result.logs.splitlines()
    return {
        "status_code": result.status_code,
        "function_error": result.function_error,
        "payload": mask(result.payload) if result.error is None else None,
        "error": error,
        "logs_framing": (
            lines[0].startswith(f"START RequestId: {result.request_id} Version: $LATEST")
            if not result.cold_start else any(line.startswith("START ") for line in lines),
            lines[-2] == f"END RequestId: {result.request_id}",
            lines[-1].startswith(f"REPORT RequestId: {result.request_id}\tDuration: "),
        ),
        "handler_output": [line for line in lines if "a line from the handler" in line] != [],
        "billed_is_duration_rounded_up": result.billed_duration_ms >= result.duration_ms,
        "request_id_in_timeout_message": (
            result.request_id in result.error["errorMessage"]
            if result.error and result.error["errorType"] == "Sandbox.Timedout" else None
        ),
    }


@pytest.mark.parametrize("case", list(CASES))
def test_in_process_and_container_results_agree(
    case: str, backend: BackendName, lambda_function: FunctionFactory, python_runtime: RuntimeName,
) -> None:
    event = CASES[case]
    fn = lambda_function("app.handler", code=PARITY, runtime=python_runtime, backend=backend,
                         timeout=1, memory_size=256, name="parity")
    in_container = fn.invoke(event)
    in_process = invoke_handler(_handler(), event, timeout=1, memory_size=256,
                                function_name="parity")
    assert _comparable(in_process) == _comparable(in_container)
    if case == "unserialisable":
        assert in_process.error is not None
        assert in_process.error["errorType"] == "Runtime.MarshalError"
    if case == "exception":
        assert in_process.error is not None
        assert in_process.error["errorType"] == "KeyError"
        assert in_container.error is not None
        assert re.match(r"  File \".*app\.py\", line \d+, in handler\n",
                        in_container.error["stackTrace"][0])
