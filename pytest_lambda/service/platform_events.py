"""The platform records the Telemetry API gets for an environment's init and invocations."""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING

from pytest_lambda.backends.base import ExecutionEnvironment
from pytest_lambda.config.function import FunctionConfig
from pytest_lambda.config.runtimes import init_start_line
from pytest_lambda.runtime_api.lifecycle import Invocation
from pytest_lambda.service.reporting import (
    billed_ms,
)
from pytest_lambda.system import clock as _clock

if TYPE_CHECKING:
    pass

def runtime_version(before: str, config: FunctionConfig) -> tuple[str | None, str | None]:
    """Return the runtime version (and its ARN) the INIT_START line names, as telemetry does."""
    match = re.search(r"INIT_START Runtime Version: (\S+)(?:\s+Runtime Version ARN: (\S+))?",
                      before)
    if match is None:
        return None, None
    version, arn = match[1], match[2]
    if arn is None:
        region = config.arn.split(":")[3]
        arn = (f"arn:aws:lambda:{region}::runtime:"
               f"{hashlib.sha256(version.encode()).hexdigest()}")
    return version, arn


def init_start(config: FunctionConfig) -> str:
    """Return the INIT_START line: managed runtimes name their version, images have none."""
    if config.runtime is None:
        return ""
    return init_start_line(config.runtime.family, config.runtime.version, config.region)


def publish_init(env: ExecutionEnvironment, before: str, init_ms: float, status: str,
                  error_type: str | None) -> None:
    """Give the Logs and Telemetry subscribers the records of the init that just ended."""
    server = env.server
    ended_perf = server.ready_at if server.ready_at is not None else _clock.perf()
    ended_wall = _clock.wall() - (_clock.perf() - ended_perf)
    version, version_arn = runtime_version(before, env.config)
    output = "\n".join(line for line in before.splitlines()
                       if not line.startswith(("INIT_START", "INIT_REPORT")))
    server.telemetry.publish_init(
        started_wall=ended_wall - init_ms / 1000, ended_wall=ended_wall, output=output,
        status=status, error_type=error_type, init_ms=init_ms, runtime_version=version,
        runtime_version_arn=version_arn, extensions=server.extensions.records(),
    )

def publish_runtime_done(env: ExecutionEnvironment, invocation: Invocation, started: float,
                          output: str, status: str | None, error_type: str | None) -> None:
    """Give the subscribers the runtime's output and `platform.runtimeDone`."""
    produced = 0
    if status is None:  # the runtime answered
        if invocation.outcome == "response":
            status, produced = "success", len(invocation.body)
        elif invocation.outcome == "error":
            status, error_type = "error", invocation.error_type
        else:
            status, error_type = "error", "Function.ResponseSizeTooLarge"
    elif status == "error":
        status = "failure"
    end = invocation.finished_at or _clock.perf()
    env.server.telemetry.publish_runtime_done(
        request_id=invocation.request_id, wall=_clock.wall() - (_clock.perf() - end),
        output=output, status=status, error_type=error_type,
        duration_ms=(end - started) * 1000, produced_bytes=produced,
        trace_id=invocation.trace_id,
    )

def publish_report(env: ExecutionEnvironment, invocation: Invocation, output: str,
                    status: str | None, error_type: str | None, duration: float, memory: int,
                    init_ms: float | None) -> None:
    """Give the subscribers the invocation's `platform.report`."""
    if status is None:
        status = "error" if invocation.outcome == "error" else "success"
        error_type = invocation.error_type if status == "error" else None
    elif status == "error":
        status = "failure" if invocation.outcome is None else "error"
    env.server.telemetry.publish_report(
        request_id=invocation.request_id, wall=_clock.wall(), output=output, status=status,
        error_type=error_type, duration_ms=duration, billed_ms=billed_ms(duration),
        memory_mb=env.config.memory_size, max_memory_mb=memory, init_ms=init_ms,
        trace_id=invocation.trace_id,
    )
