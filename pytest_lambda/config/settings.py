"""The harness's settings and their values: what each is, its choices and its default.

The plugin resolves each from its command-line option, environment variable or ini key
(`plugin.settings`); outside pytest, the engine reads the environment variables.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

from pytest_lambda.config import limits as _limits
from pytest_lambda.errors import ConfigurationError

#: Where functions run, as a setting: "auto" picks docker when an engine answers.
BackendSetting = Literal["auto", "docker", "process"]
#: Where one function runs.
BackendName = Literal["docker", "process"]
BACKENDS: tuple[BackendName, ...] = get_args(BackendName)
#: Which image serves a runtime: always ours, AWS's when present locally, or AWS's only.
ImagePolicy = Literal["hermetic", "prefer-official", "official"]
POLICIES: tuple[ImagePolicy, ...] = get_args(ImagePolicy)
#: How Docker functions reach their Runtime API.
ConnectMode = Literal["auto", "direct", "published"]
#: When test reports show the Lambda logs of a test's invocations.
LogsSetting = Literal["on-failure", "always", "never"]
#: Whether tests share warm environments.
IsolationSetting = Literal["shared", "per-test"]


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
        "backend", get_args(BackendSetting), "auto",
        "where functions run: docker (containers), process (host subprocesses), or auto "
        "(docker when an engine answers, else process)",
    ),
    Setting(
        "image_policy", POLICIES, "hermetic",
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
        "logs", get_args(LogsSetting), "on-failure",
        "when test reports show the Lambda logs of the invocations a test made: on-failure "
        "(failing tests, and passing ones under -rA or -rP), always, or never",
    ),
    Setting(
        "isolation", get_args(IsolationSetting), "shared",
        "whether tests share warm execution environments of identical functions (shared), or "
        "each test starts with fresh ones (per-test)",
    ),
    Setting(
        "connect", get_args(ConnectMode), "auto",
        "how Docker functions reach their Runtime API: direct (the container connects to the "
        "test process), published (an agent in the container, reached by connections the test "
        "process opens, for engines in a VM or elsewhere), or auto (direct when the engine's "
        "network is on this machine)",
    ),
    Setting(
        "ready_containers", (), "2",
        "how many Docker containers of each kind the session keeps started ahead of need, so "
        "a cold start pays for the runtime's init and not for the engine creating a container "
        "(0 turns them off; root and a local engine only)",
        check=lambda value: parse_count(value, "ready containers", 16),
    ),
    Setting(
        "aws", (), "moto",
        "the AWS endpoint functions and the lambda_aws fixture use: moto (moto's server in the "
        "pytest process, the default), off (none), or the URL of an endpoint you run (such as "
        "LocalStack's http://localhost:4566)",
        check=lambda value: check_aws(value),
    ),
    Setting(
        "async_delay_scale", (), "1",
        "the factor (0 to 1) applied to Lambda's asynchronous timeline: the waits before "
        "retries (1 and 2 minutes), throttle backoff and the maximum event age (1: Lambda's "
        "own figures; 0.01 makes a minute 0.6 s)",
        check=lambda value: parse_scale(value),
    ),
    Setting(
        "account_concurrency", (), str(_limits.ACCOUNT_CONCURRENCY),
        "the account's concurrent executions in each region, which the functions without "
        "reserved concurrency share and whose reservations must leave 100 unreserved (1000: "
        "Lambda's default; a small number makes its throttling reachable in a test)",
        check=lambda value: parse_account_concurrency(value),
    ),
)


def check_aws(value: str) -> str:
    """Return what the `aws` setting's value names ("moto", "off" or "url"), or raise
    ConfigurationError (a ValueError) in one sentence."""
    if value in ("moto", "off"):
        return value
    from urllib.parse import urlsplit

    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        url, port = None, None
    if url is None or url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigurationError(
            f"{value!r} is not an AWS endpoint: use moto, off, or an http(s) URL with a host, "
            f"such as http://localhost:4566."
        )
    del port  # parsed for its check only: a port outside 0-65535 raises above
    return "url"


def parse_count(text: str, what: str, most: int) -> int:
    """Return the whole number from 0 to `most` that `text` means."""
    value = int(text) if text.strip().isdigit() else -1
    if not 0 <= value <= most:
        raise ConfigurationError(
            f"{text!r} is not a number of {what}: write a whole number from 0 to {most}."
        )
    return value


#: The largest account concurrency the setting takes (AWS raises accounts to tens of
#: thousands on request).
ACCOUNT_CONCURRENCY_MAX = 1_000_000


def parse_account_concurrency(text: str) -> int:
    """Return the account concurrency `text` means (a whole number, 1 or more)."""
    value = int(text) if text.strip().isdigit() else 0
    if not 1 <= value <= ACCOUNT_CONCURRENCY_MAX:
        raise ConfigurationError(
            f"{text!r} is not an account concurrency: write a whole number from 1 to "
            f"{ACCOUNT_CONCURRENCY_MAX:,} (Lambda's default is {_limits.ACCOUNT_CONCURRENCY})."
        )
    return value


def parse_scale(text: str) -> float:
    """Return the delay scale `text` means (a number from 0 to 1)."""
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise ConfigurationError(
            f"{text!r} is not a delay scale: write a number from 0 to 1, such as 0.01 (1 keeps "
            f"Lambda's own delays)."
        )
    return value


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


#: Where a setting's value was found, if anywhere: (value, source) or None.
Lookup = Callable[[Setting], "tuple[str, str] | None"]


def resolve(*, overrides: Mapping[str, str | None] | None = None, option: Lookup | None = None,
            ini: Lookup | None = None) -> dict[str, Resolved]:
    """Resolve every setting once: a keyword the engine was given (`overrides`) or the
    plugin's command-line option (`option`), else the `PYTEST_LAMBDA_*` variable, else the ini
    key (`ini`), else the default.

    Raises ConfigurationError (one sentence naming where the value came from) for a value
    outside a setting's choices or one its check refuses.
    """
    lookups = [lookup for lookup in (_from(overrides or {}), option, _from_environment, ini)
               if lookup is not None]
    resolved = {}
    for s in SETTINGS:
        value, source = next((hit for lookup in lookups if (hit := lookup(s)) is not None),
                             (s.default, "default"))
        if s.choices and value not in s.choices:
            raise ConfigurationError(
                f"{source} = {value!r} is not a valid {s.name.replace('_', ' ')}: "
                f"use one of {', '.join(s.choices)}."
            )
        if s.check is not None:
            try:
                s.check(value)
            except ValueError as exc:
                raise ConfigurationError(f"{source}: {exc}") from None
        resolved[s.name] = Resolved(value, source)
    return resolved


def _from(overrides: Mapping[str, str | None]) -> Lookup:
    unknown = set(overrides) - {s.name for s in SETTINGS}
    if unknown:
        raise ConfigurationError(
            f"Unknown setting(s) {', '.join(sorted(unknown))}: the settings are "
            f"{', '.join(s.name for s in SETTINGS)}."
        )

    def lookup(s: Setting) -> tuple[str, str] | None:
        value = overrides.get(s.name)
        return None if value is None else (str(value), f"{s.name}=")

    return lookup


def _from_environment(s: Setting) -> tuple[str, str] | None:
    value = os.environ.get(s.env)
    return (value, s.env) if value else None


#: How `auto` chooses, as the pytest header says it before the choice is made.
AUTO_RULE = "docker when an engine answers, else process"


@dataclass
class BackendChoice:
    """The backend functions run on when a call names none, and why it was chosen."""

    name: BackendName
    reason: str


def setting_choice(resolved: Mapping[str, Resolved]) -> BackendChoice | None:
    """Return the backend the `backend` setting names, or None for `auto` (not known until
    an engine is asked)."""
    setting = resolved["backend"]
    for name in BACKENDS:
        if setting.value == name:
            return BackendChoice(name, f"from {setting.source}")
    return None
