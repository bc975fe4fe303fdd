"""Runtime images: choose the image that serves a Lambda runtime, building it when needed.

Two kinds of image have the same contract (see `runtime_images/README.md`) and are driven the same
way: AWS's official base images (`public.ecr.aws/lambda/python:3.13`), used only when present
locally, and pytest-aws-lambda's own "hermetic" images, built here without a container registry:

1. a Debian root file system made by `mmdebstrap` from Debian's package archive, imported with
   `docker import` as `pytest-lambda/base:<suite>-<hash>` (and, for a family whose runtime
   interface client compiles native code, a second one with the compilers for the build stage);
2. the runtime interface client fetched by the host into the build context: awslambdaric as
   wheels by pip, aws-lambda-ric and its build tools by npm (custom runtimes have none); and,
   for a language version no Debian suite ships (Node.js 22), the language's official Linux
   build, fetched by npm too (`NODE_BINARY_SPECS`), which then runs on the suite's libraries;
3. `docker build` of `runtime_images/<family>/Dockerfile` on that base, without network.

The other architecture than the host's (arm64 on x86_64) is built the same way under QEMU
emulation registered with binfmt_misc: `mmdebstrap --architectures=arm64`, the root file system
loaded with `docker load` from an archive whose config says arm64 (Docker 20.10's import records
the engine's own architecture), pip's aarch64 wheels, and `docker build --platform linux/arm64`;
its tags carry the architecture (`pytest-lambda/python:3.13-arm64-<hash>`).

What differs between families is one `_Recipe` each (`RECIPES`): the Debian packages, the build
stage's packages, the client and how the host fetches it, and the build arguments.

A hermetic image's tag carries a hash of everything that goes into it, so an image present under
its tag is reused as is (one `images.get`), and a change to any input builds a new one. Builds run
under a file lock keyed by the Docker engine's ID (`lock_dir()`), so that parallel pytest-xdist
workers, parallel sessions and sessions with other cache directories build a tag once.

Without mmdebstrap (or without a Debian mirror to give it), step 1 falls back to
`FROM debian:<suite>-slim` with apt-get inside the build, which needs a registry.

Docker is imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _clock
from ._arch import (
    ARCHITECTURES,
    docker_platform,
    host_architecture,
    require_host_can_run,
    validate_architecture,
)
from ._config import cache_dir
from ._errors import ConfigurationError, ImageBuildError, LambdaHarnessError
from ._redact import redact
from ._runtimes import RUNTIMES, Runtime, get_runtime

#: Which image serves a runtime: always ours, AWS's when present locally, or AWS's only.
POLICIES = ("hermetic", "prefer-official", "official")

#: The runtime interface clients installed into hermetic images. Pinned with hashes: the
#: Python client and its dependencies by `runtime_images/python/requirements.txt` (every
#: wheel's SHA-256, installed with `pip --require-hashes`), the Node.js client and node-gyp by
#: `runtime_images/nodejs/lock/<client version>/package-lock.json` (npm's integrity hashes,
#: installed with `npm ci`). Those files are in the build contexts, so the image tag's hash
#: covers them: a hermetic tag always means the same bytes. `scripts/pin_runtime_clients.py`
#: writes them from the specs here.
AWSLAMBDARIC_SPEC = "awslambdaric==4.2.2"
#: AWS's Node.js client by Node.js major version: the 4.x line is the nodejs24.x client (it needs
#: Node.js 22 or later and refuses callback-style handlers, as Lambda does from Node.js 24 on);
#: 3.x keeps the callbacks that nodejs20.x and nodejs22.x still support.
AWS_LAMBDA_RIC_SPECS = {"20": "aws-lambda-ric@3.3.0", "22": "aws-lambda-ric@3.3.0",
                        "24": "aws-lambda-ric@4.0.2"}
#: node-gyp for building either client: 3.3.0's own pin (9.4.0) predates Python 3.12.
NODE_GYP_SPEC = "node-gyp@11.5.0"
#: Node.js versions that no Debian suite ships, by major version: the official Linux build, which
#: the npm registry carries as a package (bin/node, and the headers in include/node that the
#: client's native addon is compiled against), runs on the Debian suite's libraries instead.
#: "{arch}" becomes x64 or arm64 for the Docker engine's architecture.
NODE_BINARY_SPECS = {"22": "node-linux-{arch}@22.23.3"}

#: Bump when the build recipe in this module changes in a way the hashed files do not show.
RECIPE_VERSION = "1"

HERMETIC_REPOSITORY = "pytest-lambda/{family}"
BASE_REPOSITORY = "pytest-lambda/base"
LABEL_IMAGE = "pytest-lambda.image"
LABEL_RUNTIME = "pytest-lambda.runtime"

_MIRROR_ENV = "PYTEST_LAMBDA_DEBIAN_MIRROR"
_TAIL_LINES = 30
_HEARTBEAT_S = 30.0
_BUILD_TIMEOUT_S = 3600

Progress = Callable[[str], None]


def print_to_stderr(line: str) -> None:
    """Write one progress line to stderr (the default `progress` callback)."""
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class ImageChoice:
    """The image that serves one runtime, and why."""

    runtime: str
    #: The image reference to run.
    tag: str
    #: "hermetic" (built by pytest-aws-lambda) or "official" (AWS's base image).
    source: str
    #: One short phrase for the pytest header, e.g. "built 2026-11-23 (cached)".
    reason: str
    #: The image's architecture in Lambda's terms ("x86_64", "arm64"); the tag tells it apart.
    architecture: str = field(default="", compare=False)


# --------------------------------------------------------------------------------------------
# Where things are


def runtime_images_dir() -> Path:
    """Return the `runtime_images` directory: in the package (wheel), else next to it (checkout)."""
    package = Path(__file__).resolve().parent
    for candidate in (package / "runtime_images", package.parent / "runtime_images"):
        if candidate.is_dir():
            return candidate
    raise ImageBuildError(
        f"Cannot find pytest-aws-lambda's runtime_images directory (looked in {package} and "
        f"{package.parent}): reinstall pytest-aws-lambda."
    )


def bootstrap_file(runtime: Runtime) -> Path:
    """Return the bootstrap script that becomes `/var/runtime/bootstrap.py` for `runtime`."""
    if runtime.family != "python":
        raise ImageBuildError(f"The {runtime.name} images have no bootstrap.py.")
    return Path(__file__).resolve().parent / "_bootstrap" / "python_bootstrap.py"


#: The folder of `runtime_images/` whose files every family's build context gets as well.
COMMON_DIR = "common"


def _context_files(images_dir: Path, family: str) -> dict[str, Path]:
    """Return the files of a family's build context by their path in it, sorted: those of
    `runtime_images/common/` and of the family's own folder (which wins on a clash)."""
    root = images_dir / family
    if not (root / "Dockerfile").is_file():
        raise ImageBuildError(f"No Dockerfile for the {family} runtimes in {root}.")
    files: dict[str, Path] = {}
    for folder in (images_dir / COMMON_DIR, root):
        for path in folder.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
                files[path.relative_to(folder).as_posix()] = path
    return dict(sorted(files.items()))


