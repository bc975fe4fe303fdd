"""The plugin's settings, each resolved once: option > environment variable > ini key > default."""

from __future__ import annotations

import os

import pytest

from pytest_lambda.config.settings import SETTINGS, Resolved


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
