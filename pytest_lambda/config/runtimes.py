"""The Lambda runtimes the harness knows, and how each one is served."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

#: The `v<N>` of the runtime version in `INIT_START`. Lambda numbers its own releases of each
#: runtime; the plugin's images are not one of them, so they carry one fixed number.
RUNTIME_VERSION_NUMBER = 1


def init_start_line(family: str, version: str, region: str) -> str:
    """Return Lambda's `INIT_START` line for a managed runtime of `family` and `version`.

    `INIT_START Runtime Version: python:3.13.v1\tRuntime Version ARN: arn:aws:lambda:...`:
    the version as `<family>:<version>.v<N>`, and an ARN whose id is a SHA-256, as Lambda's are.
    """
    name = f"{family}:{version}.v{RUNTIME_VERSION_NUMBER}"
    digest = hashlib.sha256(f"pytest-aws-lambda {name}".encode()).hexdigest()
    return (f"INIT_START Runtime Version: {name}\t"
            f"Runtime Version ARN: arn:aws:lambda:{region}::runtime:{digest}\n")


@dataclass(frozen=True)
class Runtime:
    """One Lambda runtime identifier and what serves it."""

    name: str
    #: The folder of `runtime_images/` whose Dockerfile builds the hermetic image.
    family: str
    #: The language version inside the environment ("3.13" for python3.13, "22" for nodejs22.x),
    #: or the Amazon Linux release of a custom runtime ("al2023").
    version: str
    #: Debian suite the hermetic image is built from; None when pytest-aws-lambda has no
    #: hermetic image of this runtime (only AWS's official image serves it).
    suite: str | None
    #: AWS's official base image for this runtime.
    official_image: str

    @property
    def hermetic(self) -> bool:
        """Whether pytest-aws-lambda builds its own image of this runtime."""
        return self.suite is not None

    @property
    def debian_suite(self) -> str:
        """Return the Debian suite of the hermetic image, or raise `ImageBuildError` saying
        what to do instead when there is none (`no_hermetic_image`)."""
        if self.suite is None:
            from pytest_lambda.errors import ImageBuildError

            raise ImageBuildError(self.no_hermetic_image())
        return self.suite

    def no_hermetic_image(self, *, arch: str = "") -> str:
        """Return the sentence that says why this runtime has no hermetic image and what to do.

        `arch`, when given, is the `--platform` to pull for ("linux/arm64").
        """
        language = {"python": "Python", "nodejs": "Node.js"}.get(self.family, self.family)
        platform = f" --platform {arch}" if arch else ""
        return (
            f"pytest-aws-lambda has no hermetic {self.name} image, as no Debian suite ships "
            f"{language} {self.version} and no package registry it builds from carries a "
            f"relocatable build of it: run `docker pull{platform} {self.official_image}` where "
            f"a registry is reachable (or `docker load` a saved copy) and use the image policy "
            f"'prefer-official' or 'official' (--lambda-image-policy), or move the function to "
            f"a runtime with a hermetic image ({', '.join(hermetic_runtimes(self.family))})."
        )

    @property
    def execution_env(self) -> str | None:
        """Return the `AWS_EXECUTION_ENV` value Lambda sets, None for custom runtimes."""
        if self.family == "provided":
            return None
        return f"AWS_Lambda_{self.name}"


#: The runtimes pytest-aws-lambda runs, by Lambda's names (`RUNTIMES` describes each).
RuntimeName = Literal[
    "python3.10", "python3.11", "python3.12", "python3.13", "python3.14",
    "nodejs20.x", "nodejs22.x", "nodejs24.x", "provided.al2023", "provided.al2",
]

RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        # No Debian suite ships Python 3.10 or 3.12 (bookworm has 3.11, trixie 3.13, sid 3.14),
        # and no registry the build reaches carries a relocatable CPython: AWS's images only.
        Runtime("python3.10", "python", "3.10", None, "public.ecr.aws/lambda/python:3.10"),
        Runtime("python3.11", "python", "3.11", "bookworm", "public.ecr.aws/lambda/python:3.11"),
        Runtime("python3.12", "python", "3.12", None, "public.ecr.aws/lambda/python:3.12"),
        Runtime("python3.13", "python", "3.13", "trixie", "public.ecr.aws/lambda/python:3.13"),
        Runtime("python3.14", "python", "3.14", "sid", "public.ecr.aws/lambda/python:3.14"),
        # Debian ships Node.js 20 in trixie and 24 in sid. No suite ships Node.js 22: its image
        # runs the official Node.js build on trixie's libraries (images.recipes.NODE_BINARY_SPECS).
        Runtime("nodejs20.x", "nodejs", "20", "trixie", "public.ecr.aws/lambda/nodejs:20"),
        Runtime("nodejs22.x", "nodejs", "22", "trixie", "public.ecr.aws/lambda/nodejs:22"),
        Runtime("nodejs24.x", "nodejs", "24", "sid", "public.ecr.aws/lambda/nodejs:24"),
        # Custom runtimes emulate the contract (a bootstrap, curl, a shell), not Amazon Linux.
        Runtime("provided.al2023", "provided", "al2023", "bookworm",
                "public.ecr.aws/lambda/provided:al2023"),
        Runtime("provided.al2", "provided", "al2", "bookworm",
                "public.ecr.aws/lambda/provided:al2"),
    )
}


#: Lambda runtimes that Lambda has deprecated, which pytest-aws-lambda does not serve: the
#: date of deprecation (Lambda's runtime table) and the oldest runtime of the family it serves.
#: After deprecation Lambda stops patching the runtime and then blocks creating and updating
#: functions on it, so a change tested here could not be deployed.
DEPRECATED: dict[str, tuple[str, str]] = {
    "python3.8": ("2024-10-14", "python3.10"),
    "python3.9": ("2025-12-15", "python3.10"),
    "nodejs16.x": ("2024-06-12", "nodejs20.x"),
    "nodejs18.x": ("2025-09-01", "nodejs20.x"),
}


def hermetic_runtimes(family: str | None = None) -> list[str]:
    """Return the names of the runtimes (of `family`) that have a hermetic image, sorted."""
    return sorted((name for name, rt in RUNTIMES.items()
                   if rt.hermetic and family in (None, rt.family)), key=_sort_key)


def get_runtime(name: str) -> Runtime:
    """Return the runtime called `name`, or raise `ConfigurationError` naming the known ones
    (or, for a runtime Lambda has deprecated, saying which to move to)."""
    from pytest_lambda.errors import ConfigurationError

    try:
        return RUNTIMES[name]
    except KeyError:
        if name in DEPRECATED:
            since, successor = DEPRECATED[name]
            raise ConfigurationError(
                f"{name} is a deprecated Lambda runtime (since {since}; Lambda then blocks "
                f"creating and updating functions on it), so pytest-aws-lambda does not run "
                f"it: move the function to {successor} or later."
            ) from None
        known = ", ".join(sorted(RUNTIMES, key=_sort_key))
        raise ConfigurationError(
            f"Unknown runtime {name!r}: pytest-aws-lambda supports {known}."
        ) from None


def _sort_key(name: str) -> tuple[str, int, str]:
    # python3.9 < python3.10 and nodejs20.x < nodejs22.x: the family, then the version number.
    rt = RUNTIMES[name]
    digits = rt.version.split(".")[-1]
    return (rt.family, int(digits) if digits.isdigit() else 0, name)
