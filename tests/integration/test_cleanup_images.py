"""Leftovers in the engine: a dead session's network with an endpoint still attached, and image
tags that no current recipe produces (`prune-images`)."""

from __future__ import annotations

import io
import socket
import tarfile
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from pytest_lambda.containers.client import (
    LABEL_HOST,
    LABEL_PID,
    LABEL_SESSION,
    SessionLabels,
    sweep,
)
from pytest_lambda.images.prune import stale_tags
from pytest_lambda.images.recipes import LABEL_IMAGE, hermetic_tag

pytestmark = pytest.mark.docker


def _dead_pid() -> int:
    # Above the kernel's default pid_max: no live process has it.
    return 4_194_304 + 1


@pytest.fixture
def tiny_image(client: Any) -> Iterator[str]:
    """Build a one-file image labelled as the plugin labels its runtime images."""
    dockerfile = f"FROM scratch\nCOPY marker /marker\nLABEL {LABEL_IMAGE}=runtime\n".encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in (("Dockerfile", dockerfile), ("marker", uuid.uuid4().hex.encode())):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    buf.seek(0)
    image, _ = client.images.build(fileobj=buf, custom_context=True, rm=True)
    yield image.id
    try:
        client.images.remove(image.id, force=True)
    except Exception:
        pass


def test_prune_images_names_only_the_plugins_stale_tags(client: Any, tiny_image: str) -> None:
    stale = f"pytest-lambda/python:3.13-{uuid.uuid4().hex[:12]}"
    mine = f"pytest-lambda-user-fn:{uuid.uuid4().hex[:8]}"  # a user's image FROM a runtime image
    current = hermetic_tag("python3.13")
    present = [current] if client.api.images(name=current) else []
    for tag in (stale, mine):
        repository, version = tag.split(":")
        client.api.tag(tiny_image, repository, version)
    names = {tag for tag, _size in stale_tags(client)}
    assert stale in names
    assert mine not in names
    for tag in present:
        assert tag not in names


def test_sweep_removes_a_dead_sessions_network_with_an_endpoint_left(client: Any) -> None:
    labels = SessionLabels.current()
    dead = {**labels.as_dict(), LABEL_SESSION: uuid.uuid4().hex[:12],
            LABEL_HOST: socket.gethostname(), LABEL_PID: str(_dead_pid())}
    network = client.networks.create(f"pytest-lambda-test-{uuid.uuid4().hex[:8]}",
                                     driver="bridge", internal=True, labels=dead)
    image = hermetic_tag("python3.13")
    # A container that is not the session's (no labels): the sweep leaves it, but its endpoint
    # keeps the network busy, as an endpoint the engine failed to release does.
    holder = client.containers.run(image, ["300"], entrypoint=["/bin/sleep"], detach=True,
                                   network=network.name, user="993:993")
    try:
        _containers, networks = sweep(client, labels)
        assert networks == 1
        assert client.api.networks(filters={"id": network.id}) == []
    finally:
        holder.remove(force=True)
        try:
            network.remove()
        except Exception:
            pass
