"""Which image serves a runtime: the image policy applied, hermetic images built on demand."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pytest_lambda.config.arch import (
    NAMES,
    docker_platform,
    host_architecture,
    lambda_name,
    validate_architecture,
)
from pytest_lambda.config.runtimes import RUNTIMES, Runtime, get_runtime
from pytest_lambda.config.settings import POLICIES
from pytest_lambda.errors import ConfigurationError, ImageBuildError
from pytest_lambda.images.build import (
    Progress,
    _build_hermetic,
    _build_lock,
    _built_on,
    _get_image,
    print_to_stderr,
)
from pytest_lambda.images.recipes import ImageChoice, _foreign, hermetic_tag

#: Lambda's architectures by the machine names that wheels and Node.js builds use.


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
    name = lambda_name(arch) if arch else None
    return name if name in NAMES else None


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
