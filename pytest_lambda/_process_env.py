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

Extensions in the layers' `extensions/` directory are host processes too, started before the
runtime by the same rule as on Docker. Everything writes into one pipe, the environment's log
stream; the runtime waits at a gate (`_GATE`) until every launched extension has registered or
exited, and each process leads its own process group, so that teardown kills what it spawned.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from . import _peers
from ._config import FunctionConfig
from ._environment import Credentials, ExecutionEnvironment, ExitInfo, lambda_environment
from ._errors import BackendUnavailableError, EnvironmentStartError
from ._extensions import extension_environment, external_extensions
from ._logs import LogPump

_BOOTSTRAP = Path(__file__).parent / "_bootstrap" / "python_bootstrap.py"

# With extensions the runtime starts behind this gate: it reads one line from its stdin, which
# the harness writes (GO) once every launched extension has registered or exited, or closes.
_GATE = 'read -r go && [ "$go" = GO ] && exec "$@" </dev/null'


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
        "extensions run as host processes (their #! interpreter must exist on the host)",
        "no network isolation: functions reach whatever the host reaches",
    ]
    if not _peers.available():
        items.append("the Runtime API port is open to every local process (no /proc here to "
                     "tell the environment's own connections)")
    return items


def _launch_problem(path: Path, exc: OSError) -> str:
    """Return, in a sentence or two, why the extension at `path` could not be started."""
    if exc.errno == errno.ENOENT and path.exists():
        try:
            with open(path, "rb") as f:
                first = f.readline(512)
        except OSError:
            first = b""
        words = first[2:].decode("utf-8", "replace").split() if first.startswith(b"#!") else []
        if words and not os.path.exists(words[0]):
            return (f"its interpreter {words[0]} (from its #! line) does not exist on this host. "
                    f"The process backend runs extensions as host processes: use the docker "
                    f"backend, or a #! line that finds the interpreter on the host, such as "
                    f"#!/usr/bin/env python3.")
    if exc.errno == errno.EACCES:
        return "permission denied (make the file executable)."
    return f"{exc.strerror or exc}."


class ProcessEnvironment(ExecutionEnvironment):
    """Run the runtime as a subprocess of the test process."""

    backend = "process"

    def __init__(self, config: FunctionConfig, *, credentials: Credentials,
                 log_stream_name: str) -> None:
        super().__init__(config, server_host="127.0.0.1")
        self._credentials = credentials
        self._log_stream_name = log_stream_name
        self._proc: subprocess.Popen[bytes] | None = None
        self._extensions: list[subprocess.Popen[bytes]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._lock = threading.Lock()
        self._launching = True

    def authorize_peer(self, peer: tuple[str, int]) -> bool | None:
        # Only a process of this environment (see `_peers`) may use its Runtime API.
        if not _peers.available():
            return True  # no /proc: the header says the port is open to local processes
        if peer[0] != self.server.host:
            return False
        inode = _peers.socket_inode(peer, (self.server.host, self.server.port))
        leaders = [proc.pid for proc in (self._proc, *self._extensions) if proc is not None]
        if inode is not None and leaders and _peers.held_by_sessions(inode, leaders):
            return True
        return None if self._launching else False

    def start(self) -> None:
        try:
            self._start()
        finally:
            self._launching = False
            self.server.admit_waiting()

    def _start(self) -> None:
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
        extensions = external_extensions(config.opt_dir)
        # One stream for the runtime and the extensions: its end (every writer gone) is the end
        # of the environment; the runtime's own exit is watched separately when extensions run.
        read_fd, write_fd = os.pipe()
        self.logs = LogPump(read_fd, on_eof=self._on_runtime_exit, name="lambda-process-logs")
        try:
            if extensions and not self._launch_extensions(extensions, env, write_fd):
                return  # one could not start: the init has failed, the runtime never runs
            if extensions:
                argv = ["/bin/sh", "-c", _GATE, "pytest-lambda", *argv]
            self._proc = self._spawn(argv, env, write_fd, gated=bool(extensions))
        except OSError as exc:
            self.destroy()
            raise EnvironmentStartError(
                f"Could not start the runtime process for {config.name}: {exc}."
            ) from None
        finally:
            os.close(write_fd)
        if extensions:
            names = [path.name for path in extensions]
            threading.Thread(target=self._open_gate, args=(names,), daemon=True,
                             name="lambda-process-gate").start()
            threading.Thread(target=self._watch_runtime, args=(self._proc,), daemon=True,
                             name="lambda-process-runtime").start()

    def _spawn(self, argv: list[str], env: dict[str, str], output: int, *,
               gated: bool = False) -> subprocess.Popen[bytes]:
        # Each process leads a process group of its own: SIGTERM reaches the runtime alone, and
        # teardown kills every group, with whatever its members spawned.
        return subprocess.Popen(
            argv,
            cwd=str(self.config.code_dir),
            env=env,
            stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            bufsize=0,
        )

    def _launch_extensions(self, paths: list[Path], env: dict[str, str], output: int) -> bool:
        """Start every extension (argv = its path); False when one could not start."""
        ext_env = extension_environment(env)
        self.server.extensions.expect([path.name for path in paths])  # before one can register
        for path in paths:
            try:
                proc = self._spawn([str(path)], ext_env, output)
            except OSError as exc:
                self.server.extensions.launch_failed(path.name, _launch_problem(path, exc))
                return False
            self._extensions.append(proc)
            threading.Thread(target=self._watch_extension, args=(path.name, proc), daemon=True,
                             name="lambda-process-extension").start()
        return True

    def _open_gate(self, names: list[str]) -> None:
        """Let the runtime start once every launched extension registered or exited."""
        go = self.server.extensions.announce(names)
        assert self._proc is not None and self._proc.stdin is not None
        try:
            if go:
                self._proc.stdin.write(b"GO\n")
            self._proc.stdin.close()
        except OSError:
            pass  # the runtime was killed at the gate

    def _watch_extension(self, name: str, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        if not self._destroyed:  # as the shell reports it: 128 + the signal that killed it
            self.server.extensions.extension_exited(name, 128 - code if code < 0 else code)

    def _watch_runtime(self, proc: subprocess.Popen[bytes]) -> None:
        proc.wait()
        self._on_runtime_exit()

    def signal_runtime(self, kill: bool) -> None:
        if self._proc is None:
            return
        if not kill:
            self._proc.send_signal(signal.SIGTERM)  # a no-op once it has been reaped
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)  # the runtime and its children
        except OSError:
            pass

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
        procs = [p for p in (self._proc, *self._extensions) if p is not None]
        for proc in procs:
            # Even when it has exited: a child of it may still be in its group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        for proc in procs:
            try:
                proc.wait(timeout=5)
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
