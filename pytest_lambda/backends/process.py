"""Execution environments as host processes, for machines without a Docker engine.

The runtime is the same bootstrap and the same `awslambdaric` as in the images, run with Lambda's
variables set in the child only, by a host interpreter of the runtime's Python version (the
test's own when the versions match, else `python3.X` on PATH; none found: the function is
refused). The interpreter runs without site-packages (`-S`) in Lambda's variables only, and
the bootstrap drops its own directory from `sys.path`, which then holds the code, the layers'
python directories, one directory with only `awslambdaric` and its dependencies
(`runtime_client_dir`) and one with only the images' pinned boto3 and its dependencies
(`sdk_dir`), each made once per interpreter version in the cache: not the test's virtualenv,
not the checkout. What a process cannot match is stated by `differences()` and shown
in the pytest header: the task root is the code directory (not `/var/task`), the user is the
test's, and there is no read-only file system, memory limit, CPU share, process limit or
network isolation.
Layers cannot be mounted at /opt: the merged tree's path goes to the bootstrap
(`_PYTEST_LAMBDA_OPT`, for `sys.path`) and replaces /opt/bin and /opt/lib in PATH and
LD_LIBRARY_PATH, but code that opens "/opt/..." literally finds nothing.

Custom runtimes (provided.*) run the function's own `bootstrap` the same way, found by the
custom-runtime images' /var/runtime/bootstrap (the code's first, then the layers'). Node.js
runtimes are refused: their runtime interface client is compiled into the runtime images only.

Extensions in the layers' `extensions/` directory are host processes too, started before the
runtime by the same rule as on Docker. Each writes into a pipe of its own, merged line by line
into the environment's log stream; the runtime waits at a gate (`_GATE`) until every launched
extension has registered or exited, and each process leads its own process group, so that
teardown kills what it spawned.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import tempfile
import threading
from pathlib import Path

from pytest_lambda.backends import peers as _peers
from pytest_lambda.backends.base import (
    AwsAccess,
    Credentials,
    ExecutionEnvironment,
    ExitInfo,
    lambda_environment,
)
from pytest_lambda.backends.host_python import find_python, no_python, runtime_client_dir, sdk_dir
from pytest_lambda.backends.instrument import (
    Instruments,
    check_debug_port,
    instrumented,
    pycache_dir,
)
from pytest_lambda.backends.logs import LogPump
from pytest_lambda.config import limits as _limits
from pytest_lambda.config.function import FunctionConfig
from pytest_lambda.errors import BackendUnavailableError, EnvironmentStartError
from pytest_lambda.images.bootstrap import PYTHON_BOOTSTRAP
from pytest_lambda.runtime_api.extensions import extension_environment, external_extensions
from pytest_lambda.system.children import ProcessRecord, popen, sweep_dead

_BOOTSTRAP = PYTHON_BOOTSTRAP

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

    Python runs the package's bootstrap with an isolated interpreter of the runtime's version;
    a custom runtime runs the custom-runtime images' /var/runtime/bootstrap, which finds the
    function's own bootstrap.
    """
    assert config.runtime is not None
    family = config.runtime.family
    # The host's /opt is not the function's: without layers, name an empty place instead.
    opt = str(config.opt_dir) if config.opt_dir is not None else str(scratch / "opt")
    if family == "python":
        version = config.runtime.version
        python = find_python(version)
        if python is None:
            raise no_python(config.runtime.name, version)
        # Lambda's /var/runtime: the client, then boto3, after the code and the layers.
        runtime_dirs = (runtime_client_dir(version), sdk_dir(version))
        extra = {"_PYTEST_LAMBDA_RIC": os.pathsep.join(str(d) for d in runtime_dirs),
                 "_PYTEST_LAMBDA_OPT": opt}
        # -S: no site-packages at all (the test's virtualenv's, the system's, the user's). The
        # environment is Lambda's, not the test's, so PYTHON* variables are the function's own
        # (PYTHONPATH is honoured, as Lambda's runtimes honour it).
        # Lambda's /var/task is read-only: the byte code the runtime compiles goes to the cache
        # (`sys.pycache_prefix`, set by -X so the environment shows no variable for it), never
        # into the function's code or the layers.
        return ([python, "-S", "-u", "-X", f"pycache_prefix={pycache_dir()}", str(_BOOTSTRAP)],
                str(_BOOTSTRAP.parent), extra)
    if family == "provided":
        from pytest_lambda.images.recipes import runtime_images_dir

        runtime_dir = runtime_images_dir() / "provided"
        return (["/bin/bash", str(runtime_dir / "bootstrap")], str(runtime_dir),
                {"_PYTEST_LAMBDA_OPT": opt})
    raise _unsupported(config.runtime.name)


_XRAY_LOOPBACK = {"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
                  "_AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1", "_AWS_XRAY_DAEMON_PORT": "2000"}

