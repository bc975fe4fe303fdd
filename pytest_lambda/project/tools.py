"""Running the host's package tools (pip, npm) for a build, and the error a failure becomes."""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from pytest_lambda.config.packaging import Target
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.project.reporting import shown
from pytest_lambda.system import clock as _clock
from pytest_lambda.system.locks import Progress

_HEARTBEAT_S = 15.0


class ToolFailed(Exception):
    """A tool exited with a failure `status`; `output` is what it printed."""

    def __init__(self, status: int, output: str) -> None:
        super().__init__(output)
        self.status = status
        self.output = output


def run_tool(cmd: Sequence[str], *, what: str, progress: Progress, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> str:
    """Run `cmd`, saying it still runs every 15 s; return its output, raise ToolFailed."""
    started = _clock.perf()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        try:
            proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        except OSError as exc:
            raise ToolFailed(127, f"cannot run {cmd[0]}: {exc}") from exc
        while True:
            try:
                proc.wait(timeout=_HEARTBEAT_S)
                break
            except subprocess.TimeoutExpired:
                progress(f"pytest-lambda: {what}: still working "
                         f"({_clock.perf() - started:.0f} s so far)")
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise ToolFailed(proc.returncode, text)
    return text


def install_error(manifest: Path, target: Target, who: str, message: str) -> ConfigurationError:
    return ConfigurationError(
        f"Cannot install the requirements of {who} ({shown(manifest)}) for "
        f"{target.describe()}: {message.rstrip('.')}. Fix the requirement, or pick a version "
        f"that has a wheel or a source distribution for this target."
    )
