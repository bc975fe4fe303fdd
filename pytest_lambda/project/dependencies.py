"""Dependencies built the way a Lambda deployment package is built: for the function's runtime.

A function's `requirements.txt` (or `package.json`) is installed for the Lambda runtime and
architecture it runs on, not for the test process's interpreter:

- Python: the host's pip installs manylinux wheels for the runtime's Python version, its machine
  and the glibc of the Amazon Linux the runtime runs on (`--platform ... --python-version ...
  --only-binary=:all:`; musllinux never, as Lambda's libc is glibc). A requirement with no such
  wheel but a source distribution is built into a wheel inside the runtime's build image
  (`_build_images`: the runtime's Debian base plus compilers and Python headers, no network),
  then installed like the others.
- Node.js: `npm ci` (with a `package-lock.json`; `npm install` without) on the host, production
  dependencies only, install scripts off; packages that compile native code are rebuilt in the
  runtime's build image.

Each build is one directory `cache_dir()/deps/<key>`, the key hashing the manifest's content (and
the files it includes, and the lock file), the runtime and the architecture: a function whose
requirements did not change finds its build, in this session or the next, and two functions with
the same requirements share one. A build runs in a staging directory under a cross-process lock
and is renamed into place when complete, so an interrupted one leaves nothing a later session
takes for a build.

The directory that the function sees is the build merged with its own code
(`cache_dir()/tasks/<key>`): dependencies first, the code's own files over them, as in a
deployment package. A layer's dependencies go under `python/` (`nodejs/node_modules/` for
Node.js), where the runtime looks in `/opt`.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pytest_lambda.artifacts.cache import using
from pytest_lambda.artifacts.files import hash_file, hash_tree, tree_size, unpack_zip
from pytest_lambda.config import limits as _limits
from pytest_lambda.config.arch import NAMES
from pytest_lambda.config.packaging import Layer, Target, python_platforms
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.system import clock as _clock
from pytest_lambda.system.children import pid_alive
from pytest_lambda.system.locks import Progress, file_lock

#: Bump when the way a build is made changes (it is part of every cache key).
RECIPE = "deps-v1"

_HEARTBEAT_S = 15.0


@dataclass
class BuildRecord:
    """One dependency build the session made or found, for the terminal summary."""

    what: str
    target: str
    manifest: str
    built: bool
    seconds: float
    packages: int


@dataclass
class Reporter:
    """Where dependency builds report: progress lines, and the session's list of builds."""

    progress: Progress = field(default=lambda line: print(line, file=sys.stderr, flush=True))
    records: list[BuildRecord] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, record: BuildRecord) -> None:
        with self.lock:
            if record.built or not any(
                r.target == record.target and r.manifest == record.manifest
                for r in self.records
            ):
                self.records.append(record)


_REPORTER: contextvars.ContextVar[Reporter | None] = contextvars.ContextVar(
    "pytest_lambda_deps_reporter", default=None
)


@contextlib.contextmanager
def reporting_to(reporter: Reporter) -> Iterator[None]:
    """Send the progress and records of builds made meanwhile (in this context) to `reporter`."""
    token = _REPORTER.set(reporter)
    try:
        yield
    finally:
        _REPORTER.reset(token)


def _reporter() -> Reporter:
    return _REPORTER.get() or Reporter()


# -- what to build -----------------------------------------------------------------------------


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


# -- building ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Build:
    """A finished dependency build: the tree to merge (packages, or node_modules/, at its top)."""

    root: Path
    key: str
    built: bool


def build(manifest: Path, target: Target, *, who: str) -> Build:
    """Return `manifest`'s dependencies built for `target`, building them if not cached.

    Raises ConfigurationError with pip's (or npm's) own message, `who` and the target when a
    requirement cannot be had for the target.
    """
    key = build_key(manifest, target)
    with using("deps", key) as root:  # leased to this session, safe from pruning
        return _build(manifest, target, who, key, root)


