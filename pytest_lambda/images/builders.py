"""Build images: a runtime's Debian base plus compilers and headers, for dependency source builds.

`sam build --use-container` compiles what has no wheel inside a build image of the runtime
(`public.ecr.aws/sam/build-python3.13`). No registry is reachable here, so the harness makes its
own the way it makes its runtime images (`_images`): `mmdebstrap` lays out the runtime's Debian
suite with the runtime's interpreter, its headers (`python3.X-dev`), a C and C++ compiler and pip,
and the root file system is imported as `pytest-lambda/build-python:3.X-<hash>` (with the
architecture in the tag for another one than the host's). The tag hashes everything that goes in,
so an image present under its tag is reused; an absent one is built on first need only (a source
build), under the same cross-process lock as runtime images.

A source build runs in a container of that image with no network: the host's pip has already
downloaded the source distribution and its build requirements (as wheels for the target), and
the container's pip builds the wheel from them alone (`pip wheel --no-index --find-links`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tarfile
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pytest_lambda.config.arch import NAMES
from pytest_lambda.errors import ConfigurationError, ImageBuildError
from pytest_lambda.system.paths import cache_dir

if TYPE_CHECKING:
    from pytest_lambda.config.packaging import Target
    from pytest_lambda.config.runtimes import Runtime

Progress = Callable[[str], None]

#: Bump when the recipe below changes in a way its package list does not show.
BUILD_RECIPE_VERSION = "1"
BUILD_REPOSITORY = "pytest-lambda/build-{family}"

#: Debian packages of a Python build image ("{version}" is the runtime's Python version).
PYTHON_BUILD_PACKAGES = ("python{version}", "python{version}-dev", "python3-pip", "gcc", "g++",
                         "make", "libc6-dev", "ca-certificates")

_BUILD_TIMEOUT_S = 1800


def build_packages(runtime: Runtime) -> list[str]:
    """Return the Debian packages of `runtime`'s build image."""
    if runtime.family != "python":
        raise ImageBuildError(f"pytest-aws-lambda has no build image for {runtime.name}.")
    return [name.format(version=runtime.version) for name in PYTHON_BUILD_PACKAGES]


def build_image_tag(runtime: Runtime, arch: str) -> str:
    """Return the tag of `runtime`'s build image for `arch` (Lambda's name)."""
    from pytest_lambda.images.recipes import (
        _arch_infix,
        _dpkg_options,
        _foreign,
        runtime_images_dir,
    )

    foreign = _foreign(arch)
    h = hashlib.sha256()
    for part in ("build-image", BUILD_RECIPE_VERSION, "maybe-merged-usr", runtime.debian_suite,
                 *build_packages(runtime), *_dpkg_options(runtime_images_dir(), runtime.family),
                 *((f"arch={foreign}",) if foreign else ())):
        h.update(part.encode() + b"\0")
    repository = BUILD_REPOSITORY.format(family=runtime.family)
    return f"{repository}:{runtime.version}-{_arch_infix(arch)}{h.hexdigest()[:12]}"


def ensure_build_image(client: Any, runtime: Runtime, arch: str, progress: Progress) -> str:
    """Return the tag of `runtime`'s build image for `arch`, making it if absent."""
    from pytest_lambda.images import build as _images
    from pytest_lambda.images import debian, recipes

    tag = build_image_tag(runtime, arch)
    if _images._get_image(client, tag) is not None:
        return tag
    from pytest_lambda.system.locks import file_lock

    safe = tag.replace("/", "_").replace(":", "_")
    with file_lock(cache_dir() / "deps" / f"{safe}.image.lock", progress,
                   f"pytest-lambda: waiting for another process making {tag}…"):
        if _images._get_image(client, tag) is not None:
            return tag
        mirror = debian.debian_mirror() if shutil.which("mmdebstrap") else None
        if mirror is None:
            raise ImageBuildError(
                f"Building a dependency from source for {runtime.name} needs its build image "
                f"{tag}, made with mmdebstrap from a Debian mirror: install mmdebstrap and set "
                f"PYTEST_LAMBDA_DEBIAN_MIRROR to a Debian archive (or use a version of the "
                f"package that has a wheel)."
            )
        foreign = recipes._foreign(arch)
        steps = _images._Steps(runtime, progress, total=1)
        steps.prefix = f"pytest-lambda: building the {runtime.name} build image"
        suite = runtime.debian_suite
        with steps.step(1, f"Debian {suite} {foreign + ' ' if foreign else ''}root file system "
                           f"with compilers and Python headers (mmdebstrap from {mirror})"):
            work = cache_dir() / "build"
            work.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=work, prefix=f"build-{suite}-") as tmp:
                tarball = Path(tmp) / "rootfs.tar"
                cmd = [
                    "mmdebstrap", "--variant=minbase", "--mode=auto", "--format=tar",
                    "--components=main",
                    *((f"--architectures={NAMES[foreign].docker}",) if foreign
                      else ()),
                    f"--include={','.join(build_packages(runtime))}",
                    '--aptopt=Acquire::Check-Valid-Until "false"',
                    *(f"--dpkgopt={opt}" for opt in
                      recipes._dpkg_options(recipes.runtime_images_dir(), runtime.family)),
                    '--customize-hook=rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/*',
                    *debian._merged_usr_hook(),
                    suite, str(tarball), mirror,
                ]
                _images._run(cmd, step=f"Making the {runtime.name} build image", steps=steps)
                try:
                    _images._import_tarball(
                        client, tarball, tag, foreign,
                        labels={recipes.LABEL_IMAGE: "build",
                                recipes.LABEL_RUNTIME: runtime.name},
                        cmd=["/bin/bash"],
                    )
                except Exception as exc:
                    raise ImageBuildError(
                        f"Importing the {runtime.name} build image as {tag} failed: {exc}"
                    ) from exc
    progress(f"pytest-lambda: built {tag} for {runtime.name} ({arch}) in "
             f"{steps.elapsed():.0f} s")
    return tag


