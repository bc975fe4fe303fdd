"""The plugin's per-process state: resolved settings, the chosen backend, the service."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pytest

from ._settings import Resolved

if TYPE_CHECKING:
    from ._docker_env import DockerBackend
    from ._process_env import ProcessBackend
    from ._service import LambdaService

STATE_KEY = pytest.StashKey["PluginState"]()


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

    def backend_choice(self) -> BackendChoice:
        """Return the session's backend, probing for a Docker engine once when it is `auto`."""
        with self._lock:
            if self._choice is None:
                self._choice = self._choose()
            return self._choice

    def _choose(self) -> BackendChoice:
        setting = self.settings["backend"]
        if setting.value != "auto":
            return BackendChoice(setting.value, f"from {setting.source}")
        from ._docker import probe

        ok, detail = probe()
        if ok:
            return BackendChoice("docker", f"auto: {detail} answers")
        return BackendChoice("process", f"auto: {detail}")

    def service(self) -> LambdaService:
        """Return the session's LambdaService, made on first use."""
        from ._service import LambdaService

        with self._lock:
            if self._service is None:
                self._service = LambdaService(
                    {"docker": self._docker_backend, "process": self._process_backend}
                )
            return self._service

    def _docker_backend(self) -> DockerBackend:
        from ._docker_env import DockerBackend

        return DockerBackend(
            image_policy=self.settings["image_policy"].value, progress=self.progress,
            connect=self.settings["connect"].value,
        )

    @staticmethod
    def _process_backend() -> ProcessBackend:
        from ._process_env import ProcessBackend

        return ProcessBackend()

    def docker_backend_if_made(self) -> DockerBackend | None:
        """Return the session's Docker backend if something used it, else None."""
        from ._docker_env import DockerBackend

        backend = self._service.made_backend("docker") if self._service is not None else None
        return backend if isinstance(backend, DockerBackend) else None

    def close(self) -> None:
        with self._lock:
            service, self._service = self._service, None
        if service is not None:
            service.close()


def require_backend(name: str) -> None:
    """Raise BackendUnavailableError when `name` cannot run here."""
    if name == "docker":
        from ._docker import get_client

        get_client()
    elif name == "process":
        from ._process_env import check_available

        check_available()