# --------------------------------------------------------------------------------------------
# What goes into an image, and its tag


@dataclass(frozen=True)
class _Recipe:
    """How the hermetic images of one runtime family are made."""

    #: Debian packages of the runtime image, beyond the essential set ("{version}" filled in).
    packages: tuple[str, ...]
    #: Debian packages of the build stage's base; empty for a Dockerfile with one stage.
    build_packages: tuple[str, ...] = ()
    #: The build context's name for the package's own bootstrap file, if the family has one.
    bootstrap_name: str | None = None
    #: The build argument that carries `Runtime.version` ("PYTHON_VERSION"), if any.
    version_arg: str | None = None
    #: The step before `docker build`: put the runtime interface client (and the language's
    #: official build, see `language_spec`) into the build context
    #: (`fetch(rt, context, arch, steps)`), described by `fetch_what` ("{spec}", "{version}").
    fetch: Callable[[Runtime, Path, str, _Steps], None] | None = None
    fetch_what: str = ""
    #: In place of `packages` and `build_packages`, for a version that the language's official
    #: build serves rather than Debian's package (`language_spec`): its shared libraries.
    upstream_packages: tuple[str, ...] = ()
    upstream_build_packages: tuple[str, ...] = ()


def recipe(runtime: Runtime) -> _Recipe:
    """Return the recipe of `runtime`'s family (see `RECIPES`), or raise ImageBuildError."""
    try:
        return RECIPES[runtime.family]
    except KeyError:
        raise ImageBuildError(
            f"pytest-aws-lambda has no recipe for {runtime.family} images ({runtime.name})."
        ) from None


def client_spec(runtime: Runtime) -> str | None:
    """Return the pinned runtime interface client that goes into `runtime`'s image, if any."""
    # Read the module constants at call time, so that a changed pin changes the hash.
    if runtime.family == "python":
        return AWSLAMBDARIC_SPEC
    if runtime.family == "nodejs":
        return f"{AWS_LAMBDA_RIC_SPECS[runtime.version]} {NODE_GYP_SPEC}"
    return None


def node_lock_lines() -> dict[str, list[str]]:
    """Return the npm specs of each Node.js client line, by the folder of its lock files
    (`runtime_images/nodejs/lock/<client version>`)."""
    return {spec.rpartition("@")[2]: [spec, NODE_GYP_SPEC]
            for spec in sorted(set(AWS_LAMBDA_RIC_SPECS.values()))}


def node_lock_dir(runtime: Runtime, images_dir: Path | None = None) -> Path:
    """Return the folder of the lock files (package.json, package-lock.json) of the Node.js
    client that goes into `runtime`'s image."""
    version = AWS_LAMBDA_RIC_SPECS[runtime.version].rpartition("@")[2]
    return (images_dir or runtime_images_dir()) / "nodejs" / "lock" / version


def node_binaries_lock(images_dir: Path | None = None) -> Path:
    """Return the file pinning each official Node.js package (`NODE_BINARY_SPECS`, per
    architecture) to npm's sha512 integrity hash of its tarball."""
    return (images_dir or runtime_images_dir()) / "nodejs" / "lock" / "node-binaries.json"


def language_spec(runtime: Runtime, arch: str | None = None) -> str | None:
    """Return the pinned npm package of the language's official build that serves `runtime`,
    or None when the Debian suite's own package does.

    `arch` ("x86_64", "aarch64") fills in the package name; without it the "{arch}" stays.
    """
    # Read the module constant at call time, so that a changed pin changes the hash.
    spec = NODE_BINARY_SPECS.get(runtime.version) if runtime.family == "nodejs" else None
    if spec is None or arch is None:
        return spec
    try:
        return spec.format(arch=_NODE_ARCHES[arch])
    except KeyError:
        raise ImageBuildError(
            f"There is no official Node.js {runtime.version} build for {arch}, so "
            f"pytest-aws-lambda cannot build a {runtime.name} image on this Docker engine: use an "
            f"x86_64 or aarch64 engine, or another runtime."
        ) from None


#: The Docker engine's architecture by the name Node.js's own builds use.
_NODE_ARCHES = {"x86_64": "x64", "aarch64": "arm64"}


def base_packages(runtime: Runtime, *, stage: str = "runtime") -> list[str]:
    """Return the Debian packages of a runtime's base ("runtime") or build-stage base ("build")."""
    r = recipe(runtime)
    if language_spec(runtime) is None:
        names = r.packages if stage == "runtime" else r.build_packages
    else:
        names = r.upstream_packages if stage == "runtime" else r.upstream_build_packages
        if not names:
            raise ImageBuildError(
                f"pytest-aws-lambda's {runtime.family} recipe has no Debian packages for an "
                f"official language build ({runtime.name}): add its upstream_packages."
            )
    return [name.format(version=runtime.version) for name in names]


