"""The command line: `python -m pytest_lambda <command> [arguments]`.

A small dispatcher: each command lives with the code it serves and takes its own arguments.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence


def _event(argv: list[str]) -> int:
    from pytest_lambda.events._cli import main

    return main(argv)


def _build_images(argv: list[str]) -> int:
    from pytest_lambda.images.command import cli_build_images

    return cli_build_images(argv)


def _prune_images(argv: list[str]) -> int:
    from pytest_lambda.images.prune import cli_prune_images

    return cli_prune_images(argv)


def _prune_cache(argv: list[str]) -> int:
    from pytest_lambda.artifacts.cache import cli_prune_cache

    return cli_prune_cache(argv)


#: Command name -> (function taking the remaining arguments and returning the exit code, help).
COMMANDS: dict[str, tuple[Callable[[list[str]], int], str]] = {
    "event": (_event, "print a Lambda event as JSON (event --list shows the names)"),
    "build-images": (_build_images, "build the runtime images ahead of a test session"),
    "prune-images": (_prune_images, "remove runtime images no current recipe produces"),
    "prune-cache": (_prune_cache, "shrink the cache directory to a size (--max-size, --dry-run)"),
}


def _usage() -> str:
    lines = ["usage: python -m pytest_lambda <command> [arguments]", "", "commands:"]
    lines += [f"  {name:<13} {text}" for name, (_, text) in sorted(COMMANDS.items())]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command named by the first argument and return its exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage(), file=sys.stdout if args else sys.stderr)
        return 0 if args else 2
    command = COMMANDS.get(args[0])
    if command is None:
        print(
            f"python -m pytest_lambda: unknown command {args[0]!r}; choose one of "
            f"{', '.join(sorted(COMMANDS))}.",
            file=sys.stderr,
        )
        return 2
    return command[0](args[1:])