def _build(manifest: Path, target: Target, who: str, key: str, root: Path) -> Build:
    reporter = _reporter()
    shown = _shown(manifest)
    record = BuildRecord(who, target.describe(), shown, False, 0.0, 0)
    if (root / "tree").is_dir():
        record.packages = _count_packages(root / "tree", target)
        reporter.record(record)
        return Build(root / "tree", key, built=False)
    started = _clock.perf()
    with file_lock(root.with_name(f"{key}.lock"), reporter.progress,
                   f"pytest-lambda: waiting for another process installing {shown} for "
                   f"{target.describe()}…"):
        if (root / "tree").is_dir():
            record.packages = _count_packages(root / "tree", target)
            reporter.record(record)
            return Build(root / "tree", key, built=False)
        _sweep_staging(root)
        staging = root.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.tmp")
        staging.mkdir(parents=True)
        try:
            reporter.progress(f"pytest-lambda: installing {shown} ({who}) for "
                              f"{target.describe()}…")
            tree = staging / "tree"
            tree.mkdir()
            if target.family == "nodejs":
                _npm_build(manifest, target, tree, staging, who, reporter.progress)
            else:
                _pip_build(manifest, target, tree, staging, who, reporter.progress)
            _normalise_modes(tree)
            for leftover in [p for p in staging.iterdir() if p.name != "tree"]:
                _remove(leftover)
            os.rename(staging, root)  # atomic: the entry is complete or absent
        finally:
            if staging.exists():
                shutil.rmtree(staging, ignore_errors=True)
    record.built = True
    record.seconds = _clock.perf() - started
    record.packages = _count_packages(root / "tree", target)
    reporter.progress(f"pytest-lambda: installed {shown} for {target.describe()}: "
                      f"{record.packages} package{'' if record.packages == 1 else 's'} in "
                      f"{record.seconds:.1f} s")
    reporter.record(record)
    return Build(root / "tree", key, built=True)


def _shown(manifest: Path) -> str:
    try:
        return str(manifest.relative_to(Path.cwd()))
    except ValueError:
        return str(manifest)


def _sweep_staging(root: Path) -> None:
    """Remove staging directories of this entry left by processes that no longer run."""
    for stale in root.parent.glob(f"{root.name}.*.tmp"):
        try:
            pid = int(stale.name.split(".")[1])
        except (IndexError, ValueError):
            continue
        if pid != os.getpid() and not pid_alive(pid):
            shutil.rmtree(stale, ignore_errors=True)


def _count_packages(tree: Path, target: Target) -> int:
    if target.family == "nodejs":
        modules = tree / "node_modules"
        if not modules.is_dir():
            return 0
        count = 0
        for entry in modules.iterdir():
            if entry.name.startswith("@") and entry.is_dir():
                count += sum(1 for _ in entry.iterdir())
            elif not entry.name.startswith("."):
                count += 1
        return count
    return sum(1 for entry in tree.iterdir() if entry.name.endswith(".dist-info"))


def _normalise_modes(tree: Path) -> None:
    """Make every file readable by the function's user (Lambda's sandbox user is not the owner)."""
    for dirpath, _dirs, files in os.walk(tree):
        os.chmod(dirpath, 0o755)
        for name in files:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                mode = stat.S_IMODE(os.lstat(path).st_mode)
                os.chmod(path, mode | 0o444)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


# -- pip ---------------------------------------------------------------------------------------


class _ToolFailed(Exception):
    def __init__(self, status: int, output: str) -> None:
        super().__init__(output)
        self.status = status
        self.output = output


def _run_tool(cmd: Sequence[str], *, what: str, progress: Progress, cwd: Path | None = None,
              env: dict[str, str] | None = None) -> str:
    """Run `cmd`, saying it still runs every 15 s; return its output, raise _ToolFailed."""
    started = _clock.perf()
    with tempfile.TemporaryFile("w+", encoding="utf-8", errors="replace") as out:
        try:
            proc = subprocess.Popen(list(cmd), stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, cwd=cwd, env=env)
        except OSError as exc:
            raise _ToolFailed(127, f"cannot run {cmd[0]}: {exc}") from exc
        while True:
            try:
                proc.wait(timeout=_HEARTBEAT_S)
                break
            except subprocess.TimeoutExpired:
                progress(f"pytest-lambda: {what}: still working "
                         f"({_clock.perf() - started:.0f} s so far)")
            except BaseException:
                proc.kill()
                proc.wait()
                raise
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise _ToolFailed(proc.returncode, text)
    return text


def _pip(target: Target | None = None) -> list[str]:
    """Return the command that runs the host's pip, evaluating environment markers
    (`; python_version >= "3.12"`, `; platform_machine == "aarch64"`) for `target`.

    pip evaluates markers against the interpreter it runs on whatever `--python-version` and
    `--platform` say (pip issues 11010 and 11198), so for another target it runs under a shim
    that gives its vendored `packaging` the target's marker environment.
    """
    from pytest_lambda.images.build import _pip_command

    command = _pip_command()
    if target is None or target.host or command[:3] != [sys.executable, "-m", "pip"]:
        return command
    import json

    machine = NAMES[target.architecture].machine
    full = f"{target.python_version}.0"
    environment = {
        "implementation_name": "cpython", "implementation_version": full, "os_name": "posix",
        "platform_machine": machine, "platform_python_implementation": "CPython",
        "platform_system": "Linux", "python_full_version": full,
        "python_version": target.python_version, "sys_platform": "linux",
    }
    return [sys.executable, "-c", _MARKER_SHIM, json.dumps(environment, sort_keys=True)]


