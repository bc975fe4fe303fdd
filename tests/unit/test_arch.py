"""Architectures: Lambda's names, and reading binfmt_misc for emulation (no Docker)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_lambda import ConfigurationError, _arch

AARCH64_MAGIC = "7f454c460201010000000000000000000200b700"
X86_64_MAGIC = "7f454c4602010100000000000000000002003e00"


def _register(binfmt: Path, name: str, magic: str, enabled: bool = True) -> None:
    binfmt.mkdir(exist_ok=True)
    (binfmt / name).write_text(
        ("enabled" if enabled else "disabled") + "\ninterpreter /usr/bin/qemu-x-static\n"
        f"flags: OCF\noffset 0\nmagic {magic}\nmask fffffffffffffffcfffffffffffffffffeffffff\n"
    )
    (binfmt / "register").write_text("")
    (binfmt / "status").write_text("enabled\n")


def test_lambdas_names_only() -> None:
    assert _arch.validate_architecture("arm64") == "arm64"
    with pytest.raises(ConfigurationError, match="'x86_64' or 'arm64'"):
        _arch.validate_architecture("aarch64")


def test_emulation_is_read_from_binfmt_misc(tmp_path: Path) -> None:
    binfmt = tmp_path / "binfmt_misc"
    assert not _arch.emulation_available("arm64", binfmt)  # not mounted
    _register(binfmt, "qemu-aarch64", AARCH64_MAGIC, enabled=False)
    assert not _arch.emulation_available("arm64", binfmt)
    _register(binfmt, "qemu-x86_64", X86_64_MAGIC)
    assert not _arch.emulation_available("arm64", binfmt)
    assert _arch.emulation_available("x86_64", binfmt)
    _register(binfmt, "some-other-name", AARCH64_MAGIC)
    assert _arch.emulation_available("arm64", binfmt)


def test_refusal_says_how_to_enable_emulation(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_arch.platform, "machine", lambda: "x86_64")
    with pytest.raises(ConfigurationError) as info:
        _arch.require_host_can_run("arm64", tmp_path / "none")
    assert str(info.value) == (
        "architecture='arm64' cannot run on this x86_64 host: no arm64 emulation is registered "
        "with binfmt_misc. Install it (on Debian or Ubuntu: apt-get install qemu-user-static "
        "binfmt-support, which registers qemu-aarch64) and run again, or use "
        "architecture='x86_64'."
    )
    _arch.require_host_can_run("x86_64", tmp_path / "none")
    _register(tmp_path / "binfmt", "qemu-aarch64", AARCH64_MAGIC)
    _arch.require_host_can_run("arm64", tmp_path / "binfmt")
