"""What every execution environment backend shares: Lambda's variables and the lifecycle."""

from __future__ import annotations

import secrets
import signal
import string
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol

from pytest_lambda.backends.instrument import CoverageRequest, Instruments
from pytest_lambda.backends.logs import LogPump
from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.function import FunctionConfig
from pytest_lambda.runtime_api.server import RuntimeAPIServer

#: The PATH and LD_LIBRARY_PATH of Lambda's managed runtimes.
LAMBDA_PATH = "/var/lang/bin:/usr/local/bin:/usr/bin/:/bin:/opt/bin"
LAMBDA_LD_LIBRARY_PATH = (
    "/var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:/var/task/lib:/opt/lib"
)

# Go's names for signals, as Lambda prints them in "Runtime exited with error: signal: ...".
_SIGNAL_NAMES = {
    signal.SIGABRT: "aborted",
    signal.SIGALRM: "alarm clock",
    signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception",
    signal.SIGHUP: "hangup",
    signal.SIGILL: "illegal instruction",
    signal.SIGINT: "interrupt",
    signal.SIGKILL: "killed",
    signal.SIGPIPE: "broken pipe",
    signal.SIGQUIT: "quit",
    signal.SIGSEGV: "segmentation fault",
    signal.SIGTERM: "terminated",
    signal.SIGTRAP: "trace/breakpoint trap",
    signal.SIGUSR1: "user defined signal 1",
    signal.SIGUSR2: "user defined signal 2",
}


@dataclass(frozen=True)
class ExitInfo:
    """How a runtime process ended."""

    code: int | None = None
    signal: int | None = None
    oom_killed: bool = False

    def describe(self) -> str:
        """Return Lambda's wording: `exit status 3`, `signal: killed`."""
        if self.oom_killed:
            return "signal: killed"
        if self.signal is not None:
            try:
                name = _SIGNAL_NAMES.get(signal.Signals(self.signal), f"signal {self.signal}")
            except ValueError:
                name = f"signal {self.signal}"
            return f"signal: {name}"
        return f"exit status {self.code}"


@dataclass(frozen=True)
class Credentials:
    """Fake credentials in the shape Lambda's execution role gives a function."""

    access_key_id: str
    secret_access_key: str
    session_token: str

    @classmethod
    def generate(cls) -> Credentials:
        upper = string.ascii_uppercase + string.digits
        return cls(
            access_key_id="ASIA" + "".join(secrets.choice(upper) for _ in range(16)),
            secret_access_key=secrets.token_urlsafe(30)[:40],
            session_token=secrets.token_urlsafe(180),
        )