_MARKER_SHIM = """\
import json, runpy, sys
from pip._vendor.packaging import markers
target = json.loads(sys.argv.pop(1))
host = markers.default_environment
markers.default_environment = lambda: {**host(), **target}
sys.argv[0] = "pip"
runpy.run_module("pip", run_name="__main__", alter_sys=True)
"""


def _pip_errors(output: str) -> str:
    """Return pip's ERROR lines (its own message), else the last lines of its output."""
    lines = [line.strip() for line in output.splitlines()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        return " ".join(errors)
    return " ".join(line for line in lines[-8:] if line)


_NO_DISTRIBUTION = re.compile(r"No matching distribution found for (\S+)")

#: At most this many rounds of "build the requirements that have no wheel, then retry".
_SOURCE_ROUNDS = 5


def _pip_build(manifest: Path, target: Target, tree: Path, staging: Path, who: str,
               progress: Progress) -> None:
    base = [*_pip(target), "install", "--disable-pip-version-check", "--no-input", "--no-compile",
            "--no-warn-script-location", "--progress-bar=off", "--target", str(tree)]
    if target.host:
        cmd = [*base, "-r", str(manifest)]
        try:
            _run_tool(cmd, what=f"pip installing {_shown(manifest)}", progress=progress,
                      cwd=manifest.parent)
        except _ToolFailed as exc:
            raise _install_error(manifest, target, who, _pip_errors(exc.output)) from None
        return
    platforms = python_platforms(target.python_version, target.architecture)
    built = staging / "built-wheels"
    sources: list[str] = []
    for _round in range(_SOURCE_ROUNDS + 1):
        extra = []
        if sources:
            extra = ["--find-links", str(built),
                     f"--platform=linux_{NAMES[target.architecture].machine}"]
        cmd = [*base, "--only-binary=:all:", *(f"--platform={p}" for p in platforms), *extra,
               f"--python-version={target.python_version}", "--implementation=cp",
               "-r", str(manifest)]
        try:
            _run_tool(cmd, what=f"pip installing {_shown(manifest)}", progress=progress,
                      cwd=manifest.parent)
            return
        except _ToolFailed as exc:
            message = _pip_errors(exc.output)
            missing = _NO_DISTRIBUTION.search(exc.output)
            if missing is None or missing.group(1) in sources:
                raise _install_error(manifest, target, who, message) from None
            requirement = missing.group(1)
            # No wheel for the target: a source distribution builds in the runtime's build image.
            sdist = _download_sdist(requirement, staging, manifest, target, who, message,
                                    progress)
            _remove(tree)
            tree.mkdir()
            from pytest_lambda.images.builders import build_wheel

            build_wheel(sdist, built, target, who=who, progress=progress,
                        fetch_build_requirements=lambda reqs, dest: _download_wheels(
                            reqs, dest, target, platforms, progress))
            sources.append(requirement)
    raise _install_error(manifest, target, who, f"more than {_SOURCE_ROUNDS} requirements "
                         f"need building from source ({', '.join(sources)})")


def _download_sdist(requirement: str, staging: Path, manifest: Path, target: Target, who: str,
                    message: str, progress: Progress) -> Path:
    dest = staging / "sdists" / hashlib.sha256(requirement.encode()).hexdigest()[:12]
    dest.mkdir(parents=True)
    cmd = [*_pip(), "download", "--disable-pip-version-check", "--no-input", "--no-deps",
           "--no-binary=:all:", "--progress-bar=off", "-d", str(dest), requirement]
    try:
        _run_tool(cmd, what=f"pip downloading the source of {requirement}", progress=progress,
                  cwd=manifest.parent)
    except _ToolFailed:
        # Neither a wheel for the target nor a source distribution: pip's first word stands.
        raise _install_error(manifest, target, who, message) from None
    found = [p for p in dest.iterdir() if p.name.endswith((".tar.gz", ".zip", ".tar.bz2"))]
    if len(found) != 1:
        raise _install_error(manifest, target, who, message)
    progress(f"pytest-lambda: {requirement} has no wheel for {target.describe()}: building "
             f"{found[0].name} in the runtime's build image")
    return found[0]


def _download_wheels(requirements: Sequence[str], dest: Path, target: Target,
                     platforms: Sequence[str], progress: Progress) -> None:
    """Download `requirements` (a source build's build requirements) as wheels for `target`."""
    if not requirements:
        return
    cmd = [*_pip(target), "download", "--disable-pip-version-check", "--no-input",
           "--progress-bar=off", "--only-binary=:all:", *(f"--platform={p}" for p in platforms),
           f"--python-version={target.python_version}", "--implementation=cp", "-d", str(dest),
           *requirements]
    try:
        _run_tool(cmd, what="pip downloading build requirements", progress=progress)
    except _ToolFailed as exc:
        raise ConfigurationError(
            f"Cannot download the build requirements {', '.join(requirements)} for "
            f"{target.describe()}: pip says: {_pip_errors(exc.output)}"
        ) from None


def _install_error(manifest: Path, target: Target, who: str, message: str) -> ConfigurationError:
    return ConfigurationError(
        f"Cannot install the requirements of {who} ({_shown(manifest)}) for "
        f"{target.describe()}: {message.rstrip('.')}. Fix the requirement, or pick a version "
        f"that has a wheel or a source distribution for this target."
    )


# -- npm ---------------------------------------------------------------------------------------


def local_node_packages(manifest: Path) -> dict[str, Path]:
    """Return the `file:` dependencies of a package.json (tarballs or folders beside it), by the
    path the manifest gives, which must stay inside the manifest's folder."""
    import json

    try:
        doc = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{_shown(manifest)} is not valid JSON ({exc}).") from None
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
                    f"{_shown(manifest)} depends on {spec!r}, which is not a file or folder "
                    f"inside {manifest.parent}: keep local packages beside the package.json."
                )
            found[rel] = path
    return found