# -- source builds -----------------------------------------------------------------------------


_DEFAULT_BUILD_REQUIRES = ["setuptools>=40.8.0", "wheel"]


def build_requirements(sdist: Path) -> list[str]:
    """Return the build requirements a source distribution declares (PEP 518), setuptools' by
    default; with setuptools, `wheel` too (older setuptools asks for it while building)."""
    text = None
    if sdist.name.endswith(".zip"):
        with zipfile.ZipFile(sdist) as zf:
            names = [n for n in zf.namelist() if n.count("/") == 1 and
                     n.endswith("/pyproject.toml")]
            if names:
                text = zf.read(names[0]).decode(errors="replace")
    else:
        with tarfile.open(sdist) as tar:
            for member in tar.getmembers():
                if member.isfile() and member.name.count("/") == 1 and \
                        member.name.endswith("/pyproject.toml"):
                    handle = tar.extractfile(member)
                    if handle is not None:
                        text = handle.read().decode(errors="replace")
                    break
    requires = list(_DEFAULT_BUILD_REQUIRES)
    if text is not None:
        import importlib

        try:
            tomllib: Any = importlib.import_module("tomllib")
        except ImportError:  # Python 3.10: take setuptools' defaults
            tomllib = None
        if tomllib is not None:
            try:
                system = tomllib.loads(text).get("build-system", {})
            except ValueError:
                system = {}
            declared = system.get("requires") if isinstance(system, dict) else None
            if isinstance(declared, list) and all(isinstance(r, str) for r in declared):
                requires = list(declared)
    if any(r.lower().startswith("setuptools") for r in requires) and not any(
            r.lower().startswith("wheel") for r in requires):
        requires.append("wheel")
    return requires


def build_wheel(sdist: Path, out: Path, target: Target, *, who: str, progress: Progress,
                fetch_build_requirements: Callable[[Sequence[str], Path], None]) -> Path:
    """Build `sdist` into a wheel for `target` in its build image, offline; return the wheel.

    `fetch_build_requirements(requirements, directory)` downloads the build requirements as
    wheels for the target into `directory`, which the container's pip installs from.
    """
    from pytest_lambda.containers.client import get_client

    runtime = target.runtime
    assert runtime is not None
    out.mkdir(parents=True, exist_ok=True)
    wheelhouse = sdist.parent / "build-requirements"
    wheelhouse.mkdir(exist_ok=True)
    fetch_build_requirements(build_requirements(sdist), wheelhouse)
    client = get_client()
    tag = ensure_build_image(client, runtime, target.architecture, progress)
    before = set(out.iterdir())
    python = f"python{runtime.version}"
    script = (f"set -e; {python} -m pip wheel --no-index --find-links /wheelhouse --no-deps "
              f"--no-cache-dir --disable-pip-version-check --wheel-dir /tmp/out "
              f"'/src/{sdist.name}'; cp /tmp/out/*.whl /out/")
    _run_container(client, tag, ["/bin/bash", "-c", script], target, {
        str(sdist.parent): "/src", str(wheelhouse): "/wheelhouse", str(out): "/out"},
        what=f"building {sdist.name} for {target.describe()} ({who})", progress=progress,
        writable="/out")
    made = [p for p in out.iterdir() if p not in before and p.suffix == ".whl"]
    if not made:
        raise ConfigurationError(
            f"Building {sdist.name} for {target.describe()} ({who}) made no wheel."
        )
    progress(f"pytest-lambda: built {made[0].name} in the {runtime.name} build image")
    return made[0]


