"""A directory of saved runtime images, for CI caches: `build-images --load DIR --save DIR`.

CI machines start without the runtime images, and building one takes minutes (most of it the
Debian root file system). A CI cache keeps a directory between runs; this module fills it with
one `docker save` tarball per image and loads them back, through the engine's API, so a job
needs neither the docker command line nor a registry. A tarball's name is its image's tag, so
an image that is already present is not loaded again and one already saved is not saved again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pytest_lambda.errors import ImageBuildError

_SUFFIX = ".tar"


def tarball_name(tag: str) -> str:
    """Return the file name that holds `tag`: `pytest-lambda%python@3.13-<hash>.tar`."""
    return tag.replace("/", "%").replace(":", "@") + _SUFFIX


def tag_of(path: Path) -> str:
    """Return the tag a tarball written by `save` holds."""
    return path.name[: -len(_SUFFIX)].replace("@", ":").replace("%", "/")


def load(client: Any, directory: Path, progress: Callable[[str], None]) -> list[str]:
    """Load each saved image in `directory` that the engine lacks; return the tags loaded.

    A directory that does not exist yet (the first run, an empty cache) loads nothing.
    """
    from docker.errors import ImageNotFound

    loaded: list[str] = []
    if not directory.is_dir():
        progress(f"pytest-lambda: {directory} does not exist yet: no saved images to load")
        return loaded
    for path in sorted(directory.glob("*" + _SUFFIX)):
        tag = tag_of(path)
        try:
            client.images.get(tag)
            continue
        except ImageNotFound:
            pass
        try:
            with path.open("rb") as stream:
                client.api.load_image(stream, quiet=True)
        except Exception as exc:
            raise ImageBuildError(
                f"Could not load the saved image {path} ({exc}): delete the file (the image is "
                f"then built again) or the cache that holds it."
            ) from None
        progress(f"pytest-lambda: loaded {tag} from {path}")
        loaded.append(tag)
    return loaded


def save(client: Any, tags: Iterable[str], directory: Path,
         progress: Callable[[str], None]) -> list[str]:
    """Save each of `tags` into `directory` unless saved there already; return the tags saved.

    Tarballs of other images are removed, so the directory (and the cache that keeps it) holds
    exactly the images of this invocation.
    """
    directory.mkdir(parents=True, exist_ok=True)
    wanted = {tarball_name(tag): tag for tag in tags}
    for path in directory.glob("*" + _SUFFIX):
        if path.name not in wanted:
            path.unlink()
            progress(f"pytest-lambda: removed {path}, an image this run does not use")
    saved: list[str] = []
    for name, tag in sorted(wanted.items()):
        path = directory / name
        if path.exists():
            continue
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as out:
                for chunk in client.images.get(tag).save(named=True):
                    out.write(chunk)
            partial.replace(path)
        except Exception as exc:
            partial.unlink(missing_ok=True)
            raise ImageBuildError(f"Could not save {tag} into {path}: {exc}.") from None
        progress(f"pytest-lambda: saved {tag} to {path}")
        saved.append(tag)
    return saved
