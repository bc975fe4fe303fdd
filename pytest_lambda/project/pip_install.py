"""Python dependencies installed with the host's pip for the function's runtime and architecture.

pip installs manylinux wheels for the runtime's Python version, its machine and the glibc of the
Amazon Linux the runtime runs on (`--platform ... --python-version ... --only-binary=:all:`;
musllinux never, as Lambda's libc is glibc). A requirement with no such wheel but a source
distribution is built into a wheel inside the runtime's build image (`images/builders.py`: the
runtime's Debian base plus compilers and Python headers, no network), then installed like the
others. For the process backend (`target.host`) pip installs for the host interpreter as is.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sys
from collections.abc import Sequence
from pathlib import Path

from pytest_lambda.config.arch import NAMES
from pytest_lambda.config.packaging import Target, python_platforms
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.project.reporting import shown
from pytest_lambda.project.tools import ToolFailed, install_error, run_tool
from pytest_lambda.system.locks import Progress


def _pip(target: Target | None = None) -> list[str]:
    """Return the command that runs the host's pip, evaluating environment markers
    (`; python_version >= "3.12"`, `; platform_machine == "aarch64"`) for `target`.

    pip evaluates markers against the interpreter it runs on whatever `--python-version` and
    `--platform` say (pip issues 11010 and 11198), so for another target it runs under a shim
    that gives its vendored `packaging` the target's marker environment.
    """
    from pytest_lambda.images.build import _pip_command

    command = _pip_command()
    if target is None or target.host or command[:3] != [sys.executable, "-m", "pip"]:
        return command
    import json

    machine = NAMES[target.architecture].machine
    full = f"{target.python_version}.0"
    environment = {
        "implementation_name": "cpython", "implementation_version": full, "os_name": "posix",
        "platform_machine": machine, "platform_python_implementation": "CPython",
        "platform_system": "Linux", "python_full_version": full,
        "python_version": target.python_version, "sys_platform": "linux",
    }
    return [sys.executable, "-c", _MARKER_SHIM, json.dumps(environment, sort_keys=True)]


_MARKER_SHIM = """\
import json, runpy, sys
from pip._vendor.packaging import markers
target = json.loads(sys.argv.pop(1))
host = markers.default_environment
markers.default_environment = lambda: {**host(), **target}
sys.argv[0] = "pip"
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""


def _pip_errors(output: str) -> str:
    """Return pip's ERROR lines (its own message), else the last lines of its output."""
    lines = [line.strip() for line in output.splitlines()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        return " ".join(errors)
    return " ".join(line for line in lines[-8:] if line)


_NO_DISTRIBUTION = re.compile(r"No matching distribution found for (\S+)")

#: At most this many rounds of "build the requirements that have no wheel, then retry".
_SOURCE_ROUNDS = 5


def install(manifest: Path, target: Target, tree: Path, staging: Path, who: str,
               progress: Progress) -> None:
    base = [*_pip(target), "install", "--disable-pip-version-check", "--no-input", "--no-compile",
            "--no-warn-script-location", "--progress-bar=off", "--target", str(tree)]
    if target.host:
        cmd = [*base, "-r", str(manifest)]
        try:
            run_tool(cmd, what=f"pip installing {shown(manifest)}", progress=progress,
                      cwd=manifest.parent)
        except ToolFailed as exc:
            raise install_error(manifest, target, who, _pip_errors(exc.output)) from None
        return
    platforms = python_platforms(target.python_version, target.architecture)
    built = staging / "built-wheels"
    sources: list[str] = []
    for _round in range(_SOURCE_ROUNDS + 1):
        extra = []
        if sources:
            extra = ["--find-links", str(built),
                     f"--platform=linux_{NAMES[target.architecture].machine}"]
        cmd = [*base, "--only-binary=:all:", *(f"--platform={p}" for p in platforms), *extra,
               f"--python-version={target.python_version}", "--implementation=cp",
               "-r", str(manifest)]
        try:
            run_tool(cmd, what=f"pip installing {shown(manifest)}", progress=progress,
                      cwd=manifest.parent)
            return
        except ToolFailed as exc:
            message = _pip_errors(exc.output)
            missing = _NO_DISTRIBUTION.search(exc.output)
            if missing is None or missing.group(1) in sources:
                raise install_error(manifest, target, who, message) from None
            requirement = missing.group(1)
            # No wheel for the target: a source distribution builds in the runtime's build image.
            sdist = _download_sdist(requirement, staging, manifest, target, who, message,
                                    progress)
            shutil.rmtree(tree)
            tree.mkdir()
            from pytest_lambda.images.builders import build_wheel

            build_wheel(sdist, built, target, who=who, progress=progress,
                        fetch_build_requirements=lambda reqs, dest: _download_wheels(
                            reqs, dest, target, platforms, progress))
            sources.append(requirement)
    raise install_error(manifest, target, who, f"more than {_SOURCE_ROUNDS} requirements "
                         f"need building from source ({', '.join(sources)})")


def _download_sdist(requirement: str, staging: Path, manifest: Path, target: Target, who: str,
                    message: str, progress: Progress) -> Path:
    dest = staging / "sdists" / hashlib.sha256(requirement.encode()).hexdigest()[:12]
    dest.mkdir(parents=True)
    cmd = [*_pip(), "download", "--disable-pip-version-check", "--no-input", "--no-deps",
           "--no-binary=:all:", "--progress-bar=off", "-d", str(dest), requirement]
    try:
        run_tool(cmd, what=f"pip downloading the source of {requirement}", progress=progress,
                  cwd=manifest.parent)
    except ToolFailed:
        # Neither a wheel for the target nor a source distribution: pip's first word stands.
        raise install_error(manifest, target, who, message) from None
    found = [p for p in dest.iterdir() if p.name.endswith((".tar.gz", ".zip", ".tar.bz2"))]
    if len(found) != 1:
        raise install_error(manifest, target, who, message)
    progress(f"pytest-lambda: {requirement} has no wheel for {target.describe()}: building "
             f"{found[0].name} in the runtime's build image")
    return found[0]


def _download_wheels(requirements: Sequence[str], dest: Path, target: Target,
                     platforms: Sequence[str], progress: Progress) -> None:
    """Download `requirements` (a source build's build requirements) as wheels for `target`."""
    if not requirements:
        return
    cmd = [*_pip(target), "download", "--disable-pip-version-check", "--no-input",
           "--progress-bar=off", "--only-binary=:all:", *(f"--platform={p}" for p in platforms),
           f"--python-version={target.python_version}", "--implementation=cp", "-d", str(dest),
           *requirements]
    try:
        run_tool(cmd, what="pip downloading build requirements", progress=progress)
    except ToolFailed as exc:
        raise ConfigurationError(
            f"Cannot download the build requirements {', '.join(requirements)} for "
            f"{target.describe()}: pip says: {_pip_errors(exc.output)}"
        ) from None
