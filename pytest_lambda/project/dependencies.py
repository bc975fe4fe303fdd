"""Dependencies built the way a Lambda deployment package is built: for the function's runtime.

A function's `requirements.txt` (or `package.json`), or a `Layer(requirements=...)`'s, is
installed for the Lambda runtime and architecture it runs on, not for the test process's
interpreter. This module is the entry point (`with_code_dependencies`, `resolve_layer_values`);
the work is split by job:

- `manifests.py`: which manifest a function names, and the cache key of its build;
- `builds.py`: the cache of builds (`cache_dir()/deps/<key>`), staged, locked, renamed into place;
- `pip_install.py` and `npm_install.py`: the host's pip and npm installing for the target, with
  source builds and native addons made in the runtime's build image; `tools.py` runs them;
- `merge.py`: the code laid over a build (`cache_dir()/tasks/<key>`), as in a deployment package;
- `reporting.py`: progress lines and the session's list of builds.

A layer's dependencies go under `python/` (`nodejs/node_modules/` for Node.js), where the
runtime looks in `/opt`.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_lambda.artifacts.files import hash_tree, tree_size, unpack_zip
from pytest_lambda.config import limits as _limits
from pytest_lambda.config.packaging import Layer, Target
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.project.builds import build
from pytest_lambda.project.manifests import manifest_path
from pytest_lambda.project.merge import merge
from pytest_lambda.project.reporting import BuildRecord, Reporter, reporting_to, shown

# What the layers above use (the plugin's session reports, invoke_handler's isolation).
__all__ = [
    "BuildRecord", "Reporter", "build", "layer_prefix", "manifest_path", "reporting_to",
    "resolve_layer_values", "with_code_dependencies",
]

_SIZES: dict[str, int] = {}


def with_code_dependencies(code_dir: Path, code_hash: str, requirements: object,
                           target: Target, who: str) -> tuple[Path, str]:
    """Return (directory, hash) of a function's code with its requirements built in, or the code
    as it is without requirements."""
    manifest = manifest_path(requirements, code_dir, target, who)
    if manifest is None:
        return code_dir, code_hash
    deps = build(manifest, target, who=who)
    merged, key = merge(deps, code_dir, code_hash, "")
    size = _SIZES.get(key)
    if size is None:
        size = _SIZES[key] = tree_size(merged)  # the tree under a key never changes
    if size > _limits.UNZIPPED_CODE_MAX_BYTES:
        raise ConfigurationError(
            f"Unzipped size must be smaller than {_limits.UNZIPPED_CODE_MAX_BYTES} bytes "
            f"({who}: its code with the dependencies of {shown(manifest)} is {size} bytes; "
            f"drop dependencies, or move them to a layer)."
        )
    return merged, key


def layer_prefix(target: Target) -> str:
    """Return where a layer's dependencies go inside it (in /opt)."""
    return "nodejs" if target.family == "nodejs" else "python"


def resolve_layer_values(layers: object, target: Target, who: str) -> object:
    """Return `layers` with each `Layer` that has requirements replaced by its built directory
    (and each plain `Layer` by its path), for `_layers.resolve_layers` to check and merge."""
    if not isinstance(layers, (list, tuple)):
        return layers
    resolved: list[object] = []
    for index, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            resolved.append(layer)
            continue
        if not isinstance(layer.path, (str, os.PathLike)):
            raise ConfigurationError(
                f"layers[{index}] is a Layer whose path must be a directory or a .zip file, "
                f"not {type(layer.path).__name__}."
            )
        path = Path(layer.path).expanduser()
        if layer.requirements is None or layer.requirements is False:
            resolved.append(path)
            continue
        if path.is_file():
            source, digest = unpack_zip(path.resolve())
        elif path.is_dir():
            source, digest = path.resolve(), hash_tree(path.resolve())
        else:
            raise ConfigurationError(
                f"Layer path {str(path)!r} does not exist: pass Layer() a directory or a .zip "
                f"file (relative paths start at {os.getcwd()})."
            )
        what = f"layers[{index}] ({path.name}) of {who}"
        manifest = manifest_path(layer.requirements, source, target, what)
        assert manifest is not None
        deps = build(manifest, target, who=what)
        merged, _key = merge(deps, source, digest, layer_prefix(target))
        resolved.append(merged)
    return resolved