def _dpkg_options(images_dir: Path, family: str) -> list[str]:
    text = _context_files(images_dir, family)["dpkg-excludes"].read_text()
    return [
        line.strip() for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _foreign(arch: str | None) -> str | None:
    """Return `arch` when it is not the host's architecture, else None (the host's images)."""
    if arch is None:
        return None
    arch = validate_architecture(arch)
    return None if arch == host_architecture() else arch


def _arch_infix(arch: str | None) -> str:
    # The host's images keep their tags; another architecture's carry its name as well.
    foreign = _foreign(arch)
    return f"{foreign}-" if foreign else ""


def base_hash(runtime: Runtime, *, images_dir: Path | None = None, stage: str = "runtime",
              arch: str | None = None) -> str:
    """Return the 12-hex hash of what goes into a runtime's Debian base root file system
    for `arch` (Lambda's name; None or the host's: the host's architecture)."""
    images_dir = images_dir or runtime_images_dir()
    foreign = _foreign(arch)
    h = hashlib.sha256()
    for part in (
        "base", RECIPE_VERSION, "maybe-merged-usr", runtime.debian_suite,
        *base_packages(runtime, stage=stage),
        *_dpkg_options(images_dir, runtime.family),
        *((f"arch={foreign}",) if foreign else ()),
    ):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:12]


def base_tag(runtime: Runtime, *, images_dir: Path | None = None, stage: str = "runtime",
             arch: str | None = None) -> str:
    """Return the tag of a runtime's Debian base image: `pytest-lambda/base:<suite>-<hash>`,
    `pytest-lambda/base:<suite>-arm64-<hash>` for arm64 on an x86_64 host."""
    digest = base_hash(runtime, images_dir=images_dir, stage=stage, arch=arch)
    return f"{BASE_REPOSITORY}:{runtime.debian_suite}-{_arch_infix(arch)}{digest}"


def image_hash(runtime: str | Runtime, *, images_dir: Path | None = None,
               arch: str | None = None) -> str:
    """Return the 12-hex content hash of a runtime's hermetic image for `arch` (Lambda's name;
    None or the host's: the host's architecture).

    It covers every file the build context gets from `runtime_images/<family>/` and
    `runtime_images/common/` (path in the context, executable bit, content), the
    package's bootstrap script, the runtime's Debian suite and language version, the base (and
    build-stage base) packages, the runtime interface client's version spec, where the
    language's official build serves the runtime, its version spec, and an architecture other
    than the host's.
    """
    rt = get_runtime(runtime) if isinstance(runtime, str) else runtime
    r = recipe(rt)
    images_dir = images_dir or runtime_images_dir()
    foreign = _foreign(arch)
    h = hashlib.sha256()

    def add(label: str, data: bytes) -> None:
        h.update(label.encode() + b"\0" + str(len(data)).encode() + b"\0" + data)

    add("recipe", RECIPE_VERSION.encode())
    add("runtime", rt.name.encode())
    add("suite", rt.debian_suite.encode())
    add("version", rt.version.encode())
    spec = client_spec(rt)
    if spec is not None:
        add("ric", spec.encode())
    language = language_spec(rt)
    if language is not None:
        add("language", language.encode())
    if foreign is not None:
        add("arch", foreign.encode())
    add("base", base_hash(rt, images_dir=images_dir, arch=arch).encode())
    if r.build_packages:
        add("build-base", base_hash(rt, images_dir=images_dir, stage="build", arch=arch).encode())
    for name, path in _context_files(images_dir, rt.family).items():
        mode = "x" if os.access(path, os.X_OK) else "-"
        add(f"file:{name}:{mode}", path.read_bytes())
    if r.bootstrap_name is not None:
        add(r.bootstrap_name, bootstrap_file(rt).read_bytes())
    return h.hexdigest()[:12]


def hermetic_tag(runtime: str | Runtime, *, images_dir: Path | None = None,
                 arch: str | None = None) -> str:
    """Return the tag of a runtime's hermetic image for `arch`, e.g.
    `pytest-lambda/python:3.13-<hash>` for the host's architecture and
    `pytest-lambda/python:3.13-arm64-<hash>` for arm64 on an x86_64 host."""
    rt = get_runtime(runtime) if isinstance(runtime, str) else runtime
    repository = HERMETIC_REPOSITORY.format(family=rt.family)
    digest = image_hash(rt, images_dir=images_dir, arch=arch)
    return f"{repository}:{rt.version}-{_arch_infix(arch)}{digest}"


# --------------------------------------------------------------------------------------------
# The Debian mirror


def _deb822_mirrors(text: str) -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for stanza in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = None
        for line in stanza.splitlines():
            if line.startswith("#") or not line.strip():
                continue
            if line[0] in " \t" and key:
                fields[key] += " " + line.strip()
                continue
            key, _, value = line.partition(":")
            key = key.strip().lower()
            fields[key] = value.strip()
        if "deb" not in fields.get("types", "").split():
            continue
        if fields.get("enabled", "yes").lower() == "no":
            continue
        suites = fields.get("suites", "").split()
        found.extend((uri, suites) for uri in fields.get("uris", "").split())
    return found


def _one_line_mirrors(text: str) -> list[tuple[str, list[str]]]:
    found = []
    for line in text.splitlines():
        # "deb [options] URI suite components...", options and comments dropped.
        words = re.sub(r"\[[^\]]*\]", " ", line.split("#", 1)[0]).split()
        if len(words) >= 3 and words[0] == "deb":
            found.append((words[1], [words[2]]))
    return found


def debian_mirror(apt_dir: Path = Path("/etc/apt")) -> str | None:
    """Return the Debian archive URL to build from, or None when there is none to use.

    `$PYTEST_LAMBDA_DEBIAN_MIRROR` wins; otherwise the main archive of the host's own apt
    configuration, when the host runs Debian (an Ubuntu host's archive has no Debian suites).
    """
    configured = os.environ.get(_MIRROR_ENV)
    if configured:
        return configured.strip()
    if not _host_is_debian():
        return None
    candidates: list[tuple[str, list[str]]] = []
    listed = apt_dir / "sources.list.d"
    for sources in sorted(listed.glob("*.sources")):
        with contextlib.suppress(OSError):
            candidates += _deb822_mirrors(sources.read_text())
    for one_line in [apt_dir / "sources.list", *sorted(listed.glob("*.list"))]:
        with contextlib.suppress(OSError):
            candidates += _one_line_mirrors(one_line.read_text())
    for uri, suites in candidates:
        # The main archive, not debian-security or a backports/updates-only entry.
        if "security" in uri or not uri.startswith(("http://", "https://", "file:/")):
            continue
        if any("-" not in suite for suite in suites):
            return uri
    return None