#: The runtime families the process backend can start.
SUPPORTED_FAMILIES = ("python", "provided")


def _unsupported(runtime: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"The process backend cannot run {runtime} functions (AWS's Node.js runtime interface "
        f"client is built only into the runtime images): use --lambda-backend=docker or "
        f"backend='docker'."
    )


def python_interpreters() -> str:
    """Return which host interpreter serves each Python runtime, as the header shows it."""
    from pytest_lambda.config.runtimes import RUNTIMES

    served = []
    for name, runtime in sorted(RUNTIMES.items()):
        if runtime.family == "python":
            python = find_python(runtime.version)
            served.append(f"{name} on {python}" if python else
                          f"{name} refused (no python{runtime.version} on PATH)")
    return ", ".join(served)


def differences() -> list[str]:
    """Return, in plain words, where the process backend differs from Lambda."""
    items = [
        f"Python runs on the host's interpreter of the runtime's version ({python_interpreters()})"
        f", isolated: only the code, the layers, awslambdaric and the images' pinned boto3 are "
        f"importable, but it is not Lambda's build (the host's system libraries)",
        "code runs from its own directory, not /var/task",
        "runs as the test's user on a writable file system; /tmp is the host's",
        "no memory limit, CPU share or process limit",
        "the host's network: names resolve and calls leave the machine",
        "AWS_XRAY_DAEMON_ADDRESS is 127.0.0.1:2000, not Lambda's 169.254.79.129:2000",
        "layers are not at /opt (sys.path, PATH and LD_LIBRARY_PATH point into their merged "
        "tree, but code that opens /opt/... finds nothing)",
        "extensions run as host processes (their #! interpreter must exist on the host)",
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
                 log_stream_name: str, endpoint_url: str | None = None) -> None:
        super().__init__(config, server_host="127.0.0.1")
        self._credentials = credentials
        self._endpoint_url = endpoint_url
        self._log_stream_name = log_stream_name
        self._proc: subprocess.Popen[bytes] | None = None
        self._extensions: list[subprocess.Popen[bytes]] = []
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._record: ProcessRecord | None = None
        self._lock = threading.Lock()
        # The runtime is reaped by `_reap` alone (wait4), which keeps its peak memory: once it
        # has exited, /proc has no figure left for it (an init failure reported 0 MB).
        self._reaped = threading.Event()
        self._peak_kb = 0
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
        self._record = ProcessRecord(Path(self._tmp.name))
        argv, runtime_dir, extra = _runtime_command(config, Path(self._tmp.name))
        env = lambda_environment(
            config,
            runtime_api=self.server.address,
            log_stream_name=self._log_stream_name,
            credentials=self._credentials,
            task_root=str(config.code_dir),
            runtime_dir=runtime_dir,
            endpoint_url=self._endpoint_url,
            lambda_endpoint_url=self.lambda_endpoint_url,
            initialization_type=self.initialization_type,
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
        # Nothing listens at Lambda's X-Ray daemon address on a host, and packets to a
        # link-local address could leave the machine: the process backend names loopback.
        for var, value in _XRAY_LOOPBACK.items():
            if var not in config.env:
                env[var] = value
        env.update(extra)
        if instrumented(config, self.coverage):
            # The launcher runs in front of the bootstrap, under the same interpreter.
            if config.debug_port is not None:
                check_debug_port(config.debug_port)
            self.instruments = tools = Instruments(config, self.coverage)
            argv = [*argv[:-1], str(tools.tools / "instrument.py"), argv[-1]]
            env["_PYTEST_LAMBDA_INSTRUMENT"] = tools.spec(
                tools=str(tools.tools), state=str(tools.state), task_root=str(config.code_dir),
                debug_host="127.0.0.1",
            )
        extensions = external_extensions(config.opt_dir)
        # A pipe for the runtime and one for each extension, merged line by line: the end of
        # them all is the end of the environment; the runtime's own exit is watched separately
        # when extensions run.
        read_fd, write_fd = os.pipe()
        self.logs = LogPump(read_fd, on_eof=self._on_runtime_exit, name="lambda-process-logs")
        try:
            if extensions and not self._launch_extensions(extensions, env):
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
        threading.Thread(target=self._reap, args=(self._proc, bool(extensions)), daemon=True,
                         name="lambda-process-runtime").start()
        if extensions:
            names = [path.name for path in extensions]
            threading.Thread(target=self._open_gate, args=(names,), daemon=True,
                             name="lambda-process-gate").start()

    def _spawn(self, argv: list[str], env: dict[str, str], output: int, *,
               gated: bool = False) -> subprocess.Popen[bytes]:
        # Each process leads a process group of its own: SIGTERM reaches the runtime alone, and
        # teardown kills every group, with whatever its members spawned. It dies with pytest and
        # its group is recorded for the next session's sweep (see `system/children.py`).
        proc = popen(
            argv,
            max_files=_limits.FILE_DESCRIPTORS_MAX,
            cwd=str(self.config.code_dir),
            env=env,
            stdin=subprocess.PIPE if gated else subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            bufsize=0,
        )
        if self._record is not None:
            self._record.add_group(proc.pid)
        return proc

    def _launch_extensions(self, paths: list[Path], env: dict[str, str]) -> bool:
        """Start every extension (argv = its path, output on a pipe of its own); False when
        one could not start."""
        assert self.logs is not None
        ext_env = extension_environment(env)
        self.server.extensions.expect([path.name for path in paths])  # before one can register
        for path in paths:
            read_fd, write_fd = os.pipe()
            self.logs.add(read_fd)
            try:
                proc = self._spawn([str(path)], ext_env, write_fd)
            except OSError as exc:
                self.server.extensions.launch_failed(path.name, _launch_problem(path, exc))
                return False
            finally:
                os.close(write_fd)
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

    def _reap(self, proc: subprocess.Popen[bytes], watch: bool) -> None:
        """Wait for the runtime, keep its peak memory and status; with extensions (`watch`),
        its exit is the runtime's end, as the log stream stays open."""
        try:
            _pid, status, usage = os.wait4(proc.pid, 0)
        except ChildProcessError:
            pass
        else:
            self._peak_kb = max(self._peak_kb, usage.ru_maxrss)
            proc.returncode = os.waitstatus_to_exitcode(status)
        self._reaped.set()
        if watch:
            self._on_runtime_exit()

    def signal_runtime(self, kill: bool) -> None:
        if self._proc is None:
            return
        if not kill:
            if not self._reaped.is_set():  # (Popen.send_signal would reap it behind _reap)
                try:
                    os.kill(self._proc.pid, signal.SIGTERM)
                except OSError:
                    pass
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)  # the runtime and its children
        except OSError:
            pass

    def max_memory_used_mb(self) -> int:
        if self._proc is None:
            return 0
        if not self._reaped.is_set():
            try:
                with open(f"/proc/{self._proc.pid}/status") as f:
                    for line in f:
                        if line.startswith("VmHWM:"):
                            self._peak_kb = max(self._peak_kb, int(line.split()[1]))
                            return max(1, round(self._peak_kb / 1024))
            except OSError:
                pass
            # It has exited (a zombie has no VmHWM) and is being reaped: wait4 has the figure.
            self._reaped.wait(timeout=2)
        return max(1, round(self._peak_kb / 1024)) if self._peak_kb else 0

    def exit_info(self) -> ExitInfo:
        if self._proc is None:
            return ExitInfo(code=-1)
        code = self._proc.returncode if self._reaped.wait(timeout=10) else None
        if code is None:
            return ExitInfo(code=-1)
        if code < 0:
            return ExitInfo(code=code, signal=-code)
        return ExitInfo(code=code)

    def destroy(self) -> None:
        with self._lock:
            if self._destroyed:
                return
            self._destroyed = True
        self.settle_coverage()
        self.server.close()
        procs = [p for p in (self._proc, *self._extensions) if p is not None]
        for proc in procs:
            # Even when it has exited: a child of it may still be in its group.
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except OSError:
                pass
        for proc in procs:
            if proc is self._proc:
                self._reaped.wait(timeout=5)
                continue
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        if self.logs is not None:
            self.logs.close()
        if self._tmp is not None:
            self._tmp.cleanup()
        if self.instruments is not None:
            self.instruments.release()
        if self._record is not None:
            self._record.remove()


class ProcessBackend:
    """Make `ProcessEnvironment`s."""

    name = "process"

    def __init__(self, *, aws: AwsAccess | None = None) -> None:
        check_available()
        #: The session's AWS (its credentials and endpoint), when the plugin provides one.
        self.aws = aws
        self.credentials = aws.credentials if aws is not None else Credentials.generate()
        self.swept = sweep_dead()  # what killed sessions left: process groups, scratch dirs

    def create(self, config: FunctionConfig, *, log_stream_name: str) -> ProcessEnvironment:
        if config.runtime is not None and config.runtime.family not in SUPPORTED_FAMILIES:
            raise _unsupported(config.runtime.name)
        rt = config.runtime
        if rt is not None and rt.family == "python" and find_python(rt.version) is None:
            raise no_python(rt.name, rt.version)
        endpoint = self.aws.endpoint_for("127.0.0.1") if self.aws is not None else None
        return ProcessEnvironment(config, credentials=self.credentials,
                                  log_stream_name=log_stream_name,
                                  endpoint_url=endpoint.url if endpoint is not None else None)

    def closing(self, *, hand_off: bool) -> None:
        """Nothing to do: ending a process costs no engine's time."""

    def close(self) -> None:
        """Nothing outlives the environments themselves."""
