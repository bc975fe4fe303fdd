"""Instruction set architectures: Lambda's names for them, and whether this host can run each.

Lambda runs functions on `x86_64` or `arm64`. A container of the other architecture runs here only
through user-mode emulation that the kernel's `binfmt_misc` hands foreign executables to (QEMU);
without it, the run would end in "exec format error", so the harness refuses up front instead.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pytest_lambda.errors import ConfigurationError

#: Lambda's names for its architectures: the vocabulary every part of the harness speaks.
Architecture = Literal["x86_64", "arm64"]
ARCHITECTURES: tuple[Architecture, ...] = get_args(Architecture)


@dataclass(frozen=True)
class ArchNames:
    """How the tools around the harness spell one of Lambda's architectures."""

    #: The kernel's and GNU's name (`uname -m`, pip's manylinux tags, cross compilers).
    machine: str
    #: Docker's and Debian's name (`docker version`'s Arch, `linux/<docker>`, dpkg).
    docker: str
    #: Node.js's name (`process.arch`, the official binaries' file names).
    node: str
    #: The ELF header's `e_machine` field as binfmt_misc's magic spells it (hex, little endian).
    elf_machine: str

    @property
    def platform(self) -> str:
        """Docker's platform string (`linux/amd64`)."""
        return f"linux/{self.docker}"


#: The one table of architecture names.
NAMES: dict[str, ArchNames] = {
    "x86_64": ArchNames(machine="x86_64", docker="amd64", node="x64", elf_machine="3e00"),
    "arm64": ArchNames(machine="aarch64", docker="arm64", node="arm64", elf_machine="b700"),
}
#: Where the kernel lists its binfmt_misc handlers (read when a function names an architecture;
#: tests point it elsewhere).
BINFMT_DIR = Path("/proc/sys/fs/binfmt_misc")


def validate_architecture(value: object) -> Architecture:
    """Return `value` if it is one of Lambda's architectures, else raise ConfigurationError."""
    if value not in ARCHITECTURES:
        raise ConfigurationError(
            f"architecture must be 'x86_64' or 'arm64' (Lambda's names), not {value!r}."
        )
    return value


def docker_platform(arch: str) -> str:
    """Return Docker's platform string for one of Lambda's architectures."""
    return NAMES[arch].platform


def lambda_name(arch: str) -> str:
    """Return Lambda's name for an architecture as the kernel or Docker spells it ("amd64",
    "aarch64", ...), or `arch` itself when it is none of Lambda's."""
    arch = arch.lower()
    for name, names in NAMES.items():
        if arch in (name, names.machine, names.docker):
            return name
    return arch


def host_architecture() -> str:
    """Return the host's architecture in Lambda's terms ("x86_64", "arm64", or the machine's)."""
    return lambda_name(platform.machine())


def emulation_available(arch: str, binfmt_dir: Path | None = None) -> bool:
    """Return whether an enabled binfmt_misc handler runs `arch` executables on this host
    (handlers listed in `binfmt_dir`, by default `BINFMT_DIR`)."""
    machine = NAMES[arch].elf_machine
    if binfmt_dir is None:
        binfmt_dir = BINFMT_DIR
    try:
        entries = [p for p in binfmt_dir.iterdir() if p.name not in ("register", "status")]
    except OSError:
        return False
    for entry in entries:
        try:
            text = entry.read_text()
        except OSError:
            continue
        lines = text.splitlines()
        if not lines or lines[0].strip() != "enabled":
            continue
        magic = next((line.split()[1] for line in lines if line.startswith("magic ")), "")
        # e_machine sits at byte 18 of the ELF header: hex characters 36 to 40 of the magic.
        if magic[36:40] == machine:
            return True
    return False


def require_host_can_run(arch: str, binfmt_dir: Path | None = None) -> None:
    """Raise ConfigurationError, saying how to fix it, when `arch` cannot run on this host."""
    host = host_architecture()
    if arch == host or emulation_available(arch, binfmt_dir):
        return
    qemu = "aarch64" if arch == "arm64" else "x86_64"
    raise ConfigurationError(
        f"architecture={arch!r} cannot run on this {host} host: no {arch} emulation is "
        f"registered with binfmt_misc. Install it (on Debian or Ubuntu: apt-get install "
        f"qemu-user-static binfmt-support, which registers qemu-{qemu}) and run again, or use "
        f"architecture={host!r}."
    )