def _host_is_debian() -> bool:
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return False
    return re.search(r"^ID=\"?debian\"?\s*$", text, re.MULTILINE) is not None


# --------------------------------------------------------------------------------------------
# Docker helpers


def _get_image(client: Any, tag: str) -> Any | None:
    """Return the local image `tag`, or None: one `images.get`, never a pull."""
    from docker.errors import ImageNotFound

    try:
        return client.images.get(tag)
    except ImageNotFound:
        return None
    except Exception as exc:
        raise ImageBuildError(f"The Docker engine could not look up image {tag}: {exc}") from exc


def _built_on(image: Any) -> str:
    created = str((getattr(image, "attrs", None) or {}).get("Created", ""))
    return created[:10] or "earlier"


def _engine_arch(client: Any) -> str:
    try:
        arch = str(client.version().get("Arch", "amd64"))
    except Exception:
        arch = "amd64"
    return {"amd64": "x86_64", "arm64": "aarch64", "aarch64": "aarch64"}.get(arch, arch)


# --------------------------------------------------------------------------------------------
# Locks, steps and subprocesses


def _engine_id(client: Any) -> str:
    """Return what names the Docker engine: its ID, else the address the client talks to."""
    try:
        engine = str(client.info().get("ID") or "")
    except Exception:
        engine = ""
    return engine or str(getattr(getattr(client, "api", None), "base_url", "") or "engine")


def lock_dir() -> Path:
    """Return the directory of the build locks: one per machine, shared by every user and cache
    directory (a world-writable directory with the sticky bit, as /tmp is)."""
    path = Path(tempfile.gettempdir()) / "pytest-lambda-locks"
    if not path.is_dir():
        with contextlib.suppress(FileExistsError):
            path.mkdir()
        with contextlib.suppress(OSError):  # another user made it: it is theirs to chmod
            os.chmod(path, 0o1777)
    return path


def _open_lock(path: Path) -> int:
    # Without O_CREAT for a file that exists: in a sticky directory the kernel refuses
    # O_CREAT on another user's file (fs.protected_regular).
    while True:
        try:
            return os.open(path, os.O_RDWR)
        except FileNotFoundError:
            pass
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        with contextlib.suppress(OSError):
            os.fchmod(fd, 0o666)  # whatever the umask: other users lock it too
        return fd


@contextlib.contextmanager
def _build_lock(client: Any, tag: str, progress: Progress, waiting: str) -> Iterator[None]:
    """Hold an exclusive `flock` for building `tag` on the client's engine, saying so when we
    must wait.

    The lock is keyed by the engine's ID under `lock_dir()`, not kept in the cache directory:
    sessions with different cache directories (or users) on one engine build a tag once.
    """
    key = hashlib.sha256(f"{_engine_id(client)}\0{tag}".encode()).hexdigest()[:24]
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", tag)
    fd = _open_lock(lock_dir() / f"{safe}.{key}.lock")
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress(waiting)
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class _Steps:
    """Progress lines for one image build: `[n/N] what…` and `… done in 12.3 s`."""

    def __init__(self, runtime: Runtime, progress: Progress, total: int = 3) -> None:
        self.prefix = f"pytest-lambda: building {runtime.name} image"
        self.progress = progress
        self.total = total
        self.started = _clock.perf()

    def say(self, text: str) -> None:
        self.progress(redact(f"{self.prefix}: {text}"))

    @contextlib.contextmanager
    def step(self, n: int, what: str) -> Iterator[None]:
        self.say(f"[{n}/{self.total}] {what}…")
        start = _clock.perf()
        yield
        self.say(f"[{n}/{self.total}] done in {_clock.perf() - start:.1f} s")

    def elapsed(self) -> float:
        return _clock.perf() - self.started


def _tail(lines: Iterable[str], n: int = _TAIL_LINES) -> str:
    kept = collections.deque((line.rstrip() for line in lines if line.strip()), maxlen=n)
    return "\n".join(kept)


def _run(cmd: Sequence[str], *, step: str, steps: _Steps, cwd: Path | None = None) -> None:
    """Run `cmd`, its output kept in a temporary file; raise ImageBuildError with its tail."""
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        try:
            proc = subprocess.Popen(
                list(cmd), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=cwd,
            )
        except OSError as exc:
            raise ImageBuildError(f"{step} failed: cannot run {cmd[0]}: {exc}") from exc
        _wait(proc, steps)
        if proc.returncode != 0:
            out.seek(0)
            raise ImageBuildError(
                f"{step} failed: {Path(cmd[0]).name} exited with status {proc.returncode}. "
                f"Its last output:\n{_tail(out)}"
            )


def _wait(proc: subprocess.Popen[Any], steps: _Steps) -> None:
    while True:
        try:
            proc.wait(timeout=_HEARTBEAT_S)
            return
        except subprocess.TimeoutExpired:
            steps.say(f"still working ({steps.elapsed():.0f} s so far)")
        except BaseException:
            proc.kill()
            proc.wait()
            raise


# --------------------------------------------------------------------------------------------
# The three build steps


def _merged_usr_hook() -> list[str]:
    # Set up merged /usr directly and install usr-is-merged; without it, apt satisfies
    # init-system-helpers' "usrmerge | usr-is-merged" (bookworm) with usrmerge and perl (50 MB).
    hook = Path("/usr/share/mmdebstrap/hooks/maybe-merged-usr")
    return [f"--hook-dir={hook}"] if hook.is_dir() else []


