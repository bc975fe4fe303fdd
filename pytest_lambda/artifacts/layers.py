"""Layers: up to five directories or .zip files merged, in order, into the tree seen at /opt.

Lambda extracts a function's layers into /opt one after another, so a later layer's file
replaces an earlier one's. The harness does the same once per distinct set of layer contents:
the merged tree lives under `cache_dir()/layers/<hash of the ordered content hashes>`, built in a
staging directory and renamed into place, so parallel pytest-xdist workers never race and a
later session only re-hashes the layers (`hash_tree` memoises on sizes and mtimes).

Files from .zip layers (already unpacked into the immutable code cache) are hard-linked; files
from layer directories are copied, because the user may edit them in place later and a hard link
would change a cached tree under its own hash.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import threading
from dataclasses import dataclass
from pathlib import Path

from pytest_lambda.artifacts.cache import using
from pytest_lambda.artifacts.files import (
    hash_tree,
    locate_tree,
    tree_size,
    unpack_zip,
    unzipped_size,
)
from pytest_lambda.config import limits as _limits
from pytest_lambda.errors import ConfigurationError

#: Bump when the way a merged tree is built changes (it is part of the cache key).
_RECIPE = "layers-v1"


@dataclass(frozen=True)
class Layers:
    """The merged tree of a function's layers and the content hashes it was built from."""

    root: Path
    hashes: tuple[str, ...]


def _layer_path(layer: object, index: int) -> tuple[Path, bool]:
    """Return (resolved path, is_zip) of one layer argument, or raise ConfigurationError."""
    return locate_tree(layer, argument=f"layers[{index}]", label="Layer path",
                       wanted="pass layers= directories or .zip files",
                       neither="pass layers= directories or .zip files")


def resolve_layers(layers: object, *, code_size: int) -> Layers | None:
    """Validate `layers` as Lambda does and return their merged tree (None for no layers).

    Refuses more than `LAYERS_MAX` layers and code (`code_size` bytes unzipped) plus layers over
    `UNZIPPED_CODE_MAX_BYTES` unzipped (measured from file sizes and the .zip files' declared
    sizes, before anything is hashed or unpacked).
    """
    if layers is None:
        return None
    if isinstance(layers, (str, bytes, os.PathLike)) or not isinstance(layers, (list, tuple)):
        raise ConfigurationError(
            f"layers must be a list of directories or .zip files, not {type(layers).__name__}."
        )
    if not layers:
        return None
    if len(layers) > _limits.LAYERS_MAX:
        raise ConfigurationError(
            f"Cannot reference more than {_limits.LAYERS_MAX} layers (pass at most "
            f"{_limits.LAYERS_MAX} in layers=, merging the others into one)."
        )
    paths = [_layer_path(layer, i) for i, layer in enumerate(layers)]
    total = code_size + sum(
        unzipped_size(path) if is_zip else tree_size(path) for path, is_zip in paths
    )
    if total > _limits.UNZIPPED_CODE_MAX_BYTES:
        raise ConfigurationError(
            f"Function code combined with layers exceeds the maximum allowed size of "
            f"{_limits.UNZIPPED_CODE_MAX_BYTES} bytes. The actual size is {total} bytes "
            f"(make the code or the layers smaller)."
        )
    sources: list[tuple[Path, Path, bool]] = []  # (original, directory to merge, is_zip)
    hashes = []
    for path, is_zip in paths:
        if is_zip:
            unpacked, digest = unpack_zip(path)
            sources.append((path, unpacked, True))
            hashes.append(f"zip:{digest}")
        else:
            _check_links(path)
            sources.append((path, path, False))
            hashes.append(f"dir:{hash_tree(path)}")
    key = hashlib.sha256("\0".join([_RECIPE, *hashes]).encode()).hexdigest()
    with using("layers", key) as root:  # leased to this session, safe from pruning
        if not root.is_dir():
            _build(root, sources)
    return Layers(root=root, hashes=tuple(hashes))


def _points_outside(link_path: Path, root: Path) -> bool:
    target = os.readlink(link_path)
    if os.path.isabs(target):
        return True
    resolved = os.path.normpath(os.path.join(os.path.dirname(link_path), target))
    return resolved != str(root) and not resolved.startswith(str(root) + os.sep)


def _check_links(layer: Path) -> None:
    for dirpath, dirs, files in os.walk(layer):
        for name in (*dirs, *files):
            path = Path(dirpath, name)
            if path.is_symlink() and _points_outside(path, layer):
                raise ConfigurationError(
                    f"Layer {layer} has a symbolic link {str(path.relative_to(layer))!r} -> "
                    f"{os.readlink(path)!r} that points outside the layer: replace it with "
                    f"the file or a relative link inside the layer."
                )


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.is_symlink() or path.exists():
        path.unlink()


def _place_file(src: Path, dest: Path, link: bool) -> None:
    if link:
        try:
            os.link(src, dest)
            return
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
                raise
    shutil.copyfile(src, dest)
    mode = stat.S_IMODE(os.stat(src).st_mode)
    os.chmod(dest, mode | 0o444)  # readable by the function's user, exec bits kept


def _merge(source: Path, staging: Path, link: bool, origin: dict[str, Path],
           layer: Path) -> None:
    for dirpath, dirs, files in os.walk(source):
        rel_dir = Path(dirpath).relative_to(source)
        for name in sorted(dirs):
            src = Path(dirpath, name)
            dest = staging / rel_dir / name
            if src.is_symlink():  # os.walk lists links to directories as directories
                _remove(dest)
                os.symlink(os.readlink(src), dest)
                origin[str(rel_dir / name)] = layer
            elif not dest.is_dir() or dest.is_symlink():
                _remove(dest)
                dest.mkdir()
        dirs[:] = [d for d in dirs if not Path(dirpath, d).is_symlink()]
        for name in files:
            src = Path(dirpath, name)
            dest = staging / rel_dir / name
            _remove(dest)
            if src.is_symlink():
                os.symlink(os.readlink(src), dest)
            else:
                _place_file(src, dest, link)
            origin[str(rel_dir / name)] = layer


def _build(root: Path, sources: list[tuple[Path, Path, bool]]) -> None:
    staging = root.with_name(f"{root.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    try:
        origin: dict[str, Path] = {}
        for original, directory, is_zip in sources:
            _merge(directory, staging, is_zip, origin, original)
        target = staging.resolve()
        for dirpath, dirs, files in os.walk(staging):
            os.chmod(dirpath, 0o755)
            for name in (*dirs, *files):
                path = Path(dirpath, name)
                if not path.is_symlink():
                    continue
                resolved = path.resolve()
                if resolved != target and target not in resolved.parents:
                    rel = str(path.relative_to(staging))
                    raise ConfigurationError(
                        f"Layer {origin.get(rel, '?')} has a symbolic link {rel!r} -> "
                        f"{os.readlink(path)!r} that points outside /opt once the layers are "
                        f"merged: replace it with the file or a link inside /opt."
                    )
        try:
            os.rename(staging, root)  # atomic: parallel workers race harmlessly
        except OSError:
            if not root.is_dir():
                raise
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)

