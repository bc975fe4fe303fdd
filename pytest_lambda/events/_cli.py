"""`python -m pytest_lambda event <name> [--param value ...]`: print an event as JSON."""

from __future__ import annotations

import inspect
import json
import sys
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pytest_lambda.events._cloudfront import cloudfront_origin_request, cloudfront_viewer_request
from pytest_lambda.events._cognito import (
    cognito_post_confirmation,
    cognito_pre_sign_up,
    cognito_pre_token_generation,
)
from pytest_lambda.events._common import EventError
from pytest_lambda.events._dynamodb import (
    dynamodb_insert,
    dynamodb_modify,
    dynamodb_remove,
)
from pytest_lambda.events._http import alb, api_gateway_http, api_gateway_rest, function_url
from pytest_lambda.events._messaging import sns, sqs, sqs_batch
from pytest_lambda.events._s3 import s3_copy, s3_delete, s3_put
from pytest_lambda.events._streams import (
    cloudwatch_logs,
    eventbridge,
    kinesis,
    kinesis_batch,
    scheduled,
)

_USAGE = (
    "usage: python -m pytest_lambda event <name> [--param value ...]\n"
    "       python -m pytest_lambda event --list\n"
    "       python -m pytest_lambda event <name> --help"
)


class _UsageError(Exception):
    """A command line the event command cannot run; the message is one sentence."""


def _parse_bool(text: str) -> bool:
    lowered = text.lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise ValueError("expected true or false")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


def _parse_json(text: str) -> Any:
    return json.loads(text)


def _parse_list(text: str) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return [part for part in text.split(",") if part]
    return value


def _converter(hint: Any) -> tuple[Callable[[str], Any], str]:
    """Return how to read a command-line value for a parameter of type `hint`, and its name."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if str in args:
            return str, "text"
        if len(args) == 1:
            return _converter(args[0])
        hint, origin = args[0], typing.get_origin(args[0])
    if hint is bool:
        return _parse_bool, "true or false"
    if hint is int:
        return int, "a whole number"
    if hint is float:
        return float, "a number"
    if hint is str:
        return str, "text"
    if hint is datetime:
        return _parse_time, "an ISO 8601 time such as 2024-01-01T12:00:00Z"
    if origin is not None and isinstance(origin, type) and issubclass(origin, Mapping):
        return _parse_json, 'a JSON object such as \'{"name": "value"}\''
    if origin is not None and isinstance(origin, type) and issubclass(origin, Sequence):
        return _parse_list, "a JSON list or comma-separated values"
    return _parse_json, "JSON"


def _parameters(builder: Callable[..., Any]) -> dict[str, tuple[Any, Any]]:
    """Return each parameter's type hint and default, by command-line name (`--bucket`)."""
    hints = typing.get_type_hints(builder)
    result: dict[str, tuple[Any, Any]] = {}
    for name, parameter in inspect.signature(builder).parameters.items():
        if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
            continue
        result["--" + name.replace("_", "-")] = (hints.get(name, str), parameter.default)
    return result


def _describe(name: str, builder: Callable[..., Any]) -> str:
    doc = (inspect.getdoc(builder) or "").splitlines()
    lines = [f"python -m pytest_lambda event {name} [--param value ...]"]
    if doc:
        lines += ["", doc[0], ""]
    lines.append("parameters (defaults in brackets; 'None' means a fresh or derived value):")
    for option, (hint, default) in _parameters(builder).items():
        _, kind = _converter(hint)
        lines.append(f"  {option:<26} {kind} [{default!r}]")
    return "\n".join(lines)


def _keywords(name: str, builder: Callable[..., Any], argv: list[str]) -> dict[str, Any]:
    """Return the builder's keyword arguments read from `--param value` pairs."""
    parameters = _parameters(builder)
    keywords: dict[str, Any] = {}
    index = 0
    while index < len(argv):
        option = argv[index]
        if not option.startswith("--"):
            raise _UsageError(f"expected --param value, got {option!r} (see: event {name} --help)")
        option, equals, value = option.partition("=")
        if option not in parameters:
            known = ", ".join(parameters) or "none"
            raise _UsageError(f"{name} has no parameter {option}; its parameters are {known}")
        if not equals:
            index += 1
            if index >= len(argv):
                raise _UsageError(f"{option} needs a value")
            value = argv[index]
        index += 1
        convert, kind = _converter(parameters[option][0])
        try:
            keywords[option[2:].replace("-", "_")] = convert(value)
        except ValueError:
            raise _UsageError(f"{option} takes {kind}, not {value!r}") from None
    return keywords