def _ensure_base(client: Any, rt: Runtime, steps: _Steps, mirror: str, *,
                 stage: str = "runtime", n: int = 1, arch: str | None = None) -> str:
    """Step `n`: return the tag of the runtime's Debian base (or build-stage base) for `arch`,
    making it with mmdebstrap if absent."""
    tag = base_tag(rt, stage=stage, arch=arch)
    foreign = _foreign(arch)
    suite = rt.debian_suite
    what = (f"Debian {suite} {foreign + ' ' if foreign else ''}root file system"
            + (" for the build stage" if stage == "build" else ""))
    head = f"[{n}/{steps.total}]"
    if _get_image(client, tag) is not None:
        steps.say(f"{head} {what}: cached as {tag}")
        return tag
    with _build_lock(client, tag, steps.progress, f"{steps.prefix}: waiting for another process "
                    f"making {tag}…"):
        if _get_image(client, tag) is not None:
            steps.say(f"{head} {what}: made by another process as {tag}")
            return tag
        with steps.step(n, f"{what} (mmdebstrap from {mirror})"):
            work = cache_dir() / "build"
            work.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=work, prefix=f"base-{suite}-") as tmp:
                tarball = Path(tmp) / "rootfs.tar"
                cmd = [
                    "mmdebstrap", "--variant=minbase", "--mode=auto", "--format=tar",
                    "--components=main",
                    # Another architecture's maintainer scripts run through binfmt_misc (QEMU).
                    *((f"--architectures={_DEBIAN_ARCHES[foreign]}",) if foreign else ()),
                    f"--include={','.join(base_packages(rt, stage=stage))}",
                    # Snapshot archives (and sid) carry Release files past their Valid-Until.
                    '--aptopt=Acquire::Check-Valid-Until "false"',
                    *(f"--dpkgopt={opt}" for opt in _dpkg_options(runtime_images_dir(),
                                                                     rt.family)),
                    '--customize-hook=rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* '
                    '"$1"/var/log/apt "$1"/var/log/dpkg.log "$1"/var/cache/debconf/*-old '
                    '"$1"/var/lib/dpkg/*-old; '
                    # The mirror's credentials, if its URL carries any, stay out of the image.
                    'find "$1"/etc/apt -name "*.list" -o -name "*.sources" | '
                    "xargs -r sed -i -E 's#(://)[^/@ ]+@#\\1#g'",
                    *_merged_usr_hook(),
                    suite, str(tarball), mirror,
                ]
                _run(cmd, step=f"Making the {what}", steps=steps)
                try:
                    _import_tarball(
                        client, tarball, tag, foreign,
                        labels={LABEL_IMAGE: "base", "pytest-lambda.suite": suite},
                        cmd=["/bin/bash"],
                    )
                except Exception as exc:
                    raise ImageBuildError(
                        f"Importing the {what} into Docker as {tag} failed: {exc}"
                    ) from exc
    return tag


#: Debian's names for Lambda's architectures.
_DEBIAN_ARCHES = {"x86_64": "amd64", "arm64": "arm64"}


