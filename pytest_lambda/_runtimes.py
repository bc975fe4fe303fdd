"""The Lambda runtimes the harness knows, and how each one is served."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

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
    #: Debian suite the hermetic image is built from.
    debian_suite: str
    #: AWS's official base image for this runtime.
    official_image: str

    @property
    def execution_env(self) -> str | None:
        """Return the `AWS_EXECUTION_ENV` value Lambda sets, None for custom runtimes."""
        if self.family == "provided":
            return None
        return f"AWS_Lambda_{self.name}"


RUNTIMES: dict[str, Runtime] = {
    r.name: r
    for r in (
        Runtime("python3.11", "python", "3.11", "bookworm", "public.ecr.aws/lambda/python:3.11"),
        Runtime("python3.13", "python", "3.13", "trixie", "public.ecr.aws/lambda/python:3.13"),
        Runtime("python3.14", "python", "3.14", "sid", "public.ecr.aws/lambda/python:3.14"),
        # Debian ships Node.js 20 in trixie and 24 in sid. No suite ships Node.js 22: its image
        # runs the official Node.js build on trixie's libraries (_images.NODE_BINARY_SPECS).
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


def get_runtime(name: str) -> Runtime:
    """Return the runtime called `name`, or raise `ConfigurationError` naming the known ones."""
    from ._errors import ConfigurationError

    try:
        return RUNTIMES[name]
    except KeyError:
        known = ", ".join(sorted(RUNTIMES))
        raise ConfigurationError(
            f"Unknown runtime {name!r}: pytest-aws-lambda supports {known}."
        ) from None
