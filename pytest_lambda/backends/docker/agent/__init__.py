"""The in-container agent (`agent.c`): built once per architecture with the host's C compiler.

The agent is a static binary so that it runs in every image (Debian-based runtimes, `provided`,
users' own images) without a libc of the image's. It is compiled on first need into the cache
directory, named by the source's digest, so an edited source builds a new one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

from pytest_lambda.config.arch import NAMES, host_architecture
from pytest_lambda.errors import BackendUnavailableError

SOURCE = Path(__file__).with_name("agent.c")
#: Cross compilers by Lambda architecture (Debian's gcc-<triplet> packages).

_lock = threading.Lock()


def _compiler(architecture: str) -> str | None:
    names = [_cross_compiler(architecture)]
    if architecture == host_architecture() and sys.platform.startswith("linux"):
        names = ["cc", "gcc", *names]  # elsewhere the native compiler makes no Linux binary
    return next((found for name in names if (found := shutil.which(name))), None)


def binary(architecture: str) -> Path:
    """Return the agent for `architecture`: one shipped next to the source (`agent-<arch>`,
    built by CI into the wheel), else one compiled on first need."""
    from pytest_lambda.system.paths import cache_dir

    shipped = SOURCE.with_name(f"agent-{architecture}")
    if shipped.is_file():
        return shipped
    digest = hashlib.sha256(SOURCE.read_bytes()).hexdigest()[:12]
    target = cache_dir() / "agent" / f"agent-{architecture}-{digest}"
    with _lock:
        if target.exists():
            return target
        compiler = _compiler(architecture)
        if compiler is None:
            raise BackendUnavailableError(
                f"--lambda-connect=published needs a C compiler for {architecture} to build the "
                f"in-container agent once (install gcc, or {_cross_compiler(architecture)} for "
                f"another architecture), or use --lambda-connect=direct."
            )
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        done = subprocess.run([compiler, "-static", "-O2", "-s", "-o", str(partial), str(SOURCE)],
                              capture_output=True, text=True)
        if done.returncode != 0:
            partial.unlink(missing_ok=True)
            raise BackendUnavailableError(
                f"Building the in-container agent with {compiler} failed: "
                f"{(done.stderr.strip().splitlines() or ['no output'])[-1]} (a static build "
                f"needs the C library's static files, Debian's libc6-dev)."
            )
        os.replace(partial, target)
        return target


def _cross_compiler(architecture: str) -> str:
    """Return the name Debian gives the C cross compiler for `architecture`."""
    return f"{NAMES[architecture].machine}-linux-gnu-gcc"
