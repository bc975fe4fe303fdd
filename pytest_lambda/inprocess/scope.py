"""What one in-process "execution environment" sees of the test process: its own modules.

A handler given to `invoke_handler` as a ``"module.function"`` string is imported once per
distinct configuration, as Lambda starts a new execution environment (and imports the handler
again) for each. All of them share one interpreter, so a `Scope` keeps each environment's modules
apart:

- The function's own modules are the handler's top-level package and every module loaded from its
  code directory or its layers (for a handler found on `sys.path`, its directory, the task root).
  While the environment imports or runs, they are in `sys.modules` (a copy the test process
  imported from the same place, or of the handler's package, is set aside); afterwards they
  leave `sys.modules` again and live on only in the environment, so the next environment imports
  its own copies and the test's own imports are untouched.
- A package of the function's code or layers that holds a compiled extension module (NumPy,
  pydantic-core) is loaded once per process and shared by every environment of that code, as
  such a module can be initialised only once in a process; its module globals are not new in a
  new environment. The handler's own pure-Python modules always are.
- Everything else the import brings in (the standard library, the test environment's
  site-packages) is the process's: imported once and shared, because a compiled extension cannot
  be loaded twice into one process. What the function's import does to such a module (X-Ray's
  `patch_all()` patching botocore) therefore stays for the rest of the session.
- `sys.path`, `sys.meta_path` and `sys.path_hooks` are put back exactly after the import and after
  each invocation, with the function's directories in front while it runs, in Lambda's order: the
  task root, then the layers' `python/lib/pythonX.Y/site-packages` and `python`.
"""

from __future__ import annotations

import functools
import importlib
import importlib.machinery
import os
import site
import sys
import sysconfig
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any


def _below(path: str, roots: tuple[str, ...]) -> bool:
    return any(path == root or path.startswith(root + os.sep) for root in roots)


