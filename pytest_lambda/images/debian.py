"""The Debian archive the hermetic images are built from: which mirror the host's apt uses."""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

_MIRROR_ENV = "PYTEST_LAMBDA_DEBIAN_MIRROR"


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
# The three build steps


def _merged_usr_hook() -> list[str]:
    # Set up merged /usr directly and install usr-is-merged; without it, apt satisfies
    # init-system-helpers' "usrmerge | usr-is-merged" (bookworm) with usrmerge and perl (50 MB).
    hook = Path("/usr/share/mmdebstrap/hooks/maybe-merged-usr")
    return [f"--hook-dir={hook}"] if hook.is_dir() else []
