"""Credentials in URLs never reach what the harness prints."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import BackendUnavailableError, ImageBuildError
from pytest_lambda.config.runtimes import get_runtime
from pytest_lambda.images import build as image_build
from pytest_lambda.system.redact import redact


@pytest.mark.parametrize(("text", "shown"), [
    ("http://ada:s3cret@mirror.example/debian", "http://ada:***@mirror.example/debian"),
    ("from https://TOKEN123@mirror.example/x done", "from https://***@mirror.example/x done"),
    ("tcp://u:p@127.0.0.1:2376 and ssh://root:pw@h", "tcp://u:***@127.0.0.1:2376 and ssh://root:***@h"),
    ("'http://a:b@h/' \"https://c:d@h/\"", "'http://a:***@h/' \"https://c:***@h/\""),
    ("mail ada@example.org, http://mirror.example/debian", "mail ada@example.org, http://mirror.example/debian"),
    ("http://h/path@v1", "http://h/path@v1"),
])
def test_redact_hides_passwords_and_tokens_in_urls(text: str, shown: str) -> None:
    assert redact(text) == shown


def test_harness_errors_never_carry_a_url_password() -> None:
    error = BackendUnavailableError("No Docker engine answers (tcp://ada:s3cret@127.0.0.1:1).")
    assert "s3cret" not in str(error) and "tcp://ada:***@127.0.0.1:1" in str(error)


class _NoImages:
    """A Docker client with no images (every lookup misses)."""

    class images:  # noqa: N801 - docker-py's attribute name
        @staticmethod
        def get(tag: str) -> Any:
            from docker.errors import ImageNotFound

            raise ImageNotFound(tag)


def test_mirror_password_is_not_printed_while_building(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A stand-in for mmdebstrap that, like apt on failure, prints the URL it was given.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "mmdebstrap"
    fake.write_text('#!/bin/sh\nfor a; do last="$a"; done\necho "E: cannot fetch $last"\nexit 1\n')
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "cache"))
    mirror = "http://ada:s3cret@127.0.0.1:9/debian"
    said: list[str] = []
    steps = image_build._Steps(get_runtime("python3.13"), said.append)
    with pytest.raises(ImageBuildError) as info:
        image_build._ensure_base(_NoImages(), get_runtime("python3.13"), steps, mirror)
    printed = "\n".join([*said, str(info.value)])
    assert "E: cannot fetch http://ada:***@127.0.0.1:9/debian" in printed
    assert "mmdebstrap from http://ada:***@127.0.0.1:9/debian" in printed
    assert "s3cret" not in printed
