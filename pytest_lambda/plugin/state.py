"""The plugin's per-process state: resolved settings, the chosen backend, the service."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

import pytest

from pytest_lambda.config.settings import Resolved

if TYPE_CHECKING:
    from contextlib import AbstractContextManager

    from pytest_lambda.backends.docker.environment import DockerBackend
    from pytest_lambda.backends.process import ProcessBackend
    from pytest_lambda.project.dependencies import Reporter as DependencyReporter
    from pytest_lambda.service.service import LambdaService

STATE_KEY = pytest.StashKey["PluginState"]()

#: How `auto` chooses, as the header says it before the choice is made.
AUTO_RULE = "docker when an engine answers, else process"


@dataclass
class BackendChoice:
    """The session's backend and the reason it was chosen."""

    name: str
    reason: str


@dataclass
class PluginState:
    """Everything the plugin keeps for one pytest process."""

    settings: dict[str, Resolved]
    progress: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))
    _choice: BackendChoice | None = None
    _service: LambdaService | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False
    _deps: DependencyReporter | None = None

    #: States not yet closed in this process: a pytest session run inside another (pytester's
    #: in-process runs) shares the process's cache leases with it.
    _open: ClassVar[int] = 0
    _open_lock: ClassVar[threading.Lock] = threading.Lock()

    def __post_init__(self) -> None:
        with PluginState._open_lock:
            PluginState._open += 1

    @overload
    def backend_choice(self) -> BackendChoice: ...

    @overload
    def backend_choice(self, *, probe: Literal[False]) -> BackendChoice | None: ...

    def backend_choice(self, *, probe: bool = True) -> BackendChoice | None:
        """Return the session's backend, probing for a Docker engine once when it is `auto`.

        With `probe=False`, an `auto` backend not yet probed gives None and nothing is asked of
        the engine (the header uses that: probing waits on an engine that may not answer).
        """
        with self._lock:
            if self._choice is None:
                setting = self.settings["backend"]
                if setting.value != "auto":
                    self._choice = BackendChoice(setting.value, f"from {setting.source}")
                elif probe:
                    self._choice = self._choose()
            return self._choice

    @staticmethod
    def _choose() -> BackendChoice:
        from pytest_lambda.containers.client import probe

        ok, detail = probe()
        if ok:
            return BackendChoice("docker", f"auto: {detail} answers")
        return BackendChoice("process", f"auto: {detail}")

    def service(self) -> LambdaService:
        """Return the session's LambdaService, made on first use."""
        from pytest_lambda.service.service import LambdaService

        with self._lock:
            if self._service is None:
                self._service = LambdaService(
                    {"docker": self._docker_backend, "process": self._process_backend}
                )
            return self._service

    def _docker_backend(self) -> DockerBackend:
        from pytest_lambda.backends.docker.environment import DockerBackend

        return DockerBackend(
            image_policy=self.settings["image_policy"].value, progress=self.progress,
            connect=self.settings["connect"].value,
        )

    @staticmethod
    def _process_backend() -> ProcessBackend:
        from pytest_lambda.backends.process import ProcessBackend

        return ProcessBackend()

    def docker_backend_if_made(self) -> DockerBackend | None:
        """Return the session's Docker backend if something used it, else None."""
        from pytest_lambda.backends.docker.environment import DockerBackend

        backend = self._service.made_backend("docker") if self._service is not None else None
        return backend if isinstance(backend, DockerBackend) else None

    def dependency_builds(self) -> AbstractContextManager[None]:
        """Report the dependency builds made meanwhile to this session (progress, summary)."""
        from pytest_lambda.project.dependencies import Reporter, reporting_to

        with self._lock:
            if self._deps is None:
                self._deps = Reporter(progress=self.progress)
            return reporting_to(self._deps)

    def add_dependency_records(self, records: list[dict[str, Any]]) -> None:
        """Add the dependency builds another process (an xdist worker) reported."""
        from pytest_lambda.project.dependencies import BuildRecord, Reporter

        with self._lock:
            if self._deps is None:
                self._deps = Reporter(progress=self.progress)
            reporter = self._deps
        for record in records:
            reporter.record(BuildRecord(**record))

    def dependency_records(self) -> list[Any]:
        """Return the dependency builds this session made or reused, in order."""
        return list(self._deps.records) if self._deps is not None else []

    def close(self) -> None:
        """Destroy every environment the session made, even through a KeyboardInterrupt."""
        with self._lock:
            service, self._service = self._service, None
            closed, self._closed = self._closed, True
        if service is not None:
            finish_despite_interrupts(service.close)
        if closed:
            return
        with PluginState._open_lock:
            PluginState._open -= 1
            last = PluginState._open <= 0
        if last:  # an inner session leaves the outer one's leases (and pruning) alone
            self._prune_cache()

    def _prune_cache(self) -> None:
        """Prune the cache to its maximum size when this session used it (it no longer does)."""
        cache = sys.modules.get("pytest_lambda.artifacts.cache")  # never imported: never used
        if cache is None or not cache.leased():
            return
        cache.release()
        try:
            # Without waiting: a session busy with the cache now prunes it at its own end.
            cache.prune(cache.parse_size(self.settings["cache_max_size"].value), wait=False)
        except OSError as exc:
            import warnings

            warnings.warn(f"pytest-lambda could not prune its cache: {exc}", stacklevel=1)


def finish_despite_interrupts(work: Callable[[], None]) -> None:
    """Run `work` to its end, then raise KeyboardInterrupt if SIGINT arrived meanwhile.

    Cleanup cut short by Ctrl-C, or by execnet interrupting an xdist worker that has not exited
    5 s after being asked to, would leave containers and mounts behind, so while `work` runs
    SIGINT is only noted. (Off the main thread, where no handler can be set, it just runs.)
    """
    received: list[int] = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    except ValueError:  # not the main thread: SIGINT is not delivered here anyway
        work()
        return
    try:
        work()
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None else previous)
    if received:
        raise KeyboardInterrupt


def require_backend(name: str) -> None:
    """Raise BackendUnavailableError when `name` cannot run here."""
    if name == "docker":
        from pytest_lambda.containers.client import get_client

        get_client()
    elif name == "process":
        from pytest_lambda.backends.process import check_available

        check_available()
