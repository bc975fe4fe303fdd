"""`build-images --save DIR --load DIR`: runtime images kept in a CI cache directory."""

from __future__ import annotations

import json
import tarfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda.cli import main
from pytest_lambda.images import archive as _image_cache

pytestmark = pytest.mark.docker


@pytest.fixture
def own_tag(client: Any) -> Any:
    """Return a tag of this test's own on the python3.13 runtime image; untag it afterwards."""
    from pytest_lambda.images.resolve import resolve_image

    image = client.images.get(resolve_image(client, "python3.13").tag)
    tag = f"pytest-lambda-test/image-cache:{uuid.uuid4().hex[:12]}"
    image.tag(tag)
    yield tag
    try:
        client.images.remove(tag)  # the tag only: the image keeps its other tags
    except Exception:
        pass


def test_save_then_load_restores_a_missing_image(client: Any, own_tag: str,
                                                 tmp_path: Path) -> None:
    from docker.errors import ImageNotFound

    said: list[str] = []
    directory = tmp_path / "images"
    assert _image_cache.save(client, [own_tag], directory, said.append) == [own_tag]
    (tarball,) = directory.iterdir()
    assert _image_cache.tag_of(tarball) == own_tag
    with tarfile.open(tarball) as tar:
        member = tar.extractfile("manifest.json")
        assert member is not None
        manifest = json.load(member)
    assert [own_tag] in [entry["RepoTags"] for entry in manifest]
    # Saved already: not written again.
    assert _image_cache.save(client, [own_tag], directory, said.append) == []

    client.images.remove(own_tag)
    with pytest.raises(ImageNotFound):
        client.images.get(own_tag)
    assert _image_cache.load(client, directory, said.append) == [own_tag]
    assert client.images.get(own_tag) is not None
    # Present already: not loaded again.
    assert _image_cache.load(client, directory, said.append) == []
    assert said[-1].startswith(f"pytest-lambda: loaded {own_tag} from ")

    # Saving another set drops the tarballs this run does not use.
    _image_cache.save(client, [], directory, said.append)
    assert list(directory.iterdir()) == []


def test_the_command_line_loads_builds_and_saves(client: Any, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    from pytest_lambda.images.recipes import hermetic_tag

    directory = tmp_path / "cache"
    assert main(["build-images", "--runtime", "python3.13", "--load", str(directory),
                 "--save", str(directory)]) == 0
    captured = capsys.readouterr()
    tag = hermetic_tag("python3.13")
    assert f"{directory} does not exist yet: no saved images to load" in captured.err
    assert f"saved {tag} to " in captured.err
    assert [path.name for path in directory.iterdir()] == [_image_cache.tarball_name(tag)]


def test_an_unusable_directory_is_one_sentence(client: Any, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    assert main(["build-images", "--runtime", "python3.13", "--save", str(blocker)]) == 1
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("pytest-lambda: ") and "a-file" in err and "Traceback" not in err
