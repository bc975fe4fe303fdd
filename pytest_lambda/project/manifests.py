"""What a dependency build is made from: the manifest a function names, and the key of its build.

The key hashes the manifest's content, the files it includes (`-r`/`-c` files, local
directories, a package.json's `file:` packages), the lock file, the recipe, the runtime and the
architecture: a function whose requirements did not change finds its build, in this session or
the next, and two functions with the same requirements share one.
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from pytest_lambda.artifacts.files import hash_file, hash_tree
from pytest_lambda.config.packaging import Target
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.project.reporting import shown

#: Bump when the way a build is made changes (it is part of every cache key).
RECIPE = "deps-v1"

_DEFAULT_MANIFEST = {"python": "requirements.txt", "nodejs": "package.json"}


def manifest_path(requirements: object, base: Path, target: Target, who: str) -> Path | None:
    """Return the manifest `requirements` names (relative to `base`), or None for no
    dependencies; raise ConfigurationError for a bad value."""
    if requirements is None or requirements is False:
        return None
    family = target.family
    if family not in _DEFAULT_MANIFEST:
        raise ConfigurationError(
            f"requirements= of {who} applies to Python and Node.js runtimes; a "
            f"{target.runtime.name if target.runtime else family} function's dependencies are "
            f"part of its code: drop requirements=."
        )
    if requirements is True:
        path = base / _DEFAULT_MANIFEST[family]
    elif isinstance(requirements, (str, os.PathLike)):
        path = base / Path(requirements).expanduser()
    else:
        raise ConfigurationError(
            f"requirements= of {who} must be a path relative to its code (or True for "
            f"{_DEFAULT_MANIFEST[family]}), not {type(requirements).__name__}."
        )
    if not path.is_file():
        raise ConfigurationError(
            f"The requirements file {str(path)!r} of {who} does not exist: pass requirements= "
            f"a path relative to {base}, or True for {_DEFAULT_MANIFEST[family]} there."
        )
    if family == "nodejs" and path.name != "package.json":
        raise ConfigurationError(
            f"requirements= of {who} names {path.name}, but a {target.describe()} function's "
            f"dependencies come from a package.json (with its package-lock.json beside it): "
            f"pass requirements='package.json' or True."
        )
    if family == "python" and path.name == "package.json":
        raise ConfigurationError(
            f"requirements= of {who} names a package.json, but {target.describe()} installs "
            f"Python requirements: pass a requirements.txt."
        )
    return path.resolve()


_INCLUDE = re.compile(r"^\s*(?:-r|--requirement|-c|--constraint)(?:\s+|=)(\S+)")
_LOCAL = re.compile(r"^\s*(?:-e\s+|--editable(?:\s+|=))?((?:\.{1,2}|~)?/\S*|file:\S+)")


def _manifest_inputs(manifest: Path, target: Target, seen: set[Path] | None = None
                     ) -> list[tuple[str, str]]:
    """Return (label, content hash) of the manifest, its lock file and what it includes:
    `-r`/`-c` files and local directories of a requirements file."""
    seen = set() if seen is None else seen
    if manifest in seen:
        return []
    seen.add(manifest)
    inputs = [(f"file:{manifest.name}", hash_file(manifest))]
    if target.family == "nodejs":
        lock = manifest.with_name("package-lock.json")
        if lock.is_file():
            inputs.append(("lock", hash_file(lock)))
        for rel, path in local_node_packages(manifest).items():
            inputs.append((f"local:{rel}", hash_tree(path) if path.is_dir() else hash_file(path)))
        return inputs
    for line in manifest.read_text(errors="replace").splitlines():
        line = line.split(" #", 1)[0]
        include = _INCLUDE.match(line)
        if include:
            path = (manifest.parent / include.group(1)).resolve()
            if path.is_file():
                inputs += _manifest_inputs(path, target, seen)
            continue
        local = _LOCAL.match(line)
        if local:
            raw = local.group(1).removeprefix("file://").removeprefix("file:")
            path = (manifest.parent / Path(raw).expanduser()).resolve()
            if path.is_dir():
                inputs.append((f"dir:{raw}", hash_tree(path)))
            elif path.is_file():
                inputs.append((f"file:{raw}", hash_file(path)))
    return inputs


def build_key(manifest: Path, target: Target) -> str:
    """Return the cache key of `manifest`'s build for `target`."""
    parts = [RECIPE, target.family, target.key()]
    for label, digest in _manifest_inputs(manifest, target):
        parts += [label, digest]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


def local_node_packages(manifest: Path) -> dict[str, Path]:
    """Return the `file:` dependencies of a package.json (tarballs or folders beside it), by the
    path the manifest gives, which must stay inside the manifest's folder."""
    import json

    try:
        doc = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{shown(manifest)} is not valid JSON ({exc}).") from None
    found: dict[str, Path] = {}
    if not isinstance(doc, dict):
        return found
    for section in ("dependencies", "optionalDependencies"):
        deps = doc.get(section)
        if not isinstance(deps, dict):
            continue
        for spec in deps.values():
            if not isinstance(spec, str) or not spec.startswith("file:"):
                continue
            rel = spec.removeprefix("file:")
            path = (manifest.parent / rel).resolve()
            if manifest.parent.resolve() not in path.parents or not path.exists():
                raise ConfigurationError(
                    f"{shown(manifest)} depends on {spec!r}, which is not a file or folder "
                    f"inside {manifest.parent}: keep local packages beside the package.json."
                )
            found[rel] = path
    return found
