"""What dependency builds are for: a layer with requirements, and a build target (a Lambda
runtime and architecture, or this host's interpreter).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from pytest_lambda.config.arch import NAMES
from pytest_lambda.config.runtimes import Runtime

#: The glibc of the Amazon Linux each runtime runs on: Amazon Linux 2 for python3.11, Amazon Linux
#: 2023 for later ones (the same table AWS's aws-lambda-builders keeps).
_GLIBC = {"3.11": (2, 26)}
_GLIBC_DEFAULT = (2, 34)


@dataclass(frozen=True)
class Layer:
    """A layer (a directory or a .zip) whose dependencies are built for the function using it.

    ``Layer("layer-dir", requirements="requirements.txt")`` installs the requirements (a path
    relative to the layer; ``True`` for ``requirements.txt``, or ``package.json`` for Node.js)
    for the function's runtime and architecture into the layer's ``python/`` folder
    (``nodejs/node_modules/`` for Node.js), as a layer built for Lambda holds them. Pass it in
    ``layers=[...]`` beside plain paths.
    """

    path: str | os.PathLike[str]
    requirements: str | os.PathLike[str] | bool | None = None


# -- targets ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """What dependencies are built for: a Lambda runtime and architecture, or the host."""

    runtime: Runtime | None  # None: the host's Python (invoke_handler)
    architecture: str

    @property
    def host(self) -> bool:
        return self.runtime is None

    @property
    def family(self) -> str:
        return "python" if self.runtime is None else self.runtime.family

    @property
    def python_version(self) -> str:
        if self.runtime is None:
            return f"{sys.version_info[0]}.{sys.version_info[1]}"
        return self.runtime.version

    def describe(self) -> str:
        if self.runtime is None:
            return f"this host's Python {self.python_version}"
        if self.family == "python":
            glibc = _GLIBC.get(self.runtime.version, _GLIBC_DEFAULT)
            return (f"{self.runtime.name} on {self.architecture} "
                    f"(manylinux_{glibc[0]}_{glibc[1]}_{NAMES[self.architecture].machine} wheels)")
        return f"{self.runtime.name} on {self.architecture}"

    def key(self) -> str:
        if self.runtime is None:
            return f"host:{sys.implementation.cache_tag}:{sys.platform}:{self.architecture}"
        return f"{self.runtime.name}:{self.runtime.version}:{self.architecture}"


def python_platforms(version: str, architecture: str) -> list[str]:
    """Return pip's `--platform` tags for a Lambda Python runtime: every manylinux tag its glibc
    satisfies, newest first, legacy aliases included (pip does not expand them itself)."""
    machine = NAMES[architecture].machine
    major, newest = _GLIBC.get(version, _GLIBC_DEFAULT)
    tags = [f"manylinux_{major}_{minor}_{machine}" for minor in range(newest, 16, -1)]
    tags.append(f"manylinux2014_{machine}")
    if machine == "x86_64":
        tags += ["manylinux_2_12_x86_64", "manylinux2010_x86_64", "manylinux_2_5_x86_64",
                 "manylinux1_x86_64"]
    return tags


def host_target() -> Target:
    """Return the target of `invoke_handler`: the test process's own Python."""
    from pytest_lambda.config.arch import host_architecture

    return Target(None, host_architecture())
