"""Execution environments as host processes, for machines without a Docker engine.

The runtime is the same bootstrap and the same `awslambdaric` as in the images, run by the
host's Python with Lambda's variables set in the child only. What a process cannot match is
stated by `differences()` and shown in the pytest header: the Python version is the host's, the
task root is the code directory (not `/var/task`), the user is the test's, and there is no
read-only file system, memory limit or CPU share. Layers cannot be mounted at /opt: the merged
tree's path goes to the bootstrap (`_PYTEST_LAMBDA_OPT`, for `sys.path`) and replaces /opt/bin
and /opt/lib in PATH and LD_LIBRARY_PATH, but code that opens "/opt/..." literally finds nothing.

Custom runtimes (provided.*) run the function's own `bootstrap` the same way, found by the
custom-runtime images' /var/runtime/bootstrap (the code's first, then the layers'). Node.js
runtimes are refused: their runtime interface client is compiled into the runtime images only.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from ._config import FunctionConfig
from ._environment import Credentials, ExecutionEnvironment, ExitInfo, lambda_environment
from ._errors import BackendUnavailableError, EnvironmentStartError
from ._logs import LogPump

_BOOTSTRAP = Path(__file__).parent / "_bootstrap" / "python_bootstrap.py"


def check_available() -> None:
    """Raise BackendUnavailableError unless the host Python can run `awslambdaric`."""
    import importlib.util

    if importlib.util.find_spec("awslambdaric") is None:
        raise BackendUnavailableError(
            "The process backend needs AWS's runtime interface client in this Python: "
            "pip install 'pytest-aws-lambda[process]' (or awslambdaric)."
        )


def _runtime_command(
    config: FunctionConfig, scratch: Path
) -> tuple[list[str], str, dict[str, str]]:
    """Return (argv, LAMBDA_RUNTIME_DIR, extra variables) that start `config`'s runtime here.

    Python runs the package's bootstrap with the host's interpreter; a custom runtime runs the
    custom-runtime images' /var/runtime/bootstrap, which finds the function's own bootstrap.
    """
    assert config.runtime is not None
    family = config.runtime.family
    if family == "python":
        return [sys.executable, "-u", str(_BOOTSTRAP)], str(_BOOTSTRAP.parent), {}
    if family == "provided":
        from ._images import runtime_images_dir

        runtime_dir = runtime_images_dir() / "provided"
        # The host's /opt is not the function's: without layers, name an empty place instead.
        opt = str(config.opt_dir) if config.opt_dir is not None else str(scratch / "opt")
        return (["/bin/bash", str(runtime_dir / "bootstrap")], str(runtime_dir),
                {"_PYTEST_LAMBDA_OPT": opt})
    raise _unsupported(config.runtime.name)


#: The runtime families the process backend can start.
SUPPORTED_FAMILIES = ("python", "provided")


def _unsupported(runtime: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"The process backend cannot run {runtime} functions (AWS's Node.js runtime interface "
        f"client is built only into the runtime images): use --lambda-backend=docker or "
        f"backend='docker'."
    )


def differences(runtime_version: str | None = None) -> list[str]:
    """Return, in plain words, where the process backend differs from Lambda."""
    host = "{}.{}".format(*sys.version_info[:2])
    items = [
        f"Python is the host's {host}"
        + (f" (not {runtime_version})" if runtime_version and runtime_version != host else ""),
        "code runs from its own directory, not /var/task",
        "runs as the test's user on a writable file system",
        "no memory limit or CPU share",
        "layers are not at /opt (sys.path, PATH and LD_LIBRARY_PATH point into their merged "
        "tree, but code that opens /opt/... finds nothing)",
    ]
    return items


class ProcessEnvironment(ExecutionEnvironment):
    """Run the runtime as a subprocess of the test process."""

    backend = "process"

    def __init__(self, config: FunctionConfig, *, credentials: Credentials,
                 log_stream_name: str) -> None:
        super().__init__(config, server_host="127.0.0.1")
        self._credentials = credentials
        self._log_stream_name = log_stream_name
        self._proc: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        config = self.config
        self._tmp = tempfile.TemporaryDirectory(prefix=f"pytest-lambda-{config.name}-")
        argv, runtime_dir, extra = _runtime_command(config, Path(self._tmp.name))
        env = lambda_environment(
            config,
            runtime_api=self.server.address,
            log_stream_name=self._log_stream_name,
            credentials=self._credentials,
            task_root=str(config.code_dir),
            runtime_dir=runtime_dir,
        )
        # The host's interpreter lives outside Lambda's PATH; keep the host's PATH after Lambda's.
        env["PATH"] = env["PATH"] + os.pathsep + os.environ.get("PATH", "")
        env["HOME"] = self._tmp.name
        if config.opt_dir is not None:
            opt = str(config.opt_dir)
            env["_PYTEST_LAMBDA_OPT"] = opt
            # In Lambda's position (last), so a layer's binary never shadows the system's.
            for var in ("PATH", "LD_LIBRARY_PATH"):
                if var in env:
                    env[var] = os.pathsep.join(
                        opt + p[len("/opt"):] if p in ("/opt/bin", "/opt/lib") else p
                        for p in env[var].split(os.pathsep)
                    )
        env["TMPDIR"] = self._tmp.name
        env.update(extra)
        try:
            self._proc = subprocess.Popen(
                argv,
                cwd=str(config.code_dir),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            self.destroy()
            raise EnvironmentStartError(
                f"Could not start the runtime process for {config.name}: {exc}."
            ) from None
        assert self._proc.stdout is not None
        fd = os.dup(self._proc.stdout.fileno())
        self._proc.stdout.close()
        self.logs = LogPump(fd, on_eof=self._on_runtime_exit, name="lambda-process-logs")

    def max_memory_used_mb(self) -> int:
        if self._proc is None:
            return 0
        try:
            with open(f"/proc/{self._proc.pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        return max(1, round(int(line.split()[1]) / 1024))
        except OSError:
            pass
        return 0

    def exit_info(self) -> ExitInfo:
        if self._proc is None:
            return ExitInfo(code=-1)
        try:
            code = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            return ExitInfo(code=-1)
        if code < 0:
            return ExitInfo(code=code, signal=-code)
        return ExitInfo(code=code)

    def destroy(self) -> None:
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
        self.server.close()
        if self._proc is not None and self._proc.poll() is None:
            try:
                os.killpg(self._proc.pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.logs is not None:
            self.logs.close()
        if self._tmp is not None:
            self._tmp.cleanup()


class ProcessBackend:
    """Make `ProcessEnvironment`s."""

    name = "process"

    def __init__(self) -> None:
        check_available()
        self.credentials = Credentials.generate()

    def create(self, config: FunctionConfig, *, log_stream_name: str) -> ProcessEnvironment:
        if config.runtime is not None and config.runtime.family not in SUPPORTED_FAMILIES:
            raise _unsupported(config.runtime.name)
        return ProcessEnvironment(config, credentials=self.credentials,
                                  log_stream_name=log_stream_name)

    def close(self) -> None:
        """Nothing outlives the environments themselves."""
