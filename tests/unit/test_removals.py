"""What a session holds back for its reaper, and when (`backends/docker/reaper.py`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pytest_lambda
from pytest_lambda.backends.docker.reaper import Leftovers, Removals, hand_off


class _Api:
    def __init__(self) -> None:
        self.removed: list[str] = []

    def remove_container(self, container: str, *, force: bool) -> None:
        assert force
        self.removed.append(container)


class _Client:
    def __init__(self) -> None:
        self.api = _Api()


class _Dir:
    def __init__(self, base: Path) -> None:
        self.base = base


def test_removals_are_immediate_until_held_and_again_after_they_are_taken(
        tmp_path: Path) -> None:
    client = _Client()
    removals = Removals(client)
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    removals.remove("c1", _Dir(first), None)  # type: ignore[arg-type]
    assert client.api.removed == ["c1"] and not first.exists()

    removals.hold()
    assert removals.holding
    removals.remove("c2", None, _Dir(second))  # type: ignore[arg-type]
    removals.remove(None, None, None)  # a container never made
    assert client.api.removed == ["c1"] and second.exists()
    held = removals.take()
    assert held == Leftovers(containers=["c2"], directories=[str(second)])
    assert not removals.holding and removals.take() == Leftovers()

    removals.remove("c3", None, None)
    assert client.api.removed == ["c1", "c3"]


def test_the_reaper_runs_this_interpreter_and_finds_this_package_from_anywhere(
        monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[tuple[list[str], dict[str, Any]]] = []

    class _Shell:
        returncode = 0

        def communicate(self, data: bytes, timeout: float) -> None:
            assert json.loads(data)["containers"] == ["c1"]

    def popen(argv: list[str], **kwargs: Any) -> _Shell:
        started.append((argv, kwargs))
        return _Shell()

    monkeypatch.setattr(subprocess, "Popen", popen)
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    assert hand_off(Leftovers(containers=["c1"]))
    (argv, kwargs), = started
    assert argv[-3:] == [sys.executable, "-m", "pytest_lambda.backends.docker.reaper"]
    package_parent = str(Path(pytest_lambda.__file__).resolve().parent.parent)
    assert kwargs["env"]["PYTHONPATH"].split(os.pathsep) == [package_parent, "/elsewhere"]
    assert kwargs["cwd"] == "/" and kwargs["start_new_session"]