def _import_tarball(client: Any, tarball: Path, tag: str, foreign: str | None, *,
                    labels: dict[str, str], cmd: list[str]) -> None:
    """Make the root file system `tarball` the one-layer image `tag`, recorded as `foreign`'s
    platform when it is another architecture's (so that `docker build --platform` takes it)."""
    if foreign is None:
        repository, _, image_tag = tag.partition(":")
        changes = [" ".join(["LABEL", *(f"{k}={v}" for k, v in labels.items())]),
                   f"CMD {json.dumps(cmd)}"]
        client.api.import_image_from_file(str(tarball), repository=repository, tag=image_tag,
                                          changes=changes)
        return
    # `docker import --platform` records the engine's own architecture on Docker 20.10 whatever
    # the platform says, so write the image archive `docker load` reads, with its config saying
    # the architecture: one layer (the tarball as it is), the config, and the manifest.
    import tarfile
    import time

    digest = hashlib.sha256()
    with open(tarball, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    config = json.dumps({
        "architecture": _DEBIAN_ARCHES[foreign], "os": "linux", "created": created,
        "config": {"Cmd": cmd, "Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest.hexdigest()}"]},
        "history": [{"created": created, "created_by": "pytest-lambda: mmdebstrap"}],
    }, sort_keys=True).encode()
    config_name = f"{hashlib.sha256(config).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag],
                            "Layers": ["rootfs/layer.tar"]}]).encode()
    archive = tarball.with_name("image.tar")
    with tarfile.open(archive, "w") as out:
        for name, blob in ((config_name, config), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            out.addfile(info, io.BytesIO(blob))
        out.add(tarball, arcname="rootfs/layer.tar")
    tarball.unlink()  # the archive holds it now; no need for the space twice
    with open(archive, "rb") as data:
        for chunk in client.api.load_image(data):
            if isinstance(chunk, dict) and "error" in chunk:
                raise ImageBuildError(str(chunk.get("error")).strip())


def _pip_command() -> list[str]:
    import importlib.util

    if importlib.util.find_spec("pip") is not None:
        return [sys.executable, "-m", "pip"]
    for name in ("pip3", "pip"):
        found = shutil.which(name)
        if found:
            return [found]
    raise ImageBuildError(
        "Installing awslambdaric into the image needs pip, and this Python has none: "
        "python -m ensurepip, or pip install pip."
    )


def _install_awslambdaric(rt: Runtime, context: Path, arch: str, steps: _Steps) -> None:
    """Install awslambdaric and its dependencies for the image's Python into `context/runtime`."""
    platforms = [f"manylinux2014_{arch}", f"manylinux_2_28_{arch}"]
    # Every wheel is checked against the SHA-256 pinned for it (see AWSLAMBDARIC_SPEC).
    requirements = context / "requirements.txt"
    cmd = [
        *_pip_command(), "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--no-compile", "--target", str(context / "runtime"), "--only-binary=:all:",
        *(f"--platform={p}" for p in platforms),
        f"--python-version={rt.version}", "--implementation=cp",
        "--require-hashes", "--requirement", str(requirements),
    ]
    _run(cmd, step=f"Installing {AWSLAMBDARIC_SPEC} for Python {rt.version}", steps=steps)


def _fetch_for_node(rt: Runtime, context: Path, arch: str, steps: _Steps) -> None:
    """Fetch aws-lambda-ric and its build tools into `context/npm/node_modules`, unbuilt, and
    the official Node.js build into `context/node` (left empty when Debian's Node.js serves).

    The client's install scripts compile native code; they run in the Dockerfile's build stage,
    which has the compilers and no network.
    """
    npm = shutil.which("npm")
    if npm is None:
        raise ImageBuildError(
            f"Building the {rt.name} image needs npm on this machine to fetch "
            f"AWS's Node.js runtime interface client: install Node.js with npm, or use a Python "
            f"or custom runtime."
        )
    specs = (client_spec(rt) or "").split()
    target = context / "npm"
    target.mkdir()
    # `npm ci` installs exactly the lock file's packages, each checked against its integrity
    # hash (see AWSLAMBDARIC_SPEC).
    lock = node_lock_dir(rt)
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(lock / name, target / name)
    cmd = [
        npm, "ci", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund",
        "--loglevel=error",
    ]
    _run(cmd, step=f"Fetching {' and '.join(specs)} with npm", steps=steps, cwd=target)
    (context / "node").mkdir()
    spec = language_spec(rt, arch)
    if spec is not None:
        _fetch_node_binary(npm, spec, context / "node", steps)


#: What the build needs of an official Node.js package: the binary, the headers, the licence.
_NODE_BINARY_FILES = ("bin/node", "include/node/", "LICENSE")


def _fetch_node_binary(npm: str, spec: str, dest: Path, steps: _Steps) -> None:
    """Fetch the official Node.js build `spec` with `npm pack` and unpack what the build needs
    of it into `dest` (`bin/node`, `include/node/`, `LICENSE`)."""
    import tarfile

    with tempfile.TemporaryDirectory(dir=dest.parent, prefix="npm-pack-") as tmp:
        cmd = [npm, "pack", "--ignore-scripts", "--loglevel=error", "--pack-destination", tmp,
               spec]
        _run(cmd, step=f"Fetching {spec} with npm", steps=steps, cwd=Path(tmp))
        packed = sorted(Path(tmp).glob("*.tgz"))
        if len(packed) != 1:
            raise ImageBuildError(
                f"npm pack {spec} left {len(packed)} tarballs instead of one: run it by hand in "
                f"an empty directory to see why."
            )
        _check_integrity(spec, packed[0])
        with tarfile.open(packed[0]) as tar:
            members = []
            for member in tar.getmembers():
                # npm packages hold their files under package/; take plain files and folders.
                name = member.name.removeprefix("package/")
                wanted = any(name == f or (f.endswith("/") and name.startswith(f))
                             for f in _NODE_BINARY_FILES)
                if wanted and (member.isfile() or member.isdir()) and ".." not in name.split("/"):
                    member.name = name
                    members.append(member)
            if hasattr(tarfile, "data_filter"):  # Python 3.10.12, 3.11.4 and later
                tar.extractall(dest, members=members, filter="data")
            else:
                tar.extractall(dest, members=members)
    if not os.access(dest / "bin" / "node", os.X_OK) or not (dest / "include" / "node").is_dir():
        raise ImageBuildError(
            f"The npm package {spec} has no executable bin/node or no include/node headers: "
            f"pin a node-linux-* package of an official Node.js release in NODE_BINARY_SPECS."
        )


def _check_integrity(spec: str, tarball: Path) -> None:
    """Raise ImageBuildError unless `tarball`'s sha512 is the one pinned for `spec`."""
    import base64

    try:
        pinned = json.loads(node_binaries_lock().read_text()).get(spec)
    except (OSError, ValueError):
        pinned = None
    if not pinned:
        raise ImageBuildError(
            f"No integrity hash is pinned for {spec} in {node_binaries_lock()}: run "
            f"scripts/pin_runtime_clients.py --node after changing NODE_BINARY_SPECS."
        )
    digest = hashlib.sha512(tarball.read_bytes()).digest()
    actual = "sha512-" + base64.b64encode(digest).decode()
    if actual != pinned:
        raise ImageBuildError(
            f"npm's {spec} is not the package pinned for it ({actual} instead of {pinned}): "
            f"check the npm registry you use, or re-pin with scripts/pin_runtime_clients.py."
        )


#: What the nodejs build stage compiles aws-lambda-ric with, whichever Node.js it is for.
_NODE_BUILD_TOOLS = ("g++", "make", "cmake", "autoconf", "automake", "libtool", "python3",
                     "xz-utils", "ca-certificates")

#: One recipe per folder of `runtime_images/`.
RECIPES: dict[str, _Recipe] = {
    "python": _Recipe(
        packages=("python{version}", "ca-certificates"),
        bootstrap_name="bootstrap.py",
        version_arg="PYTHON_VERSION",
        fetch=_install_awslambdaric,
        fetch_what="{spec} wheels for Python {version} (pip)",
    ),
    # What AWS's custom-runtime tutorial bootstrap uses: bash, curl and coreutils (essential).
    "provided": _Recipe(packages=("bash", "curl", "ca-certificates")),
    # aws-lambda-ric compiles curl, aws-lambda-cpp and a node-gyp addon when it is installed:
    # against Debian's Node.js and its headers (libnode-dev), or against the official build's.
    "nodejs": _Recipe(
        packages=("nodejs", "ca-certificates"),
        build_packages=("nodejs", "libnode-dev", *_NODE_BUILD_TOOLS),
        version_arg="NODE_MAJOR",
        fetch=_fetch_for_node,
        fetch_what="{spec} (npm)",
        # The official build links glibc (2.28 or later), libstdc++ and libgcc_s dynamically.
        upstream_packages=("libstdc++6", "ca-certificates"),
        upstream_build_packages=_NODE_BUILD_TOOLS,
    ),
}


def _docker_build(client: Any, context: Path, tag: str, buildargs: dict[str, str],
                  rt: Runtime, steps: _Steps, *, offline: bool,
                  platform: str | None = None) -> None:
    """Last step: `docker build` the context as `tag`; raise ImageBuildError with the log tail.

    `offline` runs the build's steps without a network, as a hermetic build needs none.
    """
    log: collections.deque[str] = collections.deque(maxlen=200)
    last_word = _clock.perf()
    try:
        stream = client.api.build(
            path=str(context), tag=tag, buildargs=buildargs, rm=True, forcerm=True,
            decode=True, pull=False, timeout=_BUILD_TIMEOUT_S,
            labels={LABEL_IMAGE: "runtime", LABEL_RUNTIME: rt.name},
            network_mode="none" if offline else None, platform=platform,
        )
        for chunk in stream:
            if "stream" in chunk:
                log.extend(str(chunk["stream"]).splitlines())
            if "error" in chunk:
                detail = chunk.get("errorDetail", {}).get("message") or chunk["error"]
                raise ImageBuildError(
                    f"docker build of {tag} failed: {str(detail).strip()}. "
                    f"Its last output:\n{_tail(log)}"
                )
            if _clock.perf() - last_word > _HEARTBEAT_S:
                last_word = _clock.perf()
                steps.say(f"still working ({steps.elapsed():.0f} s so far)")
    except ImageBuildError:
        raise
    except Exception as exc:
        raise ImageBuildError(
            f"docker build of {tag} failed: {exc}. Its last output:\n{_tail(log)}"
        ) from exc


def _build_hermetic(client: Any, rt: Runtime, tag: str, progress: Progress,
                    arch: str | None = None) -> float:
    """Build the hermetic image `tag` for `rt` and `arch` (None: the host's) (the caller holds
    its lock); return seconds taken."""
    r = recipe(rt)
    foreign = _foreign(arch)
    suite = rt.debian_suite
    stages = [("BASE_IMAGE", "APT_PACKAGES", "runtime")]
    if r.build_packages:
        stages.append(("BUILD_BASE_IMAGE", "BUILD_APT_PACKAGES", "build"))
    steps = _Steps(rt, progress, total=len(stages) + (2 if r.fetch else 1))
    images_dir = runtime_images_dir()
    mirror = debian_mirror() if shutil.which("mmdebstrap") else None
    buildargs = {"RUNTIME": rt.name}
    if r.version_arg is not None:
        buildargs[r.version_arg] = rt.version
    n = 0
    for image_arg, packages_arg, stage in stages:
        n += 1
        if mirror is not None:
            buildargs[image_arg] = _ensure_base(client, rt, steps, mirror, stage=stage, n=n,
                                                arch=arch)
            buildargs[packages_arg] = ""
        elif foreign is not None:
            raise ImageBuildError(
                f"Building the {foreign} {rt.name} image needs mmdebstrap and a Debian mirror "
                f"on this machine: install mmdebstrap and set {_MIRROR_ENV} to a Debian archive."
            )
        else:
            why = ("mmdebstrap is not installed" if not shutil.which("mmdebstrap")
                   else f"no Debian mirror in the host's apt configuration (set {_MIRROR_ENV})")
            steps.say(f"[{n}/{steps.total}] Debian {suite} root file system: {why}, so the "
                      f"build uses debian:{suite}-slim from a registry and apt-get")
            buildargs[image_arg] = f"debian:{suite}-slim"
            buildargs[packages_arg] = " ".join(base_packages(rt, stage=stage))

    work = cache_dir() / "build"
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work, prefix=f"{rt.name}-") as tmp:
        context = Path(tmp)
        for name, path in _context_files(images_dir, rt.family).items():
            dest = context / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, dest)
        if r.bootstrap_name is not None:
            shutil.copy2(bootstrap_file(rt), context / r.bootstrap_name)
        if r.fetch is not None:
            n += 1
            machine = _MACHINES[foreign] if foreign else _engine_arch(client)
            fetched = " ".join(s for s in (language_spec(rt, machine), client_spec(rt)) if s)
            what = r.fetch_what.format(spec=fetched, version=rt.version)
            with steps.step(n, what):
                r.fetch(rt, context, machine, steps)
        with steps.step(n + 1, f"docker build {tag}"):
            _docker_build(client, context, tag, buildargs, rt, steps, offline=mirror is not None,
                          platform=docker_platform(foreign) if foreign else None)
    return steps.elapsed()


