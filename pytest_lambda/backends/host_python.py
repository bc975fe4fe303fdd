"""The host's interpreters for Python runtimes, and the directories they run with: the runtime
interface client and the AWS SDK, each installed once per Python version into the cache."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import shutil
import subprocess
import sys
import threading
from pathlib import Path, PurePosixPath

from pytest_lambda.errors import BackendUnavailableError, EnvironmentStartError

_VERSION_PROBE = "import sys; print('%d.%d' % sys.version_info[:2])"


_client_lock = threading.Lock()


def _host_version() -> str:
    return "{}.{}".format(*sys.version_info[:2])


@functools.cache
def find_python(version: str) -> str | None:
    """Return the host interpreter that runs Python `version` ("3.13"), or None.

    The test's own Python when the versions match (its base interpreter, not a virtualenv's),
    else `python<version>` on PATH if it runs and says it is that version (a pyenv shim for a
    version that is not selected fails, and counts as absent).
    """
    if version == _host_version():
        base = getattr(sys, "_base_executable", None)
        return base if base and os.path.exists(base) else sys.executable
    found = shutil.which(f"python{version}")
    if found is None:
        return None
    try:
        probe = subprocess.run([found, "-I", "-S", "-c", _VERSION_PROBE], capture_output=True,
                               text=True, timeout=30, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return found if probe.returncode == 0 and probe.stdout.strip() == version else None


def no_python(runtime: str, version: str) -> BackendUnavailableError:
    return BackendUnavailableError(
        f"The process backend runs {runtime} functions on Python {version}, and this host has "
        f"no working python{version} on PATH (the tests run on Python {_host_version()}): "
        f"install Python {version} and put python{version} on PATH, use "
        f"runtime='python{_host_version()}', or use the docker backend."
    )


def _requirement_names(dist: object) -> list[str]:
    """Return the names of what `dist` requires unconditionally (no extras) on this host."""
    from packaging.requirements import Requirement

    names = []
    for text in getattr(dist, "requires", None) or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.append(requirement.name)
    return names


def _installed_client() -> list[object] | None:
    """Return the host Python's distributions of awslambdaric and its dependencies, or None."""
    from importlib import metadata

    found: dict[str, object] = {}
    pending = ["awslambdaric"]
    while pending:
        name = pending.pop()
        key = name.lower().replace("_", "-")
        if key in found:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            return None
        if dist.files is None:  # installed without a RECORD: its files cannot be listed
            return None
        found[key] = dist
        pending.extend(_requirement_names(dist))
    return [found[key] for key in sorted(found)]


def _copy_distributions(dists: list[object], target: Path) -> None:
    """Copy the installed files of `dists` (their modules and metadata) into `target`."""
    for dist in dists:
        for file in dist.files or []:  # type: ignore[attr-defined]
            relative = PurePosixPath(str(file))
            if relative.parts[:1] == ("..",) or "__pycache__" in relative.parts:
                continue  # scripts outside site-packages; byte code is rebuilt on use
            source = Path(str(dist.locate_file(file)))  # type: ignore[attr-defined]
            if not source.is_file():
                continue
            destination = target / relative
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination)


def _pip_install_client(version: str, target: Path) -> None:
    """Install awslambdaric's wheels for Python `version` on this machine into `target`."""
    from pytest_lambda.images.build import _pip_command
    from pytest_lambda.images.recipes import AWSLAMBDARIC_SPEC

    machine = platform.machine()
    cmd = [
        *_pip_command(), "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--no-compile", "--target", str(target), "--only-binary=:all:",
        f"--platform=manylinux2014_{machine}", f"--platform=manylinux_2_28_{machine}",
        f"--python-version={version}", "--implementation=cp", AWSLAMBDARIC_SPEC,
    ]
    _run_pip(cmd, f"{AWSLAMBDARIC_SPEC} for Python {version}", "runs it from there")


def _run_pip(cmd: list[str], what: str, why: str) -> None:
    """Run a pip command that installs `what` into the cache, or raise EnvironmentStartError
    saying so (`why`: what the process backend does with it) with pip's last lines."""
    done = subprocess.run(cmd, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise EnvironmentStartError(
            f"Could not install {what} into the cache with pip (the process backend {why}): "
            f"{' '.join(tail) or 'no output'}. Let pip reach a package index once, or use the "
            f"docker backend."
        )


def runtime_client_dir(version: str) -> Path:
    """Return a directory holding only awslambdaric and its dependencies for Python `version`.

    For the test's own Python version it holds copies of the installed distributions (nothing
    is fetched); for another version pip installs the wheels once. Either way it is made once
    per content in the cache and shared by sessions (made aside, then renamed into place).
    """
    from pytest_lambda.system.paths import cache_dir, make_dir_once

    dists = _installed_client() if version == _host_version() else None
    if dists is not None:
        what = ";".join(f"{d.metadata['Name']}=={d.version}" for d in dists)  # type: ignore[attr-defined]
    else:
        from pytest_lambda.images.recipes import AWSLAMBDARIC_SPEC

        what = f"pip:{AWSLAMBDARIC_SPEC}"
    key = hashlib.sha256(f"{version}\0{platform.machine()}\0{what}".encode()).hexdigest()[:12]
    final = cache_dir() / "process-runtime" / f"python{version}-{key}"

    def fill(work: Path) -> None:
        if dists is not None:
            _copy_distributions(dists, work)
        else:
            _pip_install_client(version, work)

    with _client_lock:
        return make_dir_once(final, fill, prefix=f".python{version}-")


def sdk_dir(version: str) -> Path:
    """Return a directory holding only boto3 and its dependencies for Python `version`, at the
    versions the runtime images carry (`runtime_images/python/sdk-requirements.txt`).

    pip installs the pinned wheels, each checked against its SHA-256, once per content of that
    file in the cache (made aside, then renamed into place), as the images get them. A session
    with a cache directory of its own (`PYTEST_LAMBDA_CACHE_DIR`) copies the same directory from
    the default cache when that has it, rather than asking pip again.
    """
    from pytest_lambda.images.build import pip_target_command
    from pytest_lambda.images.recipes import BOTO3_SPEC, python_sdk_requirements
    from pytest_lambda.system.paths import cache_dir, default_cache_dir, make_dir_once

    requirements = python_sdk_requirements()
    pins = requirements.read_bytes()
    key = hashlib.sha256(f"{version}\0{platform.machine()}\0".encode() + pins).hexdigest()[:12]
    final = cache_dir() / "process-runtime" / f"python{version}-sdk-{key}"
    seed = default_cache_dir() / "process-runtime" / final.name

    def fill(work: Path) -> None:
        if seed != final and seed.is_dir():
            shutil.copytree(seed, work, dirs_exist_ok=True)
            return
        _run_pip(pip_target_command(version, platform.machine(), work, [requirements]),
                 f"{BOTO3_SPEC} for Python {version}",
                 "gives functions the runtime's boto3 from there")

    with _client_lock:
        return make_dir_once(final, fill, prefix=f".python{version}-sdk-")