def _npm_build(manifest: Path, target: Target, tree: Path, staging: Path, who: str,
               progress: Progress) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ConfigurationError(
            f"Installing the dependencies of {who} ({_shown(manifest)}) needs npm on this "
            f"machine: install Node.js with npm."
        )
    shutil.copy2(manifest, tree / "package.json")
    lock = manifest.with_name("package-lock.json")
    if lock.is_file():
        shutil.copy2(lock, tree / "package-lock.json")
        cmd = [npm, "ci"]
    else:
        cmd = [npm, "install", "--no-package-lock"]
    # The user's .npmrc beside the manifest (a private registry) still applies: npm reads the
    # project's .npmrc from the prefix, so it comes along.
    npmrc = manifest.with_name(".npmrc")
    if npmrc.is_file():
        shutil.copy2(npmrc, tree / ".npmrc")
    local = local_node_packages(manifest)
    for rel, path in local.items():
        dest = tree / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        if path.is_dir():
            shutil.copytree(path, dest, symlinks=True)
        else:
            shutil.copy2(path, dest)
    cmd += ["--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error",
            "--no-update-notifier"]
    try:
        _run_tool(cmd, what=f"npm installing {_shown(manifest)}", progress=progress, cwd=tree)
    except _ToolFailed as exc:
        errors = [line.strip() for line in exc.output.splitlines()
                  if line.startswith("npm ERR!") or line.startswith("npm error")]
        message = " ".join(errors[:12]) or " ".join(exc.output.splitlines()[-8:])
        raise _install_error(manifest, target, who, message) from None
    for name in ("package.json", "package-lock.json", ".npmrc"):
        (tree / name).unlink(missing_ok=True)
    for rel, path in local.items():
        # A tarball is unpacked into node_modules; a folder stays (npm links it from there).
        if path.is_file():
            (tree / rel).unlink(missing_ok=True)
    native = native_node_packages(tree / "node_modules")
    if native:
        from pytest_lambda.images.builders import rebuild_node_modules

        rebuild_node_modules(tree / "node_modules", native, target, who=who, progress=progress)


def native_node_packages(modules: Path) -> list[str]:
    """Return the packages under `modules` that compile a native addon when installed (those
    with a `binding.gyp`), by their path relative to `modules`."""
    found: list[str] = []
    if not modules.is_dir():
        return found
    for package_json in sorted(modules.rglob("package.json")):
        package = package_json.parent
        rel = package.relative_to(modules)
        # A package's own directory: node_modules/name or node_modules/@scope/name (nested too).
        if rel.parts[-2:-1] not in ((), ("node_modules",)) and not (
            len(rel.parts) >= 2 and rel.parts[-2].startswith("@")
        ):
            continue
        # npm runs `node-gyp rebuild` for a package with a binding.gyp and no install script.
        if (package / "binding.gyp").is_file():
            found.append(rel.as_posix())
    return found


# -- merging -----------------------------------------------------------------------------------


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


# -- the entry points ---------------------------------------------------------------------------


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
            f"({who}: its code with the dependencies of {_shown(manifest)} is {size} bytes; "
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