#: Lambda's architectures by the machine names that wheels and Node.js builds use.
_MACHINES = {"x86_64": "x86_64", "arm64": "aarch64"}


def _buildable(runtime: Runtime, arch: str | None) -> bool:
    """Whether pytest-aws-lambda builds `runtime` images for `arch`: all for the host's, and
    all but Node.js (whose client would compile under emulation) for the other."""
    return _foreign(arch) is None or runtime.family != "nodejs"


def require_buildable(runtime: Runtime, arch: str | None) -> None:
    """Raise ConfigurationError when pytest-aws-lambda builds no `runtime` image for `arch`."""
    if not _buildable(runtime, arch):
        foreign = _foreign(arch)
        raise ConfigurationError(
            f"pytest-aws-lambda builds {runtime.name} images for this host's architecture "
            f"({host_architecture()}) only, as compiling AWS's Node.js runtime interface client "
            f"under {foreign} emulation takes too long: drop architecture={foreign!r}, or run the "
            f"tests on an {foreign} machine."
        )


# --------------------------------------------------------------------------------------------
# The API


def resolve_image(
    client: Any, runtime: str, *, policy: str = "hermetic", progress: Progress = print_to_stderr,
    architecture: str | None = None,
) -> ImageChoice:
    """Return the image that serves `runtime` under `policy` for `architecture` (Lambda's name;
    None: the host's), building a hermetic one if needed.

    `policy` is "hermetic" (always pytest-aws-lambda's image), "official" (AWS's base image, which
    must be present locally: it is never pulled) or "prefer-official" (AWS's when present locally,
    else hermetic). A hermetic image present under its content-hash tag is reused with one
    `images.get` and no progress output; an absent one is built under a cross-process file lock,
    with a progress line per step. Another architecture than the host's (which runs through
    emulation) gets its own hermetic image, and AWS's image only when the local one is of that
    architecture. Raises `ImageBuildError` when the image cannot be had.
    """
    rt = get_runtime(runtime)
    if policy not in POLICIES:
        raise ConfigurationError(
            f"Unknown image policy {policy!r}: use one of {', '.join(POLICIES)}."
        )
    arch = validate_architecture(architecture or host_architecture())
    require_buildable(rt, arch)
    prefix = ""
    if policy in ("official", "prefer-official"):
        official = _get_image(client, rt.official_image)
        if official is not None and _image_arch(official) in (None, arch):
            return ImageChoice(rt.name, rt.official_image, "official",
                               "official image present locally", arch)
        if policy == "official":
            foreign = _foreign(arch)
            what = f" ({foreign})" if foreign else ""
            platform = f" --platform {docker_platform(foreign)}" if foreign else ""
            raise ImageBuildError(
                f"The image policy is 'official' but AWS's image {rt.official_image} for "
                f"{rt.name}{what} is not present locally: run `docker pull{platform} "
                f"{rt.official_image}` where "
                f"a registry is reachable (or `docker load` a saved copy), or use the policy "
                f"'prefer-official' or 'hermetic' (--lambda-image-policy) to build "
                f"pytest-aws-lambda's own image."
            )
        prefix = "no official image locally; "
    if not rt.hermetic:
        foreign = _foreign(arch)
        raise ImageBuildError(rt.no_hermetic_image(
            arch=docker_platform(foreign) if foreign else ""))

    tag = hermetic_tag(rt, arch=arch)
    image = _get_image(client, tag)
    if image is not None:
        return ImageChoice(rt.name, tag, "hermetic", f"{prefix}built {_built_on(image)} (cached)",
                           arch)
    with _build_lock(client, tag, progress, f"pytest-lambda: waiting for another process building "
                    f"{tag}…"):
        image = _get_image(client, tag)
        if image is not None:
            return ImageChoice(rt.name, tag, "hermetic",
                               f"{prefix}built {_built_on(image)} by another process", arch)
        seconds = _build_hermetic(client, rt, tag, progress, arch)
    progress(f"pytest-lambda: built {tag} for {rt.name} ({arch}) in {seconds:.0f} s")
    return ImageChoice(rt.name, tag, "hermetic", f"{prefix}built now in {seconds:.0f} s", arch)


