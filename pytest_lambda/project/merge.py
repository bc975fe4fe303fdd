"""A function's code (or a layer's content) laid over a dependency build: `cache_dir()/tasks/<key>`.

Dependencies first, the code's own files over them, as in a deployment package: the build's
files are hard-linked (a build is immutable), the code's copied (the user may edit it later).
So the environment's code directory is one read-only mount, and two functions share one build.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
from pathlib import Path

from pytest_lambda.artifacts.cache import using
from pytest_lambda.project.builds import Build

_MERGE_RECIPE = "task-v1"


def merge(deps: Build, source: Path, source_hash: str, prefix: str) -> tuple[Path, str]:
    """Return (directory, content hash) of `source` laid over `deps` put under `prefix`.

    Files of the build are hard-linked (the build is immutable); `source`'s files are copied,
    because the user may edit them later, and win over the build's as in a deployment package.
    """
    key = hashlib.sha256("\0".join([_MERGE_RECIPE, deps.key, source_hash, prefix])
                         .encode()).hexdigest()
    with using("tasks", key) as root:  # leased to this session, safe from pruning
        return _merge(deps, source, prefix, key, root)


def _merge(deps: Build, source: Path, prefix: str, key: str, root: Path) -> tuple[Path, str]:
    if root.is_dir():
        return root, key
    staging = root.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.tmp")
    if staging.exists():
        shutil.rmtree(staging)
    target = staging / prefix if prefix else staging
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        _link_tree(deps.root, target)
        _copy_over(source, staging)
        os.chmod(staging, 0o755)
        try:
            os.rename(staging, root)
        except OSError:
            if not root.is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return root, key


def _link_tree(src: Path, dest: Path) -> None:
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    shutil.copytree(src, dest, symlinks=True, copy_function=link, dirs_exist_ok=True)


def _copy_over(src: Path, dest: Path) -> None:
    for dirpath, dirs, files in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in list(dirs):
            s, d = Path(dirpath, name), dest / rel / name
            if s.is_symlink():
                _remove_any(d)
                os.symlink(os.readlink(s), d)
                dirs.remove(name)
            elif d.is_symlink() or (d.exists() and not d.is_dir()):
                _remove_any(d)
                d.mkdir()
            else:
                d.mkdir(exist_ok=True)
        for name in files:
            s, d = Path(dirpath, name), dest / rel / name
            _remove_any(d)
            if s.is_symlink():
                os.symlink(os.readlink(s), d)
            else:
                shutil.copyfile(s, d)
                os.chmod(d, stat.S_IMODE(os.stat(s).st_mode) | 0o444)


def _remove_any(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)