def lambda_environment(
    config: FunctionConfig,
    *,
    runtime_api: str,
    log_stream_name: str,
    credentials: Credentials,
    task_root: str = "/var/task",
    runtime_dir: str = "/var/runtime",
    endpoint_url: str | None = None,
    lambda_endpoint_url: str | None = None,
    initialization_type: str = "on-demand",
) -> dict[str, str]:
    """Return the variables Lambda gives a runtime, the user's merged in as Lambda merges them.

    `endpoint_url` is the session's AWS endpoint as this environment reaches it
    (`AWS_ENDPOINT_URL`, which the AWS SDKs and CLI honour), `lambda_endpoint_url` the
    service's Lambda API (`AWS_ENDPOINT_URL_LAMBDA`); None gives none.
    """
    env = {
        "AWS_LAMBDA_FUNCTION_NAME": config.name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(config.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": config.version,
        "AWS_LAMBDA_INITIALIZATION_TYPE": initialization_type,
        "AWS_LAMBDA_LOG_GROUP_NAME": _aws.log_group_name(config.name),
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream_name,
        "AWS_LAMBDA_RUNTIME_API": runtime_api,
        "AWS_REGION": config.region,
        "AWS_DEFAULT_REGION": config.region,
        "AWS_ACCESS_KEY_ID": credentials.access_key_id,
        "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
        "AWS_SESSION_TOKEN": credentials.session_token,
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
        "_AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129",
        "_AWS_XRAY_DAEMON_PORT": "2000",
        "_HANDLER": config.handler,
        "LAMBDA_TASK_ROOT": task_root,
        "LAMBDA_RUNTIME_DIR": runtime_dir,
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "PATH": LAMBDA_PATH,
        "LD_LIBRARY_PATH": LAMBDA_LD_LIBRARY_PATH,
    }
    if endpoint_url is not None:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    if lambda_endpoint_url is not None:
        env["AWS_ENDPOINT_URL_LAMBDA"] = lambda_endpoint_url
    if config.image is not None:
        # A container image has no handler setting and brings its own PATH, LANG, TZ and library
        # path in its ENV lines; Lambda names the execution environment after the package type.
        for key in ("_HANDLER", "TZ", "LANG", "PATH", "LD_LIBRARY_PATH"):
            del env[key]
        env["AWS_EXECUTION_ENV"] = "AWS_Lambda_Image"
    elif config.runtime is not None and config.runtime.execution_env is not None:
        # Custom runtimes (provided.*) get no AWS_EXECUTION_ENV on Lambda.
        env["AWS_EXECUTION_ENV"] = config.runtime.execution_env
    # Reserved keys were refused at configuration; the rest (PATH, TZ, LANG, ...) may be overridden.
    env.update(config.env)
    return env


class ExecutionEnvironment(ABC):
    """One execution environment: a runtime process driven by its own Runtime API server."""

    #: The backend's name, as the header and results show it.
    backend = "abstract"

    def __init__(self, config: FunctionConfig, *, server_host: str) -> None:
        self.config = config
        self.server = RuntimeAPIServer(server_host, on_log_stream=self._attach_log_stream,
                                       on_runtime_exit=self._on_reported_exit,
                                       authorize=self.authorize_peer)
        self.server.extensions.configure(
            function_name=config.name, handler=config.handler or "",
            account_id=config.account_id, function_version=config.version,
        )
        self.logs: LogPump | None = None
        self._logs_lock = threading.Lock()
        self.exited = threading.Event()
        #: The runtime's exit status as the wrapper reported it (environments with extensions).
        self.reported_exit: int | None = None
        self._exit_info: ExitInfo | None = None
        self._destroyed = False
        #: The service's Lambda API as this environment reaches it (set before `start()`).
        self.lambda_endpoint_url: str | None = None
        #: "on-demand", or "provisioned-concurrency" for one initialised ahead of invocations.
        self.initialization_type = "on-demand"
        #: Measure the code with coverage.py (set by the control plane before `start()`).
        self.coverage: CoverageRequest | None = None
        #: The launcher's host side, when the runtime starts under coverage or a debugger.
        self.instruments: Instruments | None = None
        #: When (`clock.perf()`) `start()` set the runtime going, if the backend knows better
        #: than the call's start: a container's creation is not part of Lambda's init.
        self.launched_at: float | None = None
        self._cpu_share_lifted = False

    def coverage_unsaved(self) -> bool:
        """Return whether the launcher is still saving what the runtime ran (coverage): its
        runtime must not be stopped or cut off from its Runtime API before."""
        return (self.instruments is not None and not self.exited.is_set()
                and self.instruments.unsaved())

    def invocation_over(self) -> None:
        """The runtime has asked for its next event. A launcher saving coverage data then
        works with the host's CPU where the backend can lift the function's share cheaply
        (`settle_coverage` sets it again): that work is the harness's, not the function's."""
        if self.coverage_unsaved() and self.set_cpu_share(False):
            self._cpu_share_lifted = True

    def settle_coverage(self) -> None:
        """Wait (up to 10 s) until the launcher has saved what the runtime ran (coverage):
        before the runtime is stopped, and before its next invocation starts."""
        if self.instruments is not None and self.coverage_unsaved():
            self.instruments.settle()
        if self._cpu_share_lifted:
            self._cpu_share_lifted = False
            self.set_cpu_share(True)

    def set_cpu_share(self, on: bool) -> bool:
        """Apply (or lift) the memory-proportional CPU share of invocations, if this backend
        can do it without a round trip to an engine; return whether it did."""
        return False

    def debugger_holds(self) -> bool:
        """Return whether a debugger is attached or awaited: the function's timeouts wait."""
        return self.instruments is not None and self.instruments.debugger_attached()

    def authorize_peer(self, peer: tuple[str, int]) -> bool | None:
        """Return whether a connection from `peer` (address, port) comes from this environment.

        None means it cannot be told yet (the environment is still starting): the server holds
        the connection and asks again when `server.admit_waiting()` is called. Each backend
        knows its own; the base admits nobody.
        """
        return False

    def _attach_log_stream(self, conn: object, initial: bytes) -> None:
        import socket

        assert isinstance(conn, socket.socket)
        with self._logs_lock:  # the runtime's stream first; each extension's joins it
            if self.logs is None:
                self.logs = LogPump(conn, initial=initial, on_eof=self._on_runtime_exit,
                                    name="lambda-logs")
            else:
                self.logs.add(conn, initial)

    def _on_runtime_exit(self) -> None:
        self.exited.set()
        self.server.notify()

    def _on_reported_exit(self, code: int) -> None:
        self.reported_exit = code
        self._on_runtime_exit()

    def signal_runtime(self, kill: bool) -> None:
        """Send the runtime SIGTERM (or SIGKILL when `kill`) without stopping the extensions."""

    def shutdown(self, reason: str) -> None:
        """Run Lambda's shutdown phase when extensions registered, before `destroy()`.

        The runtime gets SIGTERM and 300 ms (500 ms when an internal extension registered), then
        SIGKILL; SHUTDOWN-subscribed extensions get a SHUTDOWN event and the rest of the 2 s
        phase. Without extensions this returns at once: `destroy()` kills everything.
        """
        extensions = self.server.extensions
        if not extensions.registered or self.server.closed:
            return
        self.settle_coverage()
        started = time.monotonic()
        end = started + _limits.SHUTDOWN_MAX_MS / 1000
        extensions.flush_subscribers(timeout=0.5)
        subscribed = extensions.begin_shutdown(reason)
        if not self.exited.is_set():
            self.signal_runtime(kill=False)
            grace = (_limits.SHUTDOWN_RUNTIME_INTERNAL_MS if extensions.has_internal
                     else _limits.SHUTDOWN_RUNTIME_MS) / 1000
            if not self.exited.wait(timeout=grace):
                self.signal_runtime(kill=True)
        if subscribed:
            self.server.wait_for(extensions.shutdown_done, timeout=max(0.0, end - time.monotonic()))
        extensions.close_subscribers()

    @abstractmethod
    def start(self) -> None:
        """Launch the runtime (without waiting for its init to finish)."""

    def after_init(self) -> None:
        """Apply what only holds after init (for example the memory-proportional CPU share)."""

    @abstractmethod
    def exit_info(self) -> ExitInfo:
        """Return how the runtime ended; call only once `exited` is set."""

    @abstractmethod
    def max_memory_used_mb(self) -> int:
        """Return the peak memory the environment has used so far, in MB."""

    def take_logs(self) -> str:
        """Return the output the runtime produced since the last call."""
        return self.logs.take() if self.logs is not None else ""

    def startup_problem(self) -> str:
        """Return what the runtime printed before its output reached the harness, if anything."""
        return ""

    @abstractmethod
    def destroy(self) -> None:
        """Stop the runtime at once and release everything the environment holds."""


@dataclass(frozen=True)
class AwsEndpointView:
    """The session's AWS endpoint as one environment sees it."""

    #: AWS_ENDPOINT_URL in the environment.
    url: str
    #: The host TCP port behind it that a filtered Docker network must let through, if any.
    host_port: int | None = None


class AwsAccess(Protocol):
    """The session's AWS, as environments are told about it (`pytest_lambda.aws` provides it).

    Backends ask it once per environment; it starts what it serves on first need.
    """

    @property
    def credentials(self) -> Credentials: ...

    def endpoint_for(self, address: str) -> AwsEndpointView | None:
        """Return the endpoint for an environment that reaches this host at `address`
        (loopback for host processes, the network's gateway for containers), or None when
        functions get no endpoint (`--lambda-aws=off`)."""
        ...


class Backend(Protocol):
    """Makes execution environments of one kind."""

    name: str

    def create(self, config: FunctionConfig, *, log_stream_name: str) -> ExecutionEnvironment: ...

    def closing(self, *, hand_off: bool) -> None:
        """The service has begun to close: start nothing new. With `hand_off` (the process is
        about to exit), what is left to remove may be removed by a process that outlives this
        one, after `close` returns."""
        ...

    def close(self) -> None: ...
