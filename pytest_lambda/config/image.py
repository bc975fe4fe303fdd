"""What a container-image function runs: the image and Lambda's `ImageConfig` overrides."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pytest_lambda.config.arch import Architecture
from pytest_lambda.errors import ConfigurationError

#: Lambda's `ImageConfig` bound: up to 1,500 entry point or command strings.
_MAX_ITEMS = 1500


@dataclass(frozen=True)
class ImageSpec:
    """What a container-image function runs: the image as given and as the engine resolved it."""

    #: The reference as the test gave it ("my-function:latest").
    reference: str
    #: The image's id ("sha256:..."): what containers are created from.
    image_id: str
    entry_point: tuple[str, ...]
    command: tuple[str, ...]
    working_directory: str
    #: Lambda's name for the image's architecture: "x86_64" or "arm64".
    architecture: Architecture

    @property
    def argv(self) -> list[str]:
        """Return what the container runs: the entry point followed by the command."""
        return [*self.entry_point, *self.command]


def _string_list(value: object, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ConfigurationError(
            f"{what} must be a list of strings such as ['app.handler'], not {value!r}."
        )
    items = tuple(value)
    if not all(isinstance(item, str) for item in items):
        raise ConfigurationError(f"{what} must be a list of strings, not {value!r}.")
    if len(items) > _MAX_ITEMS:
        raise ConfigurationError(
            f"{what} has {len(items)} items; Lambda's image configuration allows at most "
            f"{_MAX_ITEMS}."
        )
    return items


def default_image_function_name(spec: ImageSpec) -> str:
    """Return a readable name stable for one image and configuration: `<repository>-<hash>`."""
    repository = spec.reference.rsplit("/", 1)[-1].split("@", 1)[0].split(":", 1)[0]
    stem = re.sub(r"[^a-zA-Z0-9_-]+", "-", repository).strip("-") or "image-function"
    suffix = hashlib.sha256(repr(spec).encode()).hexdigest()[:8]
    return f"{stem[:55]}-{suffix}"