def _image_arch(image: Any) -> str | None:
    """Return a local image's architecture in Lambda's terms, or None when it does not say."""
    arch = str((getattr(image, "attrs", None) or {}).get("Architecture", ""))
    return {"amd64": "x86_64", "arm64": "arm64"}.get(arch)


def build_all(
    client: Any, runtimes: Iterable[str] | None = None, policy: str = "hermetic",
    progress: Progress = print_to_stderr, architecture: str | None = None,
) -> list[ImageChoice]:
    """Resolve (building as needed) the image of each runtime for `architecture` (None: the
    host's), every known runtime by default (for another architecture, every one it has).

    For ahead-of-time builds in CI, so that test sessions find every image cached.
    """
    if runtimes:
        names = list(runtimes)
    else:
        # A runtime without a hermetic image only when AWS's image is there to serve it.
        names = sorted(name for name, rt in RUNTIMES.items() if _buildable(rt, architecture)
                       and (rt.hermetic or (policy != "hermetic"
                                            and _get_image(client, rt.official_image))))
    return [resolve_image(client, name, policy=policy, progress=progress,
                          architecture=architecture) for name in names]


def cli_build_images(argv: Sequence[str] | None = None) -> int:
    """Run `python -m pytest_lambda build-images [--runtime NAME]... [--policy POLICY]
    [--architecture ARCH]`.

    Prints the image serving each runtime; returns 0, or 1 with the reason on stderr.
    """
    parser = argparse.ArgumentParser(
        prog="python -m pytest_lambda build-images",
        description="Build (or find) the runtime images pytest-aws-lambda runs functions in, "
                    "ahead of a test session.",
    )
    parser.add_argument(
        "--runtime", action="append", choices=sorted(RUNTIMES), metavar="RUNTIME",
        help=f"a runtime to build, repeatable (default: all of {', '.join(sorted(RUNTIMES))})",
    )
    parser.add_argument(
        "--policy", choices=POLICIES,
        default=os.environ.get("PYTEST_LAMBDA_IMAGE_POLICY") or "hermetic",
        help="image policy, as --lambda-image-policy (default: $PYTEST_LAMBDA_IMAGE_POLICY "
             "or hermetic)",
    )
    parser.add_argument(
        "--architecture", choices=ARCHITECTURES, default=host_architecture(),
        help="the architecture to build for, in Lambda's terms (default: this host's, "
             f"{host_architecture()}); another one needs emulation (binfmt_misc and QEMU)",
    )
    parser.add_argument(
        "--print-tags", action="store_true",
        help="print the tag each runtime's hermetic image has, one a line, without building "
             "or contacting Docker (a cache key for CI, and the names for `docker save`)",
    )
    parser.add_argument(
        "--load", metavar="DIR", type=Path,
        help="first load the images saved in DIR (by --save) that the engine lacks; a missing "
             "DIR loads nothing",
    )
    parser.add_argument(
        "--save", metavar="DIR", type=Path,
        help="then save each image into DIR as a docker-save tarball (skipping those saved "
             "already, removing others), for a CI cache to keep",
    )
    args = parser.parse_args(list(argv) if argv is not None else None)
    if args.print_tags:
        arch = validate_architecture(args.architecture)
        names = args.runtime or sorted(name for name, rt in RUNTIMES.items()
                                       if _buildable(rt, arch))
        try:
            for name in names:
                require_buildable(get_runtime(name), arch)
                print(hermetic_tag(name, arch=arch))
        except LambdaHarnessError as exc:
            print(f"pytest-lambda: {exc}", file=sys.stderr)
            return 1
        return 0
    try:
        from . import _image_cache
        from ._docker import get_client

        require_host_can_run(args.architecture)
        client = get_client()
        if args.load is not None:
            _image_cache.load(client, args.load, print_to_stderr)
        choices = build_all(client, args.runtime, args.policy, print_to_stderr,
                            architecture=args.architecture)
        if args.save is not None:
            _image_cache.save(client, [choice.tag for choice in choices], args.save,
                              print_to_stderr)
    except (LambdaHarnessError, OSError) as exc:  # OSError: --load or --save paths
        print(f"pytest-lambda: {exc}", file=sys.stderr)
        return 1
    for choice in choices:
        print(f"{choice.runtime}: {choice.tag} ({choice.source}; {choice.reason})")
    if not args.runtime:
        served = {choice.runtime for choice in choices}
        for name, rt in sorted(RUNTIMES.items()):
            if not rt.hermetic and name not in served:
                print(f"{name}: no hermetic image; AWS's {rt.official_image} serves it under "
                      f"--policy prefer-official or official once pulled")
    return 0