@functools.cache
def _shared_roots() -> tuple[str, ...]:
    """Return the directories whose modules always belong to the process: the interpreter's
    and the environment's (a virtualenv inside a project is not the project's code)."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, *site.getsitepackages()}
    with_user = getattr(site, "getusersitepackages", None)
    if with_user is not None:
        roots.add(with_user())
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    return tuple(sorted(os.path.realpath(r) for r in roots if r))


#: Real paths of module files, by the path a module names (resolved once per process).
_real: dict[str, str] = {}

#: Packages of functions' code and layers that hold a compiled extension module, by the real
#: path of the package (or module): all their modules. One process can initialise such a module
#: only once (NumPy refuses a second time, and re-running its Python half against the loaded
#: one fails), so every environment whose code holds that path shares these modules.
_compiled: dict[str, dict[str, ModuleType]] = {}


def _module_file(module: object) -> str | None:
    path = getattr(module, "__file__", None)
    if not isinstance(path, str):
        spec = getattr(module, "__spec__", None)
        locations = getattr(spec, "submodule_search_locations", None)
        path = next(iter(locations), None) if locations else None
    if not isinstance(path, str):
        return None
    real = _real.get(path)
    if real is None:
        real = _real[path] = os.path.realpath(path)
    return real


def _is_extension(path: str) -> bool:
    return path.endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES))


def _package_path(module: object) -> str | None:
    """Return the real path of a top-level module: its folder for a package, else its file."""
    path = _module_file(module)
    if path is not None and os.path.basename(path).startswith("__init__."):
        return os.path.dirname(path)
    return path


@dataclass
class Scope:
    """One environment's view of the process: its search paths and its own modules."""

    #: The handler module's top-level package name: always the function's own.
    package: str
    #: Directories put in front of `sys.path` while the environment imports or runs.
    paths: tuple[str, ...] = ()
    #: Directories whose modules are the function's own (its code and layers).
    roots: tuple[str, ...] = ()
    #: The function's own modules, out of `sys.modules` between invocations.
    modules: dict[str, ModuleType] = field(default_factory=dict)
    #: Directories whose modules are the process's even below `roots` (a virtualenv inside the
    #: project); a directory of the interpreter's that holds one of `roots` does not count.
    shared: tuple[str, ...] = field(default=(), repr=False)
    #: What the environment itself added to `sys.path` and `sys.meta_path` (put back at each
    #: activation, in front of or behind the process's entries as it put them).
    _added: dict[str, tuple[list[Any], list[Any]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.roots = tuple(os.path.realpath(r) for r in self.roots)
        self.shared = tuple(s for s in _shared_roots()
                            if not any(_below(root, (s,)) for root in self.roots))

    def owns(self, name: str, module: object) -> bool:
        """Whether module `name` is the function's own (see the module docstring)."""
        if name == self.package or name.startswith(self.package + "."):
            return True
        if not self.roots:
            return False
        path = _module_file(module)
        return path is not None and _below(path, self.roots) and not _below(path, self.shared)

    @contextmanager
    def active(self) -> Iterator[None]:
        """Make this environment's modules and paths the process's meanwhile; then put the
        process's back and keep what the environment imported of its own."""
        saved_path, saved_meta = list(sys.path), list(sys.meta_path)
        saved_hooks = list(sys.path_hooks)
        front, back = self._added.get("path", ([], []))
        meta_front, meta_back = self._added.get("meta_path", ([], []))
        # The compiled packages of this code that an environment loaded already: shared.
        compiled: dict[str, ModuleType] = {}
        if self.roots:
            for path, modules in _compiled.items():
                if _below(path, self.roots):
                    compiled.update(modules)
        mine = {**compiled, **self.modules}
        set_aside: dict[str, ModuleType] = {}
        for name, module in list(sys.modules.items()):
            if name in mine or self.owns(name, module):
                set_aside[name] = module
                del sys.modules[name]
        before = dict(sys.modules)
        sys.modules.update(mine)
        sys.path[:] = [*self.paths, *front, *saved_path, *back]
        sys.meta_path[:] = [*meta_front, *saved_meta, *meta_back]
        importlib.invalidate_caches()
        try:
            yield
        finally:
            present = sys.modules.copy()
            # A module of the environment that its own code removed from sys.modules is gone.
            for name in [n for n in self.modules if n not in present]:
                del self.modules[name]
            own = {name: module for name, module in present.items()
                   if before.get(name) is not module
                   and (name in mine or self.owns(name, module))}
            for name in own:
                del sys.modules[name]
            self._keep(own, present)
            sys.modules.update(set_aside)
            self._added["path"] = _additions(sys.path, [*self.paths, *saved_path])
            self._added["meta_path"] = _additions(sys.meta_path, saved_meta)
            sys.path[:] = saved_path
            sys.meta_path[:] = saved_meta
            sys.path_hooks[:] = saved_hooks

    def _keep(self, own: dict[str, ModuleType], present: dict[str, ModuleType]) -> None:
        """File the environment's own modules: a top-level package that holds a compiled module
        under `_compiled` (for every environment of this code), the others in this scope."""
        compiled_tops = {name.partition(".")[0] for name, module in own.items()
                         if (path := _module_file(module)) is not None and _is_extension(path)}
        for path, modules in _compiled.items():
            if _below(path, self.roots):
                compiled_tops.update(name.partition(".")[0] for name in modules)
        for name, module in own.items():
            top = name.partition(".")[0]
            where = _package_path(present.get(top)) if top in compiled_tops else None
            if where is not None:
                _compiled.setdefault(where, {})[name] = module
                self.modules.pop(name, None)
            else:
                self.modules[name] = module


def _additions(current: list[Any], process: list[Any]) -> tuple[list[Any], list[Any]]:
    """Return the entries of `current` not in `process`: those before its first entry that is,
    and the others."""
    front: list[Any] = []
    back: list[Any] = []
    seen_process = False
    for entry in current:
        if any(entry is p or entry == p for p in process):
            seen_process = True
        else:
            (back if seen_process else front).append(entry)
    return front, back


@dataclass(frozen=True)
class Located:
    """Where a handler string's function lives: its code and its layers."""

    package: str
    #: The directory Lambda would name in LAMBDA_TASK_ROOT, if known.
    task_root: str | None
    #: Directories in front of `sys.path` (the code, then the layers' Python directories).
    paths: tuple[str, ...]
    #: Directories whose modules are the function's own.
    roots: tuple[str, ...]
    #: What identifies the code's and the layers' contents in an environment's configuration.
    identity: tuple[object, ...]

    def new_scope(self) -> Scope:
        """Return an empty scope for a new environment of this function."""
        return Scope(self.package, paths=self.paths, roots=self.roots)


def locate(handler: str, code: object, layers: object,
           find_task_root: Callable[[str], str | None], requirements: object = None) -> Located:
    """Validate `code` and `layers` as `lambda_function` does and return where `handler` lives.

    Without `code`, the handler is found on `sys.path` as before (`find_task_root`): its
    directory is the function's unless it is the interpreter's or the environment's (an installed
    package, where only the package itself is), and its module file's size and modification time
    stand for its contents.
    """
    from pytest_lambda.artifacts.files import (
        check_unzipped_size,
        code_size,
        locate_code,
        materialise,
    )
    from pytest_lambda.artifacts.layers import resolve_layers

    package = handler.rpartition(".")[0].replace("/", ".").partition(".")[0]
    paths: tuple[str, ...] = ()
    roots: tuple[str, ...] = ()
    identity: list[object] = []
    size = 0  # the code's unzipped size, which the layers' limit counts (none: found on sys.path)
    if code is not None:
        # Sizes are checked before anything is unpacked, as lambda_function(...) does.
        code_path, is_zip = locate_code(code)
        size = code_size(code_path, is_zip)
        check_unzipped_size(size)
    who = f"invoke_handler({handler!r})"
    if isinstance(layers, (list, tuple)) and layers:
        # A Layer with requirements becomes a directory holding its packages for this Python.
        from pytest_lambda.config import packaging
        from pytest_lambda.project import dependencies as _deps

        layers = _deps.resolve_layer_values(layers, packaging.host_target(), who)
    merged = resolve_layers(layers, code_size=size)
    if code is not None:
        code_dir, code_hash = materialise(code_path, is_zip)
        task_root: str | None = str(code_dir)
        paths = roots = (str(code_dir),)
        identity.append(("code", code_hash))
    else:
        task_root = find_task_root(handler)
        if task_root is not None and not _below(os.path.realpath(task_root), _shared_roots()):
            roots = (task_root,)
        identity.append(("found", task_root, _stamp(task_root, package)))
    if requirements is not None:
        # Dependencies for this interpreter, in a cached directory of their own: on the path
        # after the code (whose files win) only while the function imports or runs.
        from pytest_lambda.config import packaging
        from pytest_lambda.project import dependencies as _deps

        target = packaging.host_target()
        base = Path(code_dir if code is not None else (task_root or os.getcwd()))
        manifest = _deps.manifest_path(requirements, base, target, who)
        if manifest is not None:
            deps = _deps.build(manifest, target, who=who)
            paths += (str(deps.root),)
            roots += (str(deps.root),)
            identity.append(("requirements", deps.key))
    if merged is not None:
        version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
        python = merged.root / "python"
        paths += (str(python / "lib" / version / "site-packages"), str(python))
        roots += (str(merged.root),)
        identity.append(("layers", merged.hashes))
    return Located(package, task_root, paths, roots, tuple(identity))


def _stamp(task_root: str | None, package: str) -> tuple[object, ...]:
    """Return the size and modification time of a found handler package's file or folder."""
    if task_root is None:
        return ()
    for candidate in (os.path.join(task_root, package + ".py"),
                      os.path.join(task_root, package, "__init__.py")):
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        return (candidate, st.st_size, st.st_mtime_ns)
    return ()
