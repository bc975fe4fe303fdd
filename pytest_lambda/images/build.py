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
from pathlib import Path
from typing import Any

from pytest_lambda.config.arch import (
    NAMES,
    docker_platform,
    lambda_name,
)
from pytest_lambda.config.runtimes import Runtime
from pytest_lambda.errors import ImageBuildError
from pytest_lambda.images.debian import _MIRROR_ENV, _merged_usr_hook, debian_mirror
from pytest_lambda.images.recipes import (
    AWS_SDK_JS_PACKAGES,
    AWSLAMBDARIC_SPEC,
    BOTO3_SPEC,
    LABEL_IMAGE,
    LABEL_RUNTIME,
    _context_files,
    _dpkg_options,
    _foreign,
    base_packages,
    base_tag,
    bootstrap_file,
    client_spec,
    language_spec,
    node_binaries_lock,
    node_lock_dir,
    node_sdk_lock_dir,
    python_sdk_requirements,
    recipe,
    runtime_images_dir,
)
from pytest_lambda.system import clock as _clock
from pytest_lambda.system.paths import cache_dir
from pytest_lambda.system.redact import redact

_TAIL_LINES = 30
_HEARTBEAT_S = 30.0
_BUILD_TIMEOUT_S = 3600

Progress = Callable[[str], None]


def print_to_stderr(line: str) -> None:
    """Write one progress line to stderr (the default `progress` callback)."""
    print(line, file=sys.stderr, flush=True)


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
    name = lambda_name(arch)
    return NAMES[name].machine if name in NAMES else arch


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
                    *((f"--architectures={NAMES[foreign].docker}",) if foreign else ()),
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
def _import_tarball(client: Any, tarball: Path, tag: str, foreign: str | None, *,
                    labels: dict[str, str], cmd: list[str]) -> None:
    """Make the root file system `tarball` the one-layer image `tag`, recorded as `foreign`'s
    platform when it is another architecture's (so that `docker build --platform` takes it)."""
    if foreign is None:
        changes = [" ".join(["LABEL", *(f"{k}={v}" for k, v in labels.items())]),
                   f"CMD {json.dumps(cmd)}"]
        # The tag rides in `repo` ("name:tag", which the API allows): Podman's Docker API
        # ignores a separate `tag` and would name the image "<name>:latest".
        client.api.import_image_from_file(str(tarball), repository=tag, changes=changes)
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
        "architecture": NAMES[foreign].docker, "os": "linux", "created": created,
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


def pip_target_command(version: str, machine: str, target: Path,
                       requirements: list[Path]) -> list[str]:
    """Return the pip command that installs hash-pinned `requirements` (every wheel checked
    against its pinned SHA-256) for CPython `version` on `machine` into `target`."""
    return [
        *_pip_command(), "install", "--quiet", "--disable-pip-version-check", "--no-input",
        "--no-compile", "--target", str(target), "--only-binary=:all:",
        f"--platform=manylinux2014_{machine}", f"--platform=manylinux_2_28_{machine}",
        f"--python-version={version}", "--implementation=cp", "--require-hashes",
        *(arg for path in requirements for arg in ("--requirement", str(path))),
    ]


def _install_awslambdaric(rt: Runtime, context: Path, arch: str, steps: _Steps) -> None:
    """Install awslambdaric and boto3, with their dependencies, for the image's Python into
    `context/runtime` (the image's /var/runtime, where Lambda's Python runtimes carry both)."""
    # Every wheel is checked against the SHA-256 pinned for it (see AWSLAMBDARIC_SPEC).
    requirements = [context / "requirements.txt",
                    context / python_sdk_requirements().name]
    cmd = pip_target_command(rt.version, arch, context / "runtime", requirements)
    _run(cmd, step=f"Installing {AWSLAMBDARIC_SPEC} and {BOTO3_SPEC} for Python {rt.version}",
         steps=steps)


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
    _fetch_node_sdk(npm, context / "sdk", steps)
    (context / "node").mkdir()
    spec = language_spec(rt, arch)
    if spec is not None:
        _fetch_node_binary(npm, spec, context / "node", steps)


#: What Lambda's Node.js runtimes leave out of the JavaScript SDK's packages: the ES module and
#: TypeScript builds. Node.js loads the CommonJS build (`dist-cjs`) for both `require` and
#: `import`: the packages' `main` and, in their `exports` maps, the `node` condition before
#: `import` name it.
_SDK_UNUSED_BUILDS = ("dist-es", "dist-types")


def _fetch_node_sdk(npm: str, target: Path, steps: _Steps) -> None:
    """Fetch the pinned JavaScript SDK packages into `target/node_modules` (the image's
    /var/runtime/node_modules), without the builds Node.js never loads."""
    # The lock files are files of the family's folder, so the context may hold them already.
    target.mkdir(exist_ok=True)
    lock = node_sdk_lock_dir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy2(lock / name, target / name)
    cmd = [
        npm, "ci", "--ignore-scripts", "--omit=dev", "--no-audit", "--no-fund",
        "--loglevel=error",
    ]
    _run(cmd, step=f"Fetching the AWS SDK for JavaScript ({len(AWS_SDK_JS_PACKAGES)} packages) "
         f"with npm", steps=steps, cwd=target)
    modules = target / "node_modules"
    for package in [*modules.glob("*/package.json"), *modules.glob("@*/*/package.json")]:
        for build in _SDK_UNUSED_BUILDS:
            shutil.rmtree(package.parent / build, ignore_errors=True)


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
#: The steps a recipe's `fetch` names.
_FETCH_STEPS = {"pip": _install_awslambdaric, "npm": _fetch_for_node}


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


def _sdk_label(rt: Runtime) -> str | None:
    """Return the AWS SDK that goes into `rt`'s image, as the build's progress line names it."""
    if rt.family == "python":
        return BOTO3_SPEC
    if rt.family == "nodejs":
        return f"AWS SDK for JavaScript v3 ({len(AWS_SDK_JS_PACKAGES)} packages)"
    return None


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
            machine = NAMES[foreign].machine if foreign else _engine_arch(client)
            fetched = " ".join(s for s in (language_spec(rt, machine), client_spec(rt),
                                           _sdk_label(rt)) if s)
            what = r.fetch_what.format(spec=fetched, version=rt.version)
            with steps.step(n, what):
                _FETCH_STEPS[r.fetch](rt, context, machine, steps)
        with steps.step(n + 1, f"docker build {tag}"):
            _docker_build(client, context, tag, buildargs, rt, steps, offline=mirror is not None,
                          platform=docker_platform(foreign) if foreign else None)
    return steps.elapsed()
