"""`python -m pytest_lambda build-images`: build or find runtime images ahead of a session."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_lambda.config.arch import (
    ARCHITECTURES,
    host_architecture,
    require_host_can_run,
    validate_architecture,
)
from pytest_lambda.config.runtimes import RUNTIMES, get_runtime
from pytest_lambda.config.settings import POLICIES
from pytest_lambda.errors import LambdaHarnessError
from pytest_lambda.images.build import print_to_stderr
from pytest_lambda.images.recipes import hermetic_tag
from pytest_lambda.images.resolve import _buildable, build_all, require_buildable


def cli_build_images(argv: Sequence[str] | None = None) -> int:
    """Run `python -m pytest_lambda build-images [--runtime NAME]... [--policy POLICY]
    [--architecture ARCH]`.

    Prints the image serving each runtime; returns 0, or 1 with the reason on stderr.
    """
    parser = argparse.ArgumentParser(
        prog="python -m pytest_lambda build-images",
        description="Build (or find) the runtime images pytest-aws-lambda runs functions in, "
                    "ahead of a test session.",
    )
    parser.add_argument(
        "--runtime", action="append", choices=sorted(RUNTIMES), metavar="RUNTIME",
        help=f"a runtime to build, repeatable (default: all of {', '.join(sorted(RUNTIMES))})",
    )
    parser.add_argument(
        "--policy", choices=POLICIES,
        default=os.environ.get("PYTEST_LAMBDA_IMAGE_POLICY") or "hermetic",
        help="image policy, as --lambda-image-policy (default: $PYTEST_LAMBDA_IMAGE_POLICY "
             "or hermetic)",
    )
    parser.add_argument(
        "--architecture", choices=ARCHITECTURES, default=host_architecture(),
        help="the architecture to build for, in Lambda's terms (default: this host's, "
             f"{host_architecture()}); another one needs emulation (binfmt_misc and QEMU)",
    )
    parser.add_argument(
        "--print-tags", action="store_true",
        help="print the tag each runtime's hermetic image has, one a line, without building "
             "or contacting Docker (a cache key for CI, and the names for `docker save`)",
    )
    parser.add_argument(
        "--load", metavar="DIR", type=Path,
        help="first load the images saved in DIR (by --save) that the engine lacks; a missing "
             "DIR loads nothing",
    )
    parser.add_argument(
        "--save", metavar="DIR", type=Path,
        help="then save each image into DIR as a docker-save tarball (skipping those saved "
             "already, removing others), for a CI cache to keep",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.print_tags:
        arch = validate_architecture(args.architecture)
        names = args.runtime or sorted(name for name, rt in RUNTIMES.items()
                                       if rt.hermetic and _buildable(rt, arch))
        try:
            for name in names:
                require_buildable(get_runtime(name), arch)
                print(hermetic_tag(name, arch=arch))
        except LambdaHarnessError as exc:
            print(f"pytest-lambda: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        from pytest_lambda.containers.client import get_client
        from pytest_lambda.images import archive as _image_cache

        require_host_can_run(args.architecture)
        client = get_client()
        if args.load is not None:
            _image_cache.load(client, args.load, print_to_stderr)
        choices = build_all(client, args.runtime, args.policy, print_to_stderr,
                            architecture=args.architecture)
        if args.save is not None:
            _image_cache.save(client, [choice.tag for choice in choices], args.save,
                              print_to_stderr)
    except (LambdaHarnessError, OSError) as exc:  # OSError: --load or --save paths
        print(f"pytest-lambda: {exc}", file=sys.stderr)
        return 1
    for choice in choices:
        print(f"{choice.runtime}: {choice.tag} ({choice.source}; {choice.reason})")
    if not args.runtime:
        served = {choice.runtime for choice in choices}
        for name, rt in sorted(RUNTIMES.items()):
            if not rt.hermetic and name not in served:
                print(f"{name}: no hermetic image; AWS's {rt.official_image} serves it under "
                      f"--policy prefer-official or official once pulled")
    return 0
