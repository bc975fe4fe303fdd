"""`python -m pytest_lambda prune-images`: remove the runtime images no current recipe produces.

Every hermetic build makes tags under `pytest-lambda/<family>` and `pytest-lambda/base` whose
hash changes with the recipe, so upgrades leave old tags behind. This removes only those: a tag
is stale when it is in one of the plugin's repositories, on an image that carries the plugin's
`pytest-lambda.image` label, and no runtime's recipe (for either architecture) yields it today.
Images the user built on top of a runtime image inherit the label but live under the user's own
names, so they are never touched; nor is an image of the plugin's that has a current tag too.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from pytest_lambda.config.arch import ARCHITECTURES
from pytest_lambda.config.runtimes import RUNTIMES
from pytest_lambda.images.builders import build_image_tag
from pytest_lambda.images.recipes import LABEL_IMAGE, base_tag, hermetic_tag, recipe

#: The repositories the plugin's builds tag images in.
_REPOSITORY_PREFIX = "pytest-lambda/"


def current_tags() -> set[str]:
    """Return every tag the current recipes produce, for every runtime and architecture."""
    tags: set[str] = set()
    for rt in RUNTIMES.values():
        if not rt.hermetic:
            continue
        for arch in ARCHITECTURES:
            tags.add(hermetic_tag(rt, arch=arch))
            tags.add(base_tag(rt, arch=arch))
            if recipe(rt).build_packages:
                tags.add(base_tag(rt, stage="build", arch=arch))
            if rt.family == "python":  # the images that compile source distributions
                tags.add(build_image_tag(rt, arch))
    return tags


def stale_tags(client: Any) -> Iterator[tuple[str, int]]:
    """Yield (tag, image size in bytes) for each of the plugin's tags no recipe produces."""
    keep = current_tags()
    for image in client.api.images(filters={"label": LABEL_IMAGE}):
        for tag in image.get("RepoTags") or ():
            if tag.startswith(_REPOSITORY_PREFIX) and tag not in keep:
                yield tag, int(image.get("Size") or 0)


def prune_images(client: Any, *, dry_run: bool = False,
                 say: Callable[[str], None] = print) -> list[str]:
    """Untag (and so remove, once no tag is left) the stale tags; return them."""
    removed = []
    for tag, size in sorted(stale_tags(client)):
        if dry_run:
            say(f"would remove {tag} ({size / 1e6:.0f} MB)")
        else:
            try:
                client.api.remove_image(tag)
            except Exception as exc:  # in use by a container, say: leave it and say why
                say(f"kept {tag}: {getattr(exc, 'explanation', None) or exc}")
                continue
            say(f"removed {tag} ({size / 1e6:.0f} MB)")
        removed.append(tag)
    if not removed:
        say("no stale pytest-aws-lambda images")
    return removed


def cli_prune_images(argv: Sequence[str] | None = None) -> int:
    """Run `python -m pytest_lambda prune-images [--dry-run]`."""
    parser = argparse.ArgumentParser(
        prog="python -m pytest_lambda prune-images",
        description="Remove the runtime and base images of pytest-aws-lambda that no current "
                    "recipe produces (left by upgrades); keep the current ones and every image "
                    "the plugin did not build.",
    )
    parser.add_argument("--dry-run", action="store_true", help="list them, remove nothing")
    args = parser.parse_args(argv)
    from pytest_lambda.containers.client import get_client
    from pytest_lambda.errors import LambdaHarnessError

    try:
        client = get_client()
    except LambdaHarnessError as exc:
        print(f"prune-images: {exc}")
        return 1
    prune_images(client, dry_run=args.dry_run)
    return 0
