"""The AWS SDKs of the hermetic images: pinned with hashes, part of the image tags of their own
family only, and fetched (and checked) the way the runtime interface clients are."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pytest_lambda.config.runtimes import get_runtime
from pytest_lambda.errors import ImageBuildError
from pytest_lambda.images import build as image_build
from pytest_lambda.images import recipes

ROOT = Path(__file__).resolve().parents[2]
#: What Lambda's Python runtimes carry next to boto3: its dependencies and theirs.
BOTO3_STACK = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six",
               "urllib3"}
#: What issue 11 names for the Node.js runtimes, at the least.
NODE_PACKAGES = {f"@aws-sdk/client-{name}" for name in (
    "s3", "dynamodb", "sqs", "sns", "lambda", "eventbridge", "secrets-manager", "ssm", "sts",
    "kms", "kinesis", "cloudwatch-logs")} | {"@aws-sdk/lib-dynamodb"}


def requirements(path: Path) -> dict[str, tuple[str, list[str]]]:
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


@pytest.fixture
def images_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "runtime_images"
    shutil.copytree(recipes.runtime_images_dir(), copy, symlinks=True)
    return copy


def test_boto3_and_its_dependencies_are_pinned_with_hashes() -> None:
    pinned = requirements(recipes.python_sdk_requirements())
    assert set(pinned) == BOTO3_STACK
    name, _, version = recipes.BOTO3_SPEC.partition("==")
    assert pinned[name][0] == version
    # boto3 and botocore are released together, with the same version.
    assert pinned["botocore"][0] == version
    for project, (release, hashes) in pinned.items():
        assert re.fullmatch(r"\d+(\.\d+)*(\.post\d+)?", release), project
        assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), project
    header = recipes.python_sdk_requirements().read_text().splitlines()[0]
    assert header.startswith(f"# {recipes.BOTO3_SPEC} and its dependencies")


def test_boto3_pins_do_not_overlap_the_clients() -> None:
    # One pip run installs both files: a project pinned twice would be two requirements.
    client = requirements(recipes.runtime_images_dir() / "python" / "requirements.txt")
    assert not set(client) & set(requirements(recipes.python_sdk_requirements()))


def test_javascript_sdk_is_locked_with_integrity_hashes() -> None:
    lock_dir = recipes.node_sdk_lock_dir()
    assert set(recipes.AWS_SDK_JS_PACKAGES) >= NODE_PACKAGES
    assert json.loads((lock_dir / "package.json").read_text())["dependencies"] == dict(
        recipes.AWS_SDK_JS_PACKAGES)
    lock = json.loads((lock_dir / "package-lock.json").read_text())
    packages = {name: pkg for name, pkg in lock["packages"].items() if name}
    for name, version in recipes.AWS_SDK_JS_PACKAGES.items():
        assert packages[f"node_modules/{name}"]["version"] == version
    for name, pkg in packages.items():
        assert pkg["integrity"].startswith("sha512-"), name
        assert "resolved" not in pkg, name  # npm ci takes them from the configured registry
        assert not pkg.get("hasInstallScript"), name  # nothing to compile or run


@pytest.mark.parametrize("runtime, spec", [
    ("python3.13", recipes.BOTO3_SPEC),
    ("python3.11", recipes.BOTO3_SPEC),
    ("provided.al2023", None),
])
def test_sdk_spec_by_family(runtime: str, spec: str | None) -> None:
    assert recipes.sdk_spec(get_runtime(runtime)) == spec


def test_node_sdk_spec_names_every_package_and_version() -> None:
    spec = recipes.sdk_spec(get_runtime("nodejs22.x")) or ""
    assert sorted(spec.split()) == sorted(
        f"{name}@{version}" for name, version in recipes.AWS_SDK_JS_PACKAGES.items())


def test_a_changed_sdk_pin_changes_its_familys_tags_only(
        images_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    runtimes = ("python3.13", "python3.14", "nodejs22.x", "nodejs24.x", "provided.al2023")

    def tags() -> dict[str, str]:
        return {rt: recipes.image_hash(rt, images_dir=images_copy) for rt in runtimes}

    before = tags()
    assert tags() == before  # the same inputs, the same tags
    sdk = recipes.python_sdk_requirements(images_copy)
    sdk.write_text(sdk.read_text() + "\n")
    python_changed = tags()
    assert {rt for rt in runtimes if python_changed[rt] != before[rt]} == {
        "python3.13", "python3.14"}
    lock = recipes.node_sdk_lock_dir(images_copy) / "package-lock.json"
    lock.write_text(lock.read_text() + "\n")
    node_changed = tags()
    assert {rt for rt in runtimes if node_changed[rt] != python_changed[rt]} == {
        "nodejs22.x", "nodejs24.x"}
    with monkeypatch.context() as m:
        m.setattr(recipes, "BOTO3_SPEC", "boto3==0.0.1")
        assert recipes.image_hash("python3.13", images_dir=images_copy) != node_changed[
            "python3.13"]
        assert recipes.image_hash("nodejs22.x", images_dir=images_copy) == node_changed[
            "nodejs22.x"]
    with monkeypatch.context() as m:
        m.setattr(recipes, "AWS_SDK_JS_PACKAGES", {"@aws-sdk/client-s3": "3.0.0"})
        assert recipes.image_hash("nodejs22.x", images_dir=images_copy) != node_changed[
            "nodejs22.x"]


def test_the_pin_script_runs(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "pin_runtime_clients.py"),
                           "--help"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "--sdk" in done.stdout


def _steps(runtime: str) -> Any:
    return image_build._Steps(get_runtime(runtime), lambda line: None)


def test_pip_refuses_a_boto3_whose_hash_is_not_the_pinned_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    context = tmp_path / "context"
    context.mkdir()
    shutil.copy2(recipes.runtime_images_dir() / "python" / "requirements.txt", context)
    pinned = requirements(recipes.python_sdk_requirements())
    tampered = context / "sdk-requirements.txt"
    tampered.write_text("".join(
        f"{project}=={version} "
        + " ".join(f"--hash=sha256:{'0' * 64 if project == 'botocore' else h}"
                   for h in hashes) + "\n"
        for project, (version, hashes) in pinned.items()
    ))
    monkeypatch.setattr(image_build, "python_sdk_requirements", lambda: tampered)
    with pytest.raises(ImageBuildError, match=r"(?s)Installing awslambdaric.* and boto3==.*"
                                              r"HASHES"):
        image_build._install_awslambdaric(get_runtime("python3.13"), context, "x86_64",
                                          _steps("python3.13"))
    assert not (context / "runtime" / "botocore").exists()


def _fake_npm(tmp_path: Path, packages: dict[str, list[str]]) -> str:
    """Return an `npm` that, for `ci`, lays out `packages` ({name: [folders]}) in node_modules."""
    script = tmp_path / "npm"
    layout = json.dumps(packages)
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, pathlib, sys\n"
        "assert sys.argv[1] == 'ci' and '--ignore-scripts' in sys.argv, sys.argv\n"
        f"for name, folders in json.loads({layout!r}).items():\n"
        "    root = pathlib.Path('node_modules', name)\n"
        "    root.mkdir(parents=True)\n"
        "    (root / 'package.json').write_text('{}')\n"
        "    for folder in folders:\n"
        "        (root / folder).mkdir()\n"
        "        (root / folder / 'index.js').write_text('')\n"
    )
    script.chmod(0o755)
    return str(script)


def test_node_sdk_keeps_only_the_commonjs_build(tmp_path: Path) -> None:
    npm = _fake_npm(tmp_path, {
        "@aws-sdk/client-s3": ["dist-cjs", "dist-es", "dist-types"],
        "@smithy/core": ["dist-cjs", "dist-es", "dist-types"],
        "tslib": ["modules"],
    })
    # As in a build context, which holds the family's folder and so the lock files already.
    shutil.copytree(recipes.node_sdk_lock_dir(), tmp_path / "sdk")
    image_build._fetch_node_sdk(npm, tmp_path / "sdk", _steps("nodejs22.x"))
    modules = tmp_path / "sdk" / "node_modules"
    assert sorted(p.relative_to(modules).as_posix() for p in modules.glob("**/*")
                  if p.is_dir()) == [
        "@aws-sdk", "@aws-sdk/client-s3", "@aws-sdk/client-s3/dist-cjs",
        "@smithy", "@smithy/core", "@smithy/core/dist-cjs", "tslib", "tslib/modules",
    ]
    # npm ci ran on the pinned lock files.
    for name in ("package.json", "package-lock.json"):
        assert (tmp_path / "sdk" / name).read_bytes() == (
            recipes.node_sdk_lock_dir() / name).read_bytes()


@pytest.mark.skipif(shutil.which("npm") is None, reason="needs npm")
def test_npm_refuses_an_sdk_package_whose_integrity_is_not_the_pinned_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tampered = tmp_path / "lock"
    shutil.copytree(recipes.node_sdk_lock_dir(), tampered)
    lock = json.loads((tampered / "package-lock.json").read_text())
    lock["packages"]["node_modules/@aws-sdk/client-s3"]["integrity"] = "sha512-" + "A" * 86 + "=="
    (tampered / "package-lock.json").write_text(json.dumps(lock))
    monkeypatch.setattr(image_build, "node_sdk_lock_dir", lambda: tampered)
    with pytest.raises(ImageBuildError, match=r"(?s)Fetching the AWS SDK for JavaScript.*"
                                              r"EINTEGRITY"):
        image_build._fetch_node_sdk(shutil.which("npm") or "npm", tmp_path / "sdk",
                                    _steps("nodejs22.x"))


def test_process_backend_sdk_dir_is_made_once_from_the_pinned_wheels(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.backends import host_python

    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))  # no default cache to copy
    calls: list[list[str]] = []

    def fake_pip(version: str, machine: str, target: Path, reqs: list[Path]) -> list[str]:
        calls.append([version, str(target), *map(str, reqs)])
        return [sys.executable, "-c", "import pathlib, sys; "
                "pathlib.Path(sys.argv[1], 'boto3').mkdir()", str(target)]

    monkeypatch.setattr(image_build, "pip_target_command", fake_pip)
    made = host_python.sdk_dir("3.13")
    assert (made / "boto3").is_dir()
    assert made.parent == tmp_path / "cache" / "process-runtime"
    assert made.name.startswith("python3.13-sdk-")
    assert host_python.sdk_dir("3.13") == made  # made once
    assert len(calls) == 1 and calls[0][2:] == [str(recipes.python_sdk_requirements())]
    assert host_python.sdk_dir("3.11") != made  # one per Python version


def test_process_backend_says_in_one_sentence_when_pip_cannot_install_boto3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.backends import host_python
    from pytest_lambda.errors import EnvironmentStartError

    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(image_build, "pip_target_command", lambda *args: [
        sys.executable, "-c", "import sys; sys.exit('ERROR: No matching distribution')"])
    with pytest.raises(EnvironmentStartError, match=(
            rf"^Could not install {re.escape(recipes.BOTO3_SPEC)} for Python 3\.13 into the "
            r"cache with pip \(.*\): ERROR: No matching distribution\. Let pip reach a package "
            r"index once, or use the docker backend\.$")):
        host_python.sdk_dir("3.13")
    assert list((tmp_path / "cache" / "process-runtime").iterdir()) == []  # nothing half-made


def test_a_cache_of_its_own_copies_the_default_caches_boto3(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pytest_lambda.backends import host_python

    monkeypatch.delenv("PYTEST_LAMBDA_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setattr(image_build, "pip_target_command", lambda *args: [
        sys.executable, "-c", "import pathlib, sys; "
        "pathlib.Path(sys.argv[1], 'boto3').mkdir()", str(args[2])])
    seed = host_python.sdk_dir("3.13")  # made by pip in the default cache
    monkeypatch.setenv("PYTEST_LAMBDA_CACHE_DIR", str(tmp_path / "own"))
    monkeypatch.setattr(image_build, "pip_target_command", lambda *args: pytest.fail("pip ran"))
    copied = host_python.sdk_dir("3.13")
    assert copied == tmp_path / "own" / "process-runtime" / seed.name
    assert (copied / "boto3").is_dir()
