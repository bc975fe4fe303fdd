"""The plugin's settings, each resolved once: option > environment variable > ini key > default."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import pytest


@dataclass(frozen=True)
class Setting:
    """One setting's definition."""

    name: str  # "backend" -> --lambda-backend, PYTEST_LAMBDA_BACKEND, lambda_backend
    choices: tuple[str, ...]
    default: str
    help: str
    #: For a setting without `choices`: raises ValueError (one sentence) for a bad value.
    check: Callable[[str], object] | None = None

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
        "cache_max_size", (), "5GiB",
        "the size the cache directory is pruned to at the end of a session that used it, "
        "least recently used entries first (e.g. 500MB, 5GiB; off for no limit)",
        check=lambda value: _parse_size(value),
    ),
    Setting(
        "logs", ("on-failure", "always", "never"), "on-failure",
        "when test reports show the Lambda logs of the invocations a test made: on-failure "
        "(failing tests, and passing ones under -rA or -rP), always, or never",
    ),
    Setting(
        "isolation", ("shared", "per-test"), "shared",
        "whether tests share warm execution environments of identical functions (shared), or "
        "each test starts with fresh ones (per-test)",
    ),
    Setting(
        "connect", ("auto", "direct", "published"), "auto",
        "how Docker functions reach their Runtime API: direct (the container connects to the "
        "test process), published (an agent in the container, reached by connections the test "
        "process opens, for engines in a VM or elsewhere), or auto (direct when the engine's "
        "network is on this machine)",
    ),
)


def _parse_size(value: str) -> int | None:
    from ._cache import parse_size

    return parse_size(value)


@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from."""

    value: str
    source: str


def add_options(parser: pytest.Parser) -> None:
    group = parser.getgroup("lambda", "AWS Lambda execution environments (pytest-aws-lambda)")
    for s in SETTINGS:
        group.addoption(
            s.option, dest=s.dest, choices=s.choices or None, default=None,
            help=f"{s.help}. Default: {s.default}; also {s.env} or ini {s.ini}.",
        )
        ini_help = f"{s.help} (one of {', '.join(s.choices)})" if s.choices else s.help
        parser.addini(s.ini, ini_help, default=None)


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
        if s.choices and value not in s.choices:
            raise pytest.UsageError(
                f"{source} = {value!r} is not a valid {s.name.replace('_', ' ')}: "
                f"use one of {', '.join(s.choices)}."
            )
        if s.check is not None:
            try:
                s.check(value)
            except ValueError as exc:
                raise pytest.UsageError(f"{source}: {exc}") from None
        resolved[s.name] = Resolved(value, source)
    return resolved