def _run_container(client: Any, image: str, command: list[str], target: Target,
                   mounts: dict[str, str], *, what: str, progress: Progress,
                   writable: str) -> None:
    """Run `command` in `image` without network, as this user, `mounts` read-only but
    `writable`; raise ConfigurationError with the output's tail when it fails."""
    from pytest_lambda.config.arch import docker_platform, host_architecture
    from pytest_lambda.system import clock as _clock

    api = client.api
    binds = {src: {"bind": dest, "mode": "rw" if dest == writable else "ro"}
             for src, dest in mounts.items()}
    host_config = api.create_host_config(binds=binds, network_mode="none",
                                         tmpfs={"/tmp": "rw,exec,size=2g,mode=1777"})
    extra: dict[str, Any] = {}
    if target.architecture != host_architecture():
        extra["platform"] = docker_platform(target.architecture)
    created = api.create_container(
        image, command=command, user=f"{os.getuid()}:{os.getgid()}",
        environment={"HOME": "/tmp", "PIP_NO_INPUT": "1"},
        labels={"pytest-lambda.image": "build", "pytest-lambda.pid": str(os.getpid())},
        host_config=host_config, detach=True, **extra,
    )
    container = created["Id"]
    started = _clock.perf()
    try:
        api.start(container)
        while True:
            try:
                status = api.wait(container, timeout=15)
                break
            except Exception as exc:  # requests' read timeout: still running
                name = type(exc).__name__.lower()
                timed_out = "timed out" in str(exc).lower() or "timeout" in name
                if not timed_out:
                    raise
                if _clock.perf() - started > _BUILD_TIMEOUT_S:
                    raise ConfigurationError(f"{what} took longer than {_BUILD_TIMEOUT_S} s.") \
                        from None
                progress(f"pytest-lambda: {what}: still working "
                         f"({_clock.perf() - started:.0f} s so far)")
        code = int(status.get("StatusCode", 1)) if isinstance(status, dict) else 1
        if code != 0:
            logs = api.logs(container, stdout=True, stderr=True).decode(errors="replace")
            tail = "\n".join(line for line in logs.splitlines()[-25:] if line.strip())
            raise ConfigurationError(f"{what} failed (exit status {code}). Its last "
                                     f"output:\n{tail}")
    finally:
        try:
            api.remove_container(container, force=True)
        except Exception:  # noqa: BLE001 - removal trouble must not hide the build's outcome
            pass


def rebuild_node_modules(modules: Path, packages: Sequence[str], target: Target, *, who: str,
                         progress: Progress) -> None:
    """Compile the native addons of `packages` (paths under `modules`) for `target` with
    node-gyp, in the runtime's Node.js build stage image, offline.

    The build stage's base (`_images`, the one the runtime image's client is compiled in) has
    the compilers and, for Debian's Node.js, the interpreter and its headers (`libnode-dev`);
    for a version that the official Node.js build serves, that build (bin/node, include/node)
    is fetched by the host's npm and mounted. node-gyp itself is fetched by the host's npm.
    """
    from pytest_lambda.containers.client import get_client
    from pytest_lambda.images import build as _images
    from pytest_lambda.images import debian, recipes

    runtime = target.runtime
    assert runtime is not None
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigurationError(f"Building the native addons of {who} needs npm on this host.")
    client = get_client()
    mirror = debian.debian_mirror() if shutil.which("mmdebstrap") else None
    if mirror is None:
        raise ImageBuildError(
            f"Building the native addons of {who} ({', '.join(packages)}) for {runtime.name} "
            f"needs its build image, made with mmdebstrap from a Debian mirror: install "
            f"mmdebstrap and set PYTEST_LAMBDA_DEBIAN_MIRROR to a Debian archive."
        )
    steps = _images._Steps(runtime, progress, total=1)
    steps.prefix = f"pytest-lambda: the {runtime.name} build image"
    image = _images._ensure_base(client, runtime, steps, mirror, stage="build",
                                 arch=target.architecture)
    work = modules.parent.parent / "native-build"
    tools = work / "tools"
    tools.mkdir(parents=True)
    _images._run([npm, "install", "--ignore-scripts", "--omit=dev", "--no-save",
                  "--no-package-lock", "--no-audit", "--no-fund", "--loglevel=error",
                  "--prefix", str(tools), recipes.NODE_GYP_SPEC],
                 step=f"Fetching {recipes.NODE_GYP_SPEC} with npm", steps=steps, cwd=tools)
    official = work / "node"
    official.mkdir()
    machine = NAMES[target.architecture].machine
    spec = recipes.language_spec(runtime, machine)
    if spec is not None:
        _images._fetch_node_binary(npm, spec, official, steps)
    names = " ".join(f"'{p}'" for p in packages)
    script = (
        "set -eo pipefail; export HOME=/tmp; "
        "if [ -x /nodejs/bin/node ]; then nodedir=/nodejs; export PATH=/nodejs/bin:$PATH; "
        "else nodedir=/usr; fi; "
        f"for p in {names}; do cd \"/work/$p\"; "
        "node /tools/node_modules/node-gyp/bin/node-gyp.js rebuild --nodedir=$nodedir "
        "--jobs=max 2>&1 | tail -n 40; test -d build/Release; done"
    )
    _run_container(client, image, ["/bin/bash", "-c", script], target,
                   {str(modules): "/work", str(tools): "/tools", str(official): "/nodejs"},
                   what=f"building the native addons {', '.join(packages)} for "
                        f"{target.describe()} ({who})", progress=progress, writable="/work")
    progress(f"pytest-lambda: built the native addons {', '.join(packages)} for "
             f"{target.describe()}")
