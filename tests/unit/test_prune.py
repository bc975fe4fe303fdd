"""`prune-images` decides from the recipes which of the plugin's tags are stale."""

from __future__ import annotations

from typing import Any

from pytest_lambda.config.runtimes import get_runtime
from pytest_lambda.images.prune import current_tags, prune_images
from pytest_lambda.images.recipes import base_tag, hermetic_tag


class _Api:
    def __init__(self, images: list[dict[str, Any]]) -> None:
        self._images = images
        self.removed: list[str] = []

    def images(self, filters: dict[str, str]) -> list[dict[str, Any]]:
        assert filters == {"label": "pytest-lambda.image"}
        return self._images

    def remove_image(self, tag: str) -> None:
        self.removed.append(tag)


class _Client:
    def __init__(self, images: list[dict[str, Any]]) -> None:
        self.api = _Api(images)


def test_current_tags_cover_every_architecture_and_the_bases() -> None:
    tags = current_tags()
    rt = get_runtime("python3.13")
    for arch in ("x86_64", "arm64"):
        assert hermetic_tag(rt, arch=arch) in tags
        assert base_tag(rt, arch=arch) in tags
    assert not any(tag.startswith("pytest-lambda/python:3.12") for tag in tags)  # AWS's only


def test_prune_removes_stale_tags_and_nothing_else() -> None:
    current = hermetic_tag("python3.13")
    client = _Client([
        {"RepoTags": [current], "Size": 1},
        {"RepoTags": ["pytest-lambda/python:3.13-0123456789ab"], "Size": 120_000_000},
        {"RepoTags": ["my-function:latest"], "Size": 5},  # built FROM a runtime image
        {"RepoTags": None, "Size": 5},  # untagged: not the plugin's to judge
    ])
    said: list[str] = []
    assert prune_images(client, dry_run=True, say=said.append) == [
        "pytest-lambda/python:3.13-0123456789ab"]
    assert client.api.removed == []
    assert said == ["would remove pytest-lambda/python:3.13-0123456789ab (120 MB)"]
    prune_images(client, say=said.append)
    assert client.api.removed == ["pytest-lambda/python:3.13-0123456789ab"]


def test_the_current_build_images_are_kept() -> None:
    from pytest_lambda.images.builders import build_image_tag

    tags = current_tags()
    assert build_image_tag(get_runtime("python3.13"), "x86_64") in tags