def batch_command(
    batch_builder: Callable[..., dict[str, Any]], single: Callable[..., dict[str, Any]],
    items: str, *, exclude: Sequence[str] = (),
) -> Callable[..., dict[str, Any]]:
    """Return `batch_builder` as the command line offers it: `--<items>` plus every keyword
    parameter of `single` (the one-record builder whose options it shares) but `exclude`.

    Without `--<items>` it builds two records from `single`'s default payload.
    """
    hints = typing.get_type_hints(single)
    first, *rest = inspect.signature(single).parameters.values()
    options = [p for p in rest if p.name not in exclude and p.kind is p.KEYWORD_ONLY]
    default = [first.default, first.default]

    def command(**keywords: Any) -> dict[str, Any]:
        return batch_builder(keywords.pop(items, default), **keywords)

    command.__name__ = command.__qualname__ = batch_builder.__name__
    command.__doc__ = batch_builder.__doc__
    command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
        [inspect.Parameter(items, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=default),
         *options])
    command.__annotations__ = {items: typing.get_type_hints(batch_builder)[items],
                               **{p.name: hints[p.name] for p in options}}
    return command


def _fail(message: str) -> int:
    print(f"python -m pytest_lambda event: {message.rstrip('.')}.", file=sys.stderr)
    return 2


def main(argv: list[str]) -> int:
    """Print the event `argv` asks for and return 0, or print one sentence and return 2."""
    if not argv or argv[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stdout if argv else sys.stderr)
        return 0 if argv else 2
    if argv[0] == "--list":
        for listed, function in sorted(BUILDERS.items()):
            summary = (inspect.getdoc(function) or "").splitlines()[0]
            print(f"{listed:<30} {summary}")
        return 0
    name, rest = argv[0], argv[1:]
    builder = BUILDERS.get(name)
    try:
        if builder is None:
            raise _UsageError(
                f"unknown event {name!r}; choose one of {', '.join(sorted(BUILDERS))}"
            )
        if rest and rest[0] in ("-h", "--help"):
            print(_describe(name, builder))
            return 0
        event = builder(**_keywords(name, builder, rest))
    except (_UsageError, EventError) as exc:
        return _fail(str(exc))
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        # A JSON value of the wrong shape that a builder did not check itself.
        return _fail(f"event {name} cannot use those parameters ({type(exc).__name__}: {exc})")
    try:
        sys.stdout.write(json.dumps(event, indent=2) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # the reader (say, `head`) stopped early: not an error
        sys.stdout = None  # nothing is left to flush at exit
    return 0


#: The builders the command line offers, by name: `python -m pytest_lambda event <name>`.
BUILDERS: dict[str, Callable[..., dict[str, Any]]] = {
    "alb": alb,
    "api-gateway-http": api_gateway_http,
    "api-gateway-rest": api_gateway_rest,
    "cloudfront-origin-request": cloudfront_origin_request,
    "cloudfront-viewer-request": cloudfront_viewer_request,
    "cloudwatch-logs": cloudwatch_logs,
    "cognito-post-confirmation": cognito_post_confirmation,
    "cognito-pre-sign-up": cognito_pre_sign_up,
    "cognito-pre-token-generation": cognito_pre_token_generation,
    "dynamodb-insert": dynamodb_insert,
    "dynamodb-modify": dynamodb_modify,
    "dynamodb-remove": dynamodb_remove,
    "eventbridge": eventbridge,
    "function-url": function_url,
    "kinesis": kinesis,
    "kinesis-batch": batch_command(kinesis_batch, kinesis, "items"),
    "s3-copy": s3_copy,
    "s3-delete": s3_delete,
    "s3-put": s3_put,
    "scheduled": scheduled,
    "sns": sns,
    "sqs": sqs,
    "sqs-batch": batch_command(sqs_batch, sqs, "bodies", exclude=("message_id",)),
}
