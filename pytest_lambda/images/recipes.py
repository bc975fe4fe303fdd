"""What goes into each hermetic runtime image, and the tag that names its inputs.

One recipe per runtime family (one folder of `runtime_images/`): the Debian packages, the
runtime interface client pinned with hashes, the build arguments. An image's tag hashes every
input, so a changed input is a new image and an unchanged one is never rebuilt.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pytest_lambda.config.arch import (
    NAMES,
    host_architecture,
    lambda_name,
    validate_architecture,
)
from pytest_lambda.config.runtimes import Runtime, get_runtime
from pytest_lambda.errors import ImageBuildError
from pytest_lambda.images.bootstrap import PYTHON_BOOTSTRAP

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

#: The AWS SDKs that Lambda's runtimes carry, pinned the same way as the clients above. AWS's
#: runtime pages publish no SDK version any more (it "depends on the runtime version and your
#: AWS Region"), so every Python image gets one recent boto3 release in /var/runtime, with
#: botocore, s3transfer, jmespath, python-dateutil, six and urllib3 as it resolves them
#: (`runtime_images/python/sdk-requirements.txt`), and every Node.js image one release of the AWS
#: SDK for JavaScript v3 in /var/runtime/node_modules (`runtime_images/nodejs/sdk/`):
#: `AWS_SDK_JS_PACKAGES`, each at its own release (v3's packages are published only when they
#: change, so one SDK release is every package at its latest version of that day), with what
#: they depend on. docs/runtimes.md says why not all of v3. `scripts/pin_runtime_clients.py
#: --sdk` writes both locks from these.
BOTO3_SPEC = "boto3==1.44.8"
#: The JavaScript SDK's packages in the Node.js images, each package's latest on `AWS_SDK_JS_DATE`.
AWS_SDK_JS_DATE = "2026-11-29"
AWS_SDK_JS_PACKAGES = {
    "@aws-sdk/client-cloudwatch-logs": "3.1169.0",
    "@aws-sdk/client-dynamodb": "3.1169.0",
    "@aws-sdk/client-eventbridge": "3.1169.0",
    "@aws-sdk/client-kinesis": "3.1143.0",
    "@aws-sdk/client-kms": "3.1164.0",
    "@aws-sdk/client-lambda": "3.1164.0",
    "@aws-sdk/client-s3": "3.1175.0",
    "@aws-sdk/client-secrets-manager": "3.1164.0",
    "@aws-sdk/client-sns": "3.1169.0",
    "@aws-sdk/client-sqs": "3.1175.0",
    "@aws-sdk/client-ssm": "3.1169.0",
    "@aws-sdk/client-sts": "3.1177.0",
    "@aws-sdk/lib-dynamodb": "3.1169.0",
}

#: Bump when the build recipe in this module changes in a way the hashed files do not show.
RECIPE_VERSION = "1"

HERMETIC_REPOSITORY = "pytest-lambda/{family}"
BASE_REPOSITORY = "pytest-lambda/base"
LABEL_IMAGE = "pytest-lambda.image"
LABEL_RUNTIME = "pytest-lambda.runtime"


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
    package = Path(__file__).resolve().parents[1]
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
    return PYTHON_BOOTSTRAP


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
    #: The step before `docker build` that puts the runtime interface client (and the
    #: language's official build, see `language_spec`) into the build context: "pip" or "npm"
    #: (the build runner's steps of those names), described by `fetch_what` ("{spec}",
    #: "{version}").
    fetch: Literal["pip", "npm"] | None = None
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


def sdk_spec(runtime: Runtime) -> str | None:
    """Return the pinned AWS SDK that goes into `runtime`'s image, if its family has one."""
    # Read the module constants at call time, so that a changed pin changes the hash.
    if runtime.family == "python":
        return BOTO3_SPEC
    if runtime.family == "nodejs":
        return " ".join(sdk_node_specs())
    return None


def sdk_node_specs() -> list[str]:
    """Return the npm specs of the JavaScript SDK's packages that go into Node.js images."""
    return [f"{name}@{version}" for name, version in sorted(AWS_SDK_JS_PACKAGES.items())]


def python_sdk_requirements(images_dir: Path | None = None) -> Path:
    """Return the hash-pinned requirements file of boto3 and its dependencies."""
    return (images_dir or runtime_images_dir()) / "python" / "sdk-requirements.txt"


def node_sdk_lock_dir(images_dir: Path | None = None) -> Path:
    """Return the folder of the JavaScript SDK's lock files (package.json, package-lock.json)."""
    return (images_dir or runtime_images_dir()) / "nodejs" / "sdk"


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
        return spec.format(arch=NAMES[lambda_name(arch)].node)
    except KeyError:
        raise ImageBuildError(
            f"There is no official Node.js {runtime.version} build for {arch}, so "
            f"pytest-aws-lambda cannot build a {runtime.name} image on this Docker engine: use an "
            f"x86_64 or aarch64 engine, or another runtime."
        ) from None


#: The Docker engine's architecture by the name Node.js's own builds use.
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
    build-stage base) packages, the version specs of the runtime interface client and of the AWS
    SDK (whose lock files are files of the context), where the language's official build serves
    the runtime its version spec, and an architecture other than the host's.
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
    sdk = sdk_spec(rt)
    if sdk is not None:
        add("sdk", sdk.encode())
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

#: What the build stage of Node.js images compiles with.
NODE_BUILD_TOOLS = ("g++", "make", "cmake", "autoconf", "automake", "libtool", "python3",
                    "xz-utils", "ca-certificates")

#: One recipe per folder of `runtime_images/`.
RECIPES: dict[str, _Recipe] = {
    "python": _Recipe(
        packages=("python{version}", "ca-certificates"),
        bootstrap_name="bootstrap.py",
        version_arg="PYTHON_VERSION",
        fetch="pip",
        fetch_what="{spec} wheels for Python {version} (pip)",
    ),
    # What AWS's custom-runtime tutorial bootstrap uses: bash, curl and coreutils (essential).
    "provided": _Recipe(packages=("bash", "curl", "ca-certificates")),
    # aws-lambda-ric compiles curl, aws-lambda-cpp and a node-gyp addon when it is installed:
    # against Debian's Node.js and its headers (libnode-dev), or against the official build's.
    "nodejs": _Recipe(
        packages=("nodejs", "ca-certificates"),
        build_packages=("nodejs", "libnode-dev", *NODE_BUILD_TOOLS),
        version_arg="NODE_MAJOR",
        fetch="npm",
        fetch_what="{spec} (npm)",
        # The official build links glibc (2.28 or later), libstdc++ and libgcc_s dynamically.
        upstream_packages=("libstdc++6", "ca-certificates"),
        upstream_build_packages=NODE_BUILD_TOOLS,
    ),
}
