"""A session that closes without waiting hands the engine's removals to a reaper process
(`backends/docker/reaper.py`), which removes every container, disk, mount, network and firewall
table the session made; where no reaper can start, the session removes them itself."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pytest_lambda import LambdaService

if TYPE_CHECKING:
    from tests.conftest import LeftOnEngine

pytestmark = pytest.mark.docker

APP = "def handler(event, context):\n    return {'n': event['n']}\n"


def _session(tmp_path: Path) -> tuple[LambdaService, str]:
    """Start a Docker service with two warm functions; return it and its session label."""
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(APP)
    service = LambdaService(backend="docker", ready_containers=1)
    for n in range(2):
        fn = service.function("app.handler", code=tmp_path / "fn", runtime="python3.13",
                              memory_size=1769, environment={"INDEX": str(n)})
        assert fn.invoke({"n": n}).payload == {"n": n}
    docker: Any = service.backend("docker")
    return service, docker.labels.session


def _mounts() -> set[str]:
    """Return this process's `/tmp` disks and ready containers' directories mounted now."""
    own = f"/{socket.gethostname()}-{os.getpid()}-"
    return {line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()
            if own in line}


def _counting_removals(client: Any, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count the containers this process asks the engine to remove."""
    removed: list[str] = []
    remove = client.api.remove_container

    def counting(container: str, **kwargs: Any) -> Any:
        removed.append(container)
        return remove(container, **kwargs)

    monkeypatch.setattr(client.api, "remove_container", counting)
    return removed


def test_a_session_closing_without_waiting_leaves_the_removal_to_a_reaper(
        client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        left_on_engine: LeftOnEngine) -> None:
    before = _mounts()
    service, session = _session(tmp_path)
    label = {"label": f"pytest-lambda.session={session}"}
    assert len(client.api.containers(all=True, filters=label)) >= 2
    assert len(client.api.networks(filters=label)) == 1
    assert _mounts() - before  # each environment's /tmp disk
    removed = _counting_removals(client, monkeypatch)
    service.close(wait=False)
    assert removed == []  # this process asked the engine for nothing: the reaper does it
    assert left_on_engine(client, f"pytest-lambda.session={session}") == ([], [])
    assert not _mounts() - before  # the reaper releases the disks after the containers


def test_where_no_reaper_starts_the_session_removes_everything_itself(
        client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise OSError("no processes left")

    before = _mounts()
    service, session = _session(tmp_path)
    removed = _counting_removals(client, monkeypatch)
    monkeypatch.setattr(subprocess, "Popen", refuse)
    service.close(wait=False)
    assert len(removed) >= 2
    label = {"label": f"pytest-lambda.session={session}"}
    assert client.api.containers(all=True, filters=label) == []
    assert client.api.networks(filters=label) == []
    assert not _mounts() - before


def test_a_waiting_close_removes_everything_before_it_returns(
        client: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[Any] = []
    popen = subprocess.Popen

    def recording(argv: Any, *args: Any, **kwargs: Any) -> Any:
        started.append(argv)
        return popen(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "Popen", recording)
    before = _mounts()
    service, session = _session(tmp_path)
    service.close()
    assert not [argv for argv in started if "pytest-lambda-reaper" in argv]
    label = {"label": f"pytest-lambda.session={session}"}
    assert client.api.containers(all=True, filters=label) == []
    assert client.api.networks(filters=label) == []
    assert not _mounts() - before


LATE_MAKE = """
import sys
from pathlib import Path

from pytest_lambda import LambdaService

service = LambdaService(backend="docker", ready_containers=1)
fn = service.function("app.handler", code=Path(sys.argv[1]), runtime="python3.13",
                      memory_size=1769)
assert fn.invoke({"n": 1}).payload == {"n": 1}
backend = service.backend("docker")
image = backend.image_for("python3.13").tag
service.close(wait=False)
# The engine finishes making a container after the session handed off (as a ready container
# being made at that moment is): nobody told the reaper about it.
late = backend.client.api.create_container(image, entrypoint=["/bin/sleep", "300"],
                                           labels=backend.labels.as_dict())
backend.client.api.start(late["Id"])
print(backend.labels.session)
"""


def test_once_its_session_has_exited_the_reaper_sweeps_what_was_made_after_the_hand_off(
        client: Any, tmp_path: Path, left_on_engine: LeftOnEngine) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text(APP)
    script = tmp_path / "late_make.py"
    script.write_text(LATE_MAKE)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "fn")],
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    session = done.stdout.split()[-1]
    assert left_on_engine(client, f"pytest-lambda.session={session}") == ([], [])
