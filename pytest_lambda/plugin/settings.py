"""The plugin's settings, each resolved once: option > environment variable > ini key > default."""

from __future__ import annotations

import pytest

from pytest_lambda.config import settings
from pytest_lambda.config.settings import SETTINGS, Resolved, Setting
from pytest_lambda.errors import ConfigurationError


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

    def option(s: Setting) -> tuple[str, str] | None:
        value = config.getoption(s.dest)
        return None if value is None else (str(value), s.option)

    def ini(s: Setting) -> tuple[str, str] | None:
        value = config.getini(s.ini)
        return (str(value), f"ini {s.ini}") if value else None

    try:
        return settings.resolve(option=option, ini=ini)
    except ConfigurationError as exc:
        raise pytest.UsageError(str(exc)) from None
