"""Architectures: Lambda's names, and reading binfmt_misc for emulation (no Docker)."""

from __future__ import annotations

import platform
import re
from pathlib import Path
from typing import IO, Any

import pytest

from pytest_lambda import ConfigurationError
from pytest_lambda.config import arch as _arch

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
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")
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


# --------------------------------------------------------------------------------------------
# Images per architecture (no Docker)


@pytest.fixture
def x86_64_host(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


@pytest.mark.parametrize("runtime", ["python3.13", "provided.al2023", "provided.al2"])
def test_an_arm64_image_has_its_own_tag_and_hash(x86_64_host: None, runtime: str) -> None:
    from pytest_lambda.config.runtimes import get_runtime
    from pytest_lambda.images import recipes

    host = recipes.hermetic_tag(runtime)
    assert recipes.hermetic_tag(runtime, arch="x86_64") == host  # the host's tags are unchanged
    arm64 = recipes.hermetic_tag(runtime, arch="arm64")
    repository, _, version_hash = host.partition(":")
    version = version_hash.rsplit("-", 1)[0]
    assert re.fullmatch(rf"{re.escape(repository)}:{re.escape(version)}-arm64-[0-9a-f]{{12}}",
                        arm64)
    assert recipes.image_hash(runtime, arch="arm64") != recipes.image_hash(runtime)
    rt = get_runtime(runtime)
    assert recipes.base_tag(rt, arch="arm64") != recipes.base_tag(rt)
    assert "-arm64-" in recipes.base_tag(rt, arch="arm64")
    assert "arm64" not in recipes.base_tag(rt)


def test_an_arm64_host_names_its_x86_64_images(monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.images import recipes

    monkeypatch.setattr(platform, "machine", lambda: "aarch64")
    assert "-x86_64-" in recipes.hermetic_tag("python3.13", arch="x86_64")
    assert "arm64" not in recipes.hermetic_tag("python3.13", arch="arm64")


def test_nodejs_has_no_image_for_the_other_architecture(x86_64_host: None) -> None:
    from pytest_lambda.config.runtimes import get_runtime
    from pytest_lambda.images import resolve as image_resolve

    with pytest.raises(ConfigurationError, match="builds nodejs22.x images for this host's "
                                                 "architecture \\(x86_64\\) only"):
        image_resolve.require_buildable(get_runtime("nodejs22.x"), "arm64")
    image_resolve.require_buildable(get_runtime("nodejs22.x"), "x86_64")
    image_resolve.require_buildable(get_runtime("python3.13"), "arm64")


def test_code_for_the_other_architecture_needs_emulation(
    x86_64_host: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_lambda.service.build import build_config

    (tmp_path / "app.py").write_text("def handler(event, context):\n    return 1\n")
    monkeypatch.setattr(_arch, "BINFMT_DIR", tmp_path / "none")
    with pytest.raises(ConfigurationError, match="no arm64 emulation is registered"):
        build_config("app.handler", code=tmp_path, runtime="python3.13", architecture="arm64")
    _register(tmp_path / "binfmt", "qemu-aarch64", AARCH64_MAGIC)
    monkeypatch.setattr(_arch, "BINFMT_DIR", tmp_path / "binfmt")
    arm64 = build_config("app.handler", code=tmp_path, runtime="python3.13", architecture="arm64")
    host = build_config("app.handler", code=tmp_path, runtime="python3.13")
    assert (arm64.architecture, host.architecture) == ("arm64", "x86_64")
    assert arm64.pool_key() != host.pool_key()
    with pytest.raises(ConfigurationError, match="nodejs20.x images for this host's"):
        build_config("index.handler", code=tmp_path, runtime="nodejs20.x", architecture="arm64")


def test_build_images_takes_an_architecture(
    x86_64_host: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_lambda.containers import client as _docker
    from pytest_lambda.images import command as image_command
    from pytest_lambda.images import recipes

    seen: list[tuple[object, object]] = []

    def fake_build_all(client: object, runtimes: object, policy: object, progress: object,
                       architecture: object = None) -> list[recipes.ImageChoice]:
        seen.append((runtimes, architecture))
        return [recipes.ImageChoice("python3.13", "t", "hermetic", "cached", str(architecture))]

    monkeypatch.setattr(image_command, "build_all", fake_build_all)
    monkeypatch.setattr(_docker, "get_client", lambda: None)
    monkeypatch.setattr(image_command, "require_host_can_run", lambda arch: None)
    assert image_command.cli_build_images(["--runtime", "python3.13"]) == 0
    assert image_command.cli_build_images(
        ["--runtime", "python3.13", "--architecture", "arm64"]) == 0
    assert seen == [(["python3.13"], "x86_64"), (["python3.13"], "arm64")]
    with pytest.raises(SystemExit):
        image_command.cli_build_images(["--architecture", "aarch64"])
    assert "invalid choice: 'aarch64'" in capsys.readouterr().err


def test_build_images_refuses_an_architecture_it_cannot_run(
    x86_64_host: None, monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_lambda.images import command as image_command

    monkeypatch.setattr(_arch, "BINFMT_DIR", tmp_path / "none")
    assert image_command.cli_build_images(["--architecture", "arm64"]) == 1
    assert "no arm64 emulation is registered with binfmt_misc" in capsys.readouterr().err


def test_build_all_for_arm64_leaves_out_nodejs(x86_64_host: None,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.config import runtimes
    from pytest_lambda.images import resolve as image_resolve

    asked: list[tuple[str, object]] = []
    monkeypatch.setattr(image_resolve, "resolve_image", lambda client, name, **kw: asked.append(
        (name, kw["architecture"])))
    image_resolve.build_all(None, None, architecture="arm64")
    assert asked and all(arch == "arm64" for _, arch in asked)
    assert {name for name, _ in asked} == {
        name for name, rt in runtimes.RUNTIMES.items() if rt.family != "nodejs" and rt.hermetic}


def test_an_arm64_root_file_system_is_loaded_as_an_arm64_image(tmp_path: Path) -> None:
    import hashlib
    import io
    import json
    import tarfile

    from pytest_lambda.images import build as image_build

    rootfs = tmp_path / "rootfs.tar"
    with tarfile.open(rootfs, "w") as tar:
        info = tarfile.TarInfo("etc/hostname")
        info.size = 8
        tar.addfile(info, io.BytesIO(b"sandbox\n"))
    layer = rootfs.read_bytes()
    loaded: list[bytes] = []

    class Api:
        def load_image(self, data: Any) -> list[dict[str, str]]:
            loaded.append(data.read())
            return [{"stream": "Loaded image: pytest-lambda/base:trixie-arm64-0"}]

    class Client:
        api = Api()

    image_build._import_tarball(Client(), rootfs, "pytest-lambda/base:trixie-arm64-0", "arm64",
                            labels={"pytest-lambda.image": "base"}, cmd=["/bin/bash"])
    with tarfile.open(fileobj=io.BytesIO(loaded[0])) as archive:
        def member(name: str) -> IO[bytes]:
            found = archive.extractfile(name)
            assert found is not None, name
            return found

        manifest = json.load(member("manifest.json"))
        assert manifest[0]["RepoTags"] == ["pytest-lambda/base:trixie-arm64-0"]
        config = json.load(member(manifest[0]["Config"]))
        assert member(manifest[0]["Layers"][0]).read() == layer
    assert (config["architecture"], config["os"]) == ("arm64", "linux")
    assert config["rootfs"]["diff_ids"] == [f"sha256:{hashlib.sha256(layer).hexdigest()}"]
    assert config["config"] == {"Cmd": ["/bin/bash"], "Labels": {"pytest-lambda.image": "base"}}
