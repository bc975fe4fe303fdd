"""`LambdaService`: the emulated Lambda service of one process, with or without pytest.

    with LambdaService() as service:
        fn = service.function("app.handler", code="src", runtime="python3.13")
        result = fn.invoke({"name": "Ada"})

Its settings resolve as the plugin's do, less the command line and the ini file: a keyword
argument, else the `PYTEST_LAMBDA_*` variable, else the default. The pytest plugin makes one per
pytest process from the settings it resolved (the `lambda_service` fixture).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from os import PathLike
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, overload

from pytest_lambda.backends.base import Backend
from pytest_lambda.config import limits as _limits
from pytest_lambda.config import names as _aws
from pytest_lambda.config.arch import Architecture, host_architecture
from pytest_lambda.config.function import NetworkMode
from pytest_lambda.config.packaging import Layer
from pytest_lambda.config.runtimes import RuntimeName
from pytest_lambda.config.settings import (
    BACKENDS,
    BackendChoice,
    BackendName,
    BackendSetting,
    ConnectMode,
    ImagePolicy,
    Resolved,
    resolve,
    setting_choice,
)
from pytest_lambda.errors import ConfigurationError, InvokeError, LambdaHarnessError
from pytest_lambda.service.build import build_config
from pytest_lambda.service.control import ControlPlane
from pytest_lambda.service.destinations import AwsTarget
from pytest_lambda.service.function import Function
from pytest_lambda.system.paths import hold_cache, let_go_of_cache

if TYPE_CHECKING:
    from pytest_lambda.aws import AwsEndpoint
    from pytest_lambda.backends.docker.environment import DockerBackend
    from pytest_lambda.project.dependencies import BuildRecord, Reporter

def _print_to_stderr(line: str) -> None:
    print(line, file=sys.stderr)


class LambdaService(ControlPlane):
    """The emulated Lambda service: makes functions, runs their execution environments.

    Keywords override the `PYTEST_LAMBDA_*` variables: `backend` ("auto", "docker",
    "process"), `image_policy` ("hermetic", "prefer-official", "official"), `connect` ("auto",
    "direct", "published"), `cache_max_size` (e.g. "5GiB", "off"), `aws` ("moto", "off", or an
    endpoint's URL: what `aws()` gives the functions), `ready_containers` (Docker containers of
    each kind started ahead of need, "0" to "16"), `account_concurrency` (the account's
    concurrent executions in each region, 1000 by default: the functions without reserved
    concurrency share what the reservations leave, and are throttled past it). `progress`
    receives the lines that say what a long step (an image or dependency build) is doing;
    stderr by default.
    Close it (or use it as a context manager) to remove every environment it started.
    """

    def __init__(
        self,
        *,
        backend: BackendSetting | None = None,
        image_policy: ImagePolicy | None = None,
        connect: ConnectMode | None = None,
        cache_max_size: str | None = None,
        aws: str | None = None,
        ready_containers: int | str | None = None,
        account_concurrency: int | str | None = None,
        settings: Mapping[str, Resolved] | None = None,
        progress: Callable[[str], None] | None = None,
        backends: Mapping[str, Callable[[], Backend]] | None = None,
    ) -> None:
        overrides = {"backend": backend, "image_policy": image_policy, "connect": connect,
                     "cache_max_size": cache_max_size, "aws": aws,
                     "ready_containers": (None if ready_containers is None
                                          else str(ready_containers)),
                     "account_concurrency": (None if account_concurrency is None
                                             else str(account_concurrency))}
        if settings is not None and any(v is not None for v in overrides.values()):
            raise ConfigurationError(
                "LambdaService() takes either settings= or the setting keywords, not both."
            )
        self.settings: dict[str, Resolved] = (
            dict(settings) if settings is not None else resolve(overrides=overrides)
        )
        self.progress: Callable[[str], None] = progress or _print_to_stderr
        self._custom_backends = backends is not None
        super().__init__(backends if backends is not None
                         else {"docker": self._docker_backend, "process": self._process_backend})
        self._choice: BackendChoice | None = None
        self._deps: Reporter | None = None
        self._aws: AwsEndpoint | None = None
        self._state_lock = threading.Lock()
        self._service_closed = False
        scale = self.settings.get("async_delay_scale")
        if scale is not None:
            self.async_delay_scale = float(scale.value)
        account = self.settings.get("account_concurrency")
        if account is not None:
            self.registry.account_concurrency = int(account.value)
        self.destinations.default_endpoint = self._destination_endpoint
        hold_cache()

    # -- functions ----------------------------------------------------------------------------

    def function(
        self,
        handler: str | None = None,
        *,
        code: str | PathLike[str] | None = None,
        runtime: RuntimeName | None = None,
        image: str | None = None,
        command: Sequence[str] | None = None,
        entry_point: Sequence[str] | None = None,
        working_directory: str | None = None,
        architecture: Architecture | None = None,
        memory_size: int = _limits.MEMORY_DEFAULT_MB,
        timeout: int = _limits.TIMEOUT_DEFAULT_S,
        ephemeral_storage: int = _limits.EPHEMERAL_STORAGE_DEFAULT_MB,
        environment: Mapping[str, str] | None = None,
        name: str | None = None,
        region: str = _aws.DEFAULT_REGION,
        account_id: str = _aws.DEFAULT_ACCOUNT_ID,
        layers: Sequence[str | PathLike[str] | Layer] | None = None,
        requirements: str | PathLike[str] | Literal[True] | None = None,
        network: NetworkMode = "isolated",
        backend: BackendName | None = None,
        reserved_concurrency: int | None = None,
        debug_port: int | None = None,
    ) -> Function:
        """Make a Lambda function and return its `Function`; nothing starts until it is invoked.

        A function from code: ``handler`` ("module.function"; any word for a custom runtime's
        bootstrap), ``code`` (a directory or a ``.zip``) and ``runtime``. A container-image
        function: ``image`` (present in the local engine), with Lambda's overrides
        ``command``, ``entry_point`` and ``working_directory``. ``layers``: up to five
        directories, ``.zip`` files or ``Layer`` objects, merged into /opt. ``requirements``: a
        ``requirements.txt`` or ``package.json`` path relative to ``code`` (``True``: that name
        there), built for the runtime and architecture. ``architecture``: "x86_64" or "arm64"
        (the host's by default; the other runs on Docker under QEMU). ``network``: "isolated"
        (the plugin's own servers only) or "open". ``region`` and ``account_id`` make the ARN
        and ``AWS_REGION``. ``backend`` overrides the service's for this function.
        ``reserved_concurrency`` caps its simultaneous invocations (0 throttles every one).
        ``debug_port``: start a Python runtime under debugpy listening on that port of
        127.0.0.1 and waiting for a debugger before it runs anything (docs/debugging.md); the
        function's timeouts are lifted while one is awaited or attached.

        Raises ConfigurationError (one sentence) for anything Lambda or the harness refuses.
        """
        __tracebackhide__ = True
        try:
            return self._function(
                handler, backend, code=code, runtime=runtime, image=image, command=command,
                entry_point=entry_point, working_directory=working_directory,
                architecture=architecture, memory_size=memory_size, timeout=timeout,
                ephemeral_storage=ephemeral_storage, environment=environment, name=name,
                region=region, account_id=account_id, layers=layers,
                requirements=requirements, network=network,
                reserved_concurrency=reserved_concurrency, debug_port=debug_port,
            )
        except LambdaHarnessError as exc:
            # The caller's arguments are at fault, not the validator: show their line and the
            # message, not the harness's frames.
            raise exc.with_traceback(None) from None

    def _function(self, handler: str | None, backend: str | None, *,
                  reserved_concurrency: int | None = None, **options: Any) -> Function:
        from pytest_lambda.service.registry import validate_reserved_concurrency

        try:
            reserved = validate_reserved_concurrency(reserved_concurrency)
        except InvokeError as exc:
            raise ConfigurationError(exc.message) from None
        if backend is not None and backend not in BACKENDS and not self._custom_backends:
            raise ConfigurationError(
                f"backend must be one of {', '.join(BACKENDS)}, not {backend!r}."
            )
        host_deps = False
        if options["requirements"] is not None or options["layers"]:
            # Dependencies follow where the function runs: the process backend runs Python
            # functions on this host's interpreter.
            arch = options["architecture"]
            host_deps = (options["image"] is None
                         and (arch is None or arch == host_architecture())
                         and (backend or self.backend_choice().name) == "process")
        with self.dependency_builds():
            config = build_config(handler, _host_dependencies=host_deps, **options)
        if config.debug_port is not None:
            from pytest_lambda.backends.instrument import available

            if not available("debugpy"):
                raise ConfigurationError(
                    "debug_port= needs debugpy in the test environment (it is copied into the "
                    "function's environment): pip install debugpy, or "
                    "'pytest-aws-lambda[debug]'."
                )
        if config.image is not None:
            if backend == "process":
                raise ConfigurationError(
                    "A container-image function runs only on the docker backend: drop "
                    "backend='process' (images need a container engine)."
                )
            backend = "docker"
        elif config.architecture != host_architecture():
            if backend == "process":
                raise ConfigurationError(
                    f"An {config.architecture} function runs only on the docker backend, "
                    f"under emulation: drop backend='process', or architecture=."
                )
            backend = "docker"
        elif backend is None:
            backend = self.backend_choice().name
        self._require_backend(backend)
        self.aws().check()  # the endpoint functions are told about answers, or one sentence
        runtime = config.runtime
        if (backend == "docker" and runtime is not None and not runtime.hermetic
                and self.settings["image_policy"].value == "hermetic"):
            # Known before any image is looked up: only AWS's image serves this runtime.
            raise ConfigurationError(runtime.no_hermetic_image())
        function = Function(self, config, backend)
        try:
            self.registry.register(function, reserved)
        except InvokeError as exc:  # no room in the account for its reservation
            raise ConfigurationError(exc.message) from None
        return function

    # -- backends -----------------------------------------------------------------------------

    @overload
    def backend_choice(self) -> BackendChoice: ...

    @overload
    def backend_choice(self, *, probe: Literal[False]) -> BackendChoice | None: ...

    def backend_choice(self, *, probe: bool = True) -> BackendChoice | None:
        """Return the backend for functions that name none, asking for a Docker engine once
        when the setting is `auto`.

        With `probe=False`, an `auto` backend not yet probed gives None and nothing is asked of
        the engine (the pytest header uses that: probing waits on an engine that may not answer).
        """
        with self._state_lock:
            if self._choice is None:
                self._choice = setting_choice(self.settings)
                if self._choice is None and probe:
                    self._choice = _choose()
            return self._choice

    def _require_backend(self, name: str) -> None:
        if not self._custom_backends:
            require_backend(name)

    def _docker_backend(self) -> DockerBackend:
        from pytest_lambda.backends.docker.environment import DockerBackend

        return DockerBackend(
            image_policy=self.settings["image_policy"].value, progress=self.progress,
            connect=self.settings["connect"].value, aws=self.aws(),
            ready=int(self.settings["ready_containers"].value),
        )

    def _process_backend(self) -> Backend:
        from pytest_lambda.backends.process import ProcessBackend

        return ProcessBackend(aws=self.aws())

    def aws(self) -> AwsEndpoint:
        """Return the service's AWS endpoint (the `aws` setting): what its functions are told
        about AWS (fake role credentials, `AWS_ENDPOINT_URL`); it starts moto on first need."""
        from pytest_lambda.aws import AwsEndpoint

        with self._state_lock:
            if self._aws is None:
                setting = self.settings["aws"]
                self._aws = AwsEndpoint(setting.value, setting.source)
            return self._aws

    def _destination_endpoint(self) -> AwsTarget | None:
        """Return the session's AWS endpoint as the test process reaches it, for asynchronous
        destinations and dead-letter queues (None under `--lambda-aws=off`)."""
        aws = self.aws()
        view = aws.endpoint_for("127.0.0.1")
        if view is None:
            return None
        credentials = aws.credentials
        return AwsTarget(view.url, credentials.access_key_id, credentials.secret_access_key,
                         credentials.session_token)

    def docker_backend_if_made(self) -> DockerBackend | None:
        """Return the Docker backend if something used it, else None."""
        from pytest_lambda.backends.docker.environment import DockerBackend

        backend = self.made_backend("docker")
        return backend if isinstance(backend, DockerBackend) else None

    # -- dependency builds --------------------------------------------------------------------

    def dependency_builds(self) -> AbstractContextManager[None]:
        """Report the dependency builds made meanwhile to this service (progress, summary)."""
        from pytest_lambda.project.dependencies import reporting_to

        return reporting_to(self._reporter())

    def _reporter(self) -> Reporter:
        from pytest_lambda.project.dependencies import Reporter

        with self._state_lock:
            if self._deps is None:
                self._deps = Reporter(progress=self.progress)
            return self._deps

    def add_dependency_records(self, records: list[dict[str, Any]]) -> None:
        """Add the dependency builds another process (an xdist worker) reported."""
        from pytest_lambda.project.dependencies import BuildRecord

        reporter = self._reporter()
        for record in records:
            reporter.record(BuildRecord(**record))

    def dependency_records(self) -> list[BuildRecord]:
        """Return the dependency builds this service made or reused, in order."""
        return list(self._deps.records) if self._deps is not None else []

    # -- the end ------------------------------------------------------------------------------

    def close(self, *, wait: bool = True) -> None:
        """Remove every environment the service started; the last user of the cache in the
        process to close also prunes it to `cache_max_size`.

        With `wait=False` (what the pytest plugin does at the session's end, since the process
        exits next) the Docker engine's removal of the containers, their networks and disks is
        handed to a process of its own once every environment has been shut down, and `close`
        returns without waiting for it; the containers are gone a second or two later."""
        with self._state_lock:
            closed, self._service_closed = self._service_closed, True
        super().close(wait=wait)
        if self._aws is not None:  # after the environments that used it
            self._aws.close()
        if closed:
            return
        if let_go_of_cache():
            prune_cache(self.settings["cache_max_size"].value)

    def __enter__(self) -> LambdaService:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()


def prune_cache(max_size: str) -> None:
    """Prune the cache to `max_size` if this process used it (it no longer does)."""
    cache = sys.modules.get("pytest_lambda.artifacts.cache")  # never imported: never used
    if cache is not None:
        cache.prune_after_use(max_size)


def require_backend(name: str) -> None:
    """Raise BackendUnavailableError, saying why, when backend `name` cannot run here."""
    if name == "docker":
        from pytest_lambda.containers.client import get_client

        get_client()
    elif name == "process":
        from pytest_lambda.backends.process import check_available

        check_available()


def _choose() -> BackendChoice:
    from pytest_lambda.containers.client import probe

    ok, detail = probe()
    if ok:
        return BackendChoice("docker", f"auto: {detail} answers")
    return BackendChoice("process", f"auto: {detail}")
