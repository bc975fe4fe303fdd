"""The plugin's per-process state: the resolved settings and the session's LambdaService."""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, overload

import pytest

from pytest_lambda.config.settings import BackendChoice, Resolved, setting_choice
from pytest_lambda.system.paths import hold_cache, let_go_of_cache

if TYPE_CHECKING:
    from pytest_lambda.aws import AwsEndpoint
    from pytest_lambda.backends.docker.environment import DockerBackend
    from pytest_lambda.lambda_api.api import LambdaAPI
    from pytest_lambda.service.destinations import AwsTarget
    from pytest_lambda.service.service import LambdaService

STATE_KEY = pytest.StashKey["PluginState"]()


@dataclass
class PluginState:
    """Everything the plugin keeps for one pytest process."""

    settings: dict[str, Resolved]
    progress: Callable[[str], None] = field(default=lambda line: print(line, file=sys.stderr))
    _service: LambdaService | None = None
    _lambda_api: LambdaAPI | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closed: bool = False

    def __post_init__(self) -> None:
        hold_cache()

    def service(self) -> LambdaService:
        """Return the session's LambdaService, made on first use (the engine is imported then)."""
        from pytest_lambda.service.service import LambdaService

        with self._lock:
            if self._service is None:
                self._service = LambdaService(settings=self.settings, progress=self.progress)
                # From the first environment on, functions reach the Lambda API
                # (AWS_ENDPOINT_URL_LAMBDA) whether or not a test asks for `lambda_api`.
                from pytest_lambda.lambda_api.api import LambdaAPI

                self._lambda_api = LambdaAPI(self._service)
            return self._service

    def aws(self) -> AwsEndpoint:
        """Return the session's AWS endpoint (the service's; `--lambda-aws`)."""
        return self.service().aws()

    def lambda_api(self, aws: AwsTarget | None = None) -> LambdaAPI:
        """Return the session's LambdaAPI; `aws` (if given) is where destinations live."""
        self.service()
        api = self._lambda_api
        assert api is not None
        if aws is not None:
            api.service.destinations.endpoint = aws
        return api

    @overload
    def backend_choice(self) -> BackendChoice: ...

    @overload
    def backend_choice(self, *, probe: Literal[False]) -> BackendChoice | None: ...

    def backend_choice(self, *, probe: bool = True) -> BackendChoice | None:
        """Return the session's backend (see `LambdaService.backend_choice`); with
        `probe=False` nothing is made or asked, so the header stays cheap."""
        if probe:
            return self.service().backend_choice()
        service = self._service
        if service is not None:
            return service.backend_choice(probe=False)
        return setting_choice(self.settings)

    def docker_backend_if_made(self) -> DockerBackend | None:
        """Return the session's Docker backend if something used it, else None."""
        return self._service.docker_backend_if_made() if self._service is not None else None

    def dependency_records(self) -> list[Any]:
        """Return the dependency builds this session made or reused, in order."""
        return self._service.dependency_records() if self._service is not None else []

    def close(self) -> None:
        """Destroy every environment the session made, even through a KeyboardInterrupt."""
        with self._lock:
            service, self._service = self._service, None
            api, self._lambda_api = self._lambda_api, None
            closed, self._closed = self._closed, True
        if api is not None:
            api.close()
        if service is not None:
            finish_despite_interrupts(lambda: service.close(wait=False))
        if not closed and let_go_of_cache():
            # In-process tests may have used the cache without a service.
            cache = sys.modules.get("pytest_lambda.artifacts.cache")  # never imported: unused
            if cache is not None:
                cache.prune_after_use(self.settings["cache_max_size"].value)


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
