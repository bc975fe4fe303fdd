"""The plugin's settings, each resolved once: option > environment variable > ini key > default."""

from __future__ import annotations

import os
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Setting:
    """One setting's definition."""

    name: str  # "backend" -> --lambda-backend, PYTEST_LAMBDA_BACKEND, lambda_backend
    choices: tuple[str, ...]
    default: str
    help: str

    @property
    def option(self) -> str:
        return f"--lambda-{self.name.replace('_', '-')}"

    @property
    def dest(self) -> str:
        return f"lambda_{self.name}"

    @property
    def env(self) -> str:
        return f"PYTEST_LAMBDA_{self.name.upper()}"

    @property
    def ini(self) -> str:
        return f"lambda_{self.name}"


SETTINGS = (
    Setting(
        "backend", ("auto", "docker", "process"), "auto",
        "where functions run: docker (containers), process (host subprocesses), or auto "
        "(docker when an engine answers, else process)",
    ),
    Setting(
        "image_policy", ("hermetic", "prefer-official", "official"), "hermetic",
        "which image serves a runtime: hermetic (built here from Debian), prefer-official "
        "(AWS's official image when present locally), official (require it)",
    ),
    Setting(
        "connect", ("auto", "direct", "published"), "auto",
        "how Docker functions reach their Runtime API: direct (the container connects to the "
        "test process), published (an agent in the container, reached by connections the test "
        "process opens, for engines in a VM or elsewhere), or auto (direct when the engine's "
        "network is on this machine)",
    ),
)


@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from."""

    value: str
    source: str


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("lambda", "AWS Lambda execution environments (pytest-aws-lambda)")
    for s in SETTINGS:
        group.addoption(
            s.option, dest=s.dest, choices=s.choices, default=None,
            help=f"{s.help}. Default: {s.default}; also {s.env} or ini {s.ini}.",
        )
        parser.addini(s.ini, f"{s.help} (one of {', '.join(s.choices)})", default=None)


def resolve(config: pytest.Config) -> dict[str, Resolved]:
    """Resolve every setting, raising pytest.UsageError for a value outside its choices."""
    resolved = {}
    for s in SETTINGS:
        value = config.getoption(s.dest)
        source = s.option
        if value is None and os.environ.get(s.env):
            value, source = os.environ[s.env], s.env
        if value is None:
            ini_value = config.getini(s.ini)
            if ini_value:
                value, source = str(ini_value), f"ini {s.ini}"
        if value is None:
            value, source = s.default, "default"
        if value not in s.choices:
            raise pytest.UsageError(
                f"{source} = {value!r} is not a valid {s.name.replace('_', ' ')}: "
                f"use one of {', '.join(s.choices)}."
            )
        resolved[s.name] = Resolved(value, source)
    return resolved
