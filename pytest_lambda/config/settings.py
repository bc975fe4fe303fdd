"""The harness's settings and their values: what each is, its choices and its default.

The plugin resolves each from its command-line option, environment variable or ini key
(`plugin.settings`); outside pytest, the engine reads the environment variables.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from pytest_lambda.errors import ConfigurationError


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
        check=lambda value: parse_size(value),
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


_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*", re.IGNORECASE)


def parse_size(text: str) -> int | None:
    """Return the bytes a size setting means (`500MB`, `5GiB`, `0`), None for `off`.

    K, M, G and T are powers of 1024, with or without `B` or `iB`.
    """
    if text.strip().lower() in ("off", "none", "unlimited"):
        return None
    match = _SIZE.fullmatch(text)
    if match is None:
        raise ConfigurationError(
            f"{text!r} is not a size: write bytes or a number with K, M, G or T (powers of "
            f"1024), such as 500MB or 5GiB, or 'off' for no limit."
        )
    return int(float(match[1]) * _UNITS[match[2].lower()])


@dataclass(frozen=True)
class Resolved:
    """A setting's value and where it came from."""

    value: str
    source: str
