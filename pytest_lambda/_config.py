"""A function's configuration, validated the way Lambda's CreateFunction validates it.

Every check reads its numbers from `_limits`; messages use Lambda's own wording where Lambda has
one, followed by how to fix the call.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import stat
import threading
import time
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _aws, _limits
from ._arch import host_architecture, require_host_can_run, validate_architecture
from ._errors import ConfigurationError
from ._runtimes import Runtime, get_runtime

if TYPE_CHECKING:
    from ._image_function import ImageSpec

#: Keys Lambda sets itself and refuses in a function's environment.
RESERVED_ENVIRONMENT_KEYS = frozenset(
    {
        "_HANDLER",
        "_X_AMZN_TRACE_ID",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_EXECUTION_ENV",
        "AWS_LAMBDA_FUNCTION_NAME",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        "AWS_LAMBDA_FUNCTION_VERSION",
        "AWS_LAMBDA_INITIALIZATION_TYPE",
        "AWS_LAMBDA_LOG_GROUP_NAME",
        "AWS_LAMBDA_LOG_STREAM_NAME",
        "AWS_ACCESS_KEY",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_LAMBDA_RUNTIME_API",
        "LAMBDA_TASK_ROOT",
        "LAMBDA_RUNTIME_DIR",
    }
)

_ENV_KEY_RE = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_])+$")
_FUNCTION_NAME_RE = re.compile(r"^[a-zA-Z0-9_-]+$")
_FUNCTION_NAME_PATTERN = (
    r"(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d{1}:)?(\d{12}:)?"
    r"(function:)?([a-zA-Z0-9-_]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?"
)


def _range_error(field_name: str, value: object, low: int, high: int, hint: str) -> str:
    bound = (
        f"greater than or equal to {low}"
        if isinstance(value, int) and value < low
        else f"less than or equal to {high}"
    )
    return (
        f"1 validation error detected: Value '{value}' at '{field_name}' failed to satisfy "
        f"constraint: Member must have value {bound} ({hint})."
    )


def _check_int(field_name: str, value: object, low: int, high: int, hint: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(
            f"{field_name} must be a whole number, not {value!r} ({hint})."
        )
    if not low <= value <= high:
        raise ConfigurationError(_range_error(field_name, value, low, high, hint))
    return value


def validate_memory_size(value: object) -> int:
    """Return `value` if Lambda accepts it as MemorySize (MB), else raise ConfigurationError."""
    return _check_int(
        "memorySize", value, _limits.MEMORY_MIN_MB, _limits.MEMORY_MAX_MB,
        f"pass memory_size= between {_limits.MEMORY_MIN_MB} and {_limits.MEMORY_MAX_MB} MB",
    )


def validate_timeout(value: object) -> int:
    """Return `value` if Lambda accepts it as Timeout (seconds), else raise ConfigurationError."""
    return _check_int(
        "timeout", value, _limits.TIMEOUT_MIN_S, _limits.TIMEOUT_MAX_S,
        f"pass timeout= between {_limits.TIMEOUT_MIN_S} and {_limits.TIMEOUT_MAX_S} seconds",
    )


def validate_ephemeral_storage(value: object) -> int:
    """Return `value` if Lambda accepts it as EphemeralStorage.Size (MB)."""
    return _check_int(
        "ephemeralStorage.size", value, _limits.EPHEMERAL_STORAGE_MIN_MB,
        _limits.EPHEMERAL_STORAGE_MAX_MB,
        f"pass ephemeral_storage= between {_limits.EPHEMERAL_STORAGE_MIN_MB} and "
        f"{_limits.EPHEMERAL_STORAGE_MAX_MB} MB",
    )


def validate_function_name(name: object) -> str:
    """Return `name` if Lambda accepts it as a function name."""
    if not isinstance(name, str) or not name:
        raise ConfigurationError(f"Function name must be a non-empty string, not {name!r}.")
    shown = name if name.isprintable() else repr(name)[1:-1]
    if len(name) > _limits.FUNCTION_NAME_MAX_LEN:
        raise ConfigurationError(
            f"1 validation error detected: Value '{shown}' at 'functionName' failed to satisfy "
            f"constraint: Member must have length less than or equal to "
            f"{_limits.FUNCTION_NAME_MAX_LEN} (pass a shorter name=)."
        )
    if not _FUNCTION_NAME_RE.fullmatch(name):
        raise ConfigurationError(
            f"1 validation error detected: Value '{shown}' at 'functionName' failed to satisfy "
            f"constraint: Member must satisfy regular expression pattern: "
            f"{_FUNCTION_NAME_PATTERN} (use only letters, digits, '-' and '_' in name=)."
        )
    return name


def validate_handler(handler: object, *, custom_runtime: bool = False) -> str:
    """Return `handler` if it names a module and a function (`module.function`).

    A custom runtime's handler is any string without whitespace (Lambda's pattern): the
    function's own bootstrap reads `_HANDLER` as it likes.
    """
    if not isinstance(handler, str) or not handler or any(c.isspace() for c in handler):
        example = "'function.handler' or 'bootstrap'" if custom_runtime else "'app.handler'"
        raise ConfigurationError(
            f"Handler {handler!r} is not valid: pass a handler without spaces, for example "
            f"{example}." if custom_runtime else
            f"Handler {handler!r} is not valid: pass 'module.function', for example {example}."
        )
    if "\0" in handler:
        # Lambda hands the handler to the runtime in _HANDLER, and no environment variable
        # (nor argument) can carry a NUL.
        raise ConfigurationError(
            f"Handler {handler!r} contains a NUL character, which no environment variable can "
            f"carry: remove it from the handler."
        )
    if len(handler) > _limits.HANDLER_MAX_LEN:
        raise ConfigurationError(
            f"1 validation error detected: Value '{handler}' at 'handler' failed to satisfy "
            f"constraint: Member must have length less than or equal to "
            f"{_limits.HANDLER_MAX_LEN} (pass a shorter handler: rename the module or function)."
        )
    if custom_runtime:
        return handler
    module, dot, function = handler.rpartition(".")
    if dot and module and not function:
        raise ConfigurationError(
            f"Handler {handler!r} has no function: pass 'module.function', for example "
            f"'app.handler' for the function handler in app.py."
        )
    if not dot or not module:
        raise ConfigurationError(
            f"Handler {handler!r} has no module: pass 'module.function', for example "
            f"'app.handler' for the function handler in app.py."
        )
    return handler


def validate_environment(environment: Mapping[str, object] | None) -> dict[str, str]:
    """Return the user's variables as strings if Lambda accepts them."""
    if environment is None:
        return {}
    if not isinstance(environment, Mapping):
        raise ConfigurationError(
            f"environment must be a dict of variable names to strings, not "
            f"{type(environment).__name__}."
        )
    result: dict[str, str] = {}
    for key, value in environment.items():
        if not isinstance(key, str) or not _ENV_KEY_RE.fullmatch(key):
            raise ConfigurationError(
                f"1 validation error detected: Value at 'environment.variables' failed to "
                f"satisfy constraint: Map keys must satisfy constraint: [Member must satisfy "
                f"regular expression pattern: [a-zA-Z]([a-zA-Z0-9_])+] (rename {key!r})."
            )
        if not isinstance(value, str):
            raise ConfigurationError(
                f"Environment variable {key} must be a string, not {type(value).__name__}: "
                f"Lambda stores variables as strings (pass str(value))."
            )
        if "\0" in value:
            raise ConfigurationError(
                f"Environment variable {key} contains a NUL character, which no environment "
                f"variable can carry: remove it from the value."
            )
        result[key] = value
    reserved = sorted(k for k in result if k in RESERVED_ENVIRONMENT_KEYS)
    if reserved:
        raise ConfigurationError(
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not supported "
            f"for modification. Reserved keys used in this request: {', '.join(reserved)}"
        )
    measured = json.dumps(result, separators=(",", ":"))
    if len(measured.encode()) > _limits.ENVIRONMENT_MAX_BYTES:
        raise ConfigurationError(
            "Lambda was unable to configure your environment variables because the environment "
            f"variables you have provided exceeded the 4KB limit. String measured: {measured}"
        )
    return result


# -- code ------------------------------------------------------------------------------------

_HASH_CACHE: dict[str, str] = {}
_HASH_LOCK = threading.Lock()
#: A file changed less than this long ago may change again within its mtime's resolution, so a
#: digest computed now is not written down for later sessions (git's "racy clean" problem).
_RACY_NS = 2_000_000_000

#: Per file: (relative path, size, mtime, mode, inode, ctime), what git's index compares. The
#: inode and ctime matter: `cp -p`, `rsync -a` and reproducible builds rewrite a file with its
#: old size and mtime, but nothing but the kernel sets ctime, and a replaced file is a new inode.
Fingerprint = tuple[tuple[str, int, int, int, int, int], ...]


def _stat_key(rel: str, st: os.stat_result) -> tuple[str, int, int, int, int, int]:
    return (rel, st.st_size, st.st_mtime_ns, st.st_mode, st.st_ino, st.st_ctime_ns)


def _tree_fingerprint(root: Path) -> Fingerprint:
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if name.endswith(".pyc"):
                continue
            path = Path(dirpath, name)
            entries.append(_stat_key(str(path.relative_to(root)), path.lstat()))
    return tuple(entries)


def _remembered(kind: str, root: Path, fingerprint: Fingerprint, compute: Callable[[], str]) -> str:
    """Return `compute()` for content described by `fingerprint`, remembered across sessions.

    Content whose paths, sizes, modification and change times, modes and inodes are unchanged
    is taken to be unchanged, as git's index takes it: the digest is memoised in this process
    and written under `cache_dir()/digests`, so a later session pays one `lstat` per file
    instead of reading the bytes. Digests of files changed in the last two seconds (by mtime or
    ctime, whichever is later) are kept in this process only: a change within a timestamp's
    granularity could otherwise go unseen.
    """
    key = hashlib.sha256(repr((kind, str(root), fingerprint)).encode()).hexdigest()
    with _HASH_LOCK:
        cached = _HASH_CACHE.get(key)
    if cached:
        return cached
    record = cache_dir() / "digests" / key[:2] / key
    try:
        value = record.read_text().strip()
    except OSError:
        value = ""
    if len(value) != 64:
        value = compute()
        newest = max((max(entry[2], entry[5]) for entry in fingerprint), default=0)
        if time.time_ns() - newest > _RACY_NS:
            with contextlib.suppress(OSError):
                record.parent.mkdir(parents=True, exist_ok=True)
                staging = record.with_name(f"{key}.{os.getpid()}.{threading.get_ident()}.tmp")
                staging.write_text(value)
                os.replace(staging, record)
    with _HASH_LOCK:
        _HASH_CACHE[key] = value
    return value


def hash_tree(root: Path) -> str:
    """Return a content hash of a directory (paths, modes and bytes; `__pycache__` ignored).

    Remembered on the files' sizes, times, modes and inodes (see `_remembered`): a test suite that
    makes many functions from one directory reads its files once, and a later session not at all.
    """
    fingerprint = _tree_fingerprint(root)

    def compute() -> str:
        digest = hashlib.sha256()
        for rel, _size, _mtime, mode, _ino, _ctime in fingerprint:
            path = root / rel
            digest.update(rel.encode() + b"\0" + oct(stat.S_IMODE(mode) & 0o111).encode() + b"\0")
            if stat.S_ISLNK(mode):
                digest.update(b"link:" + os.readlink(path).encode())
            else:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        digest.update(block)
            digest.update(b"\0")
        return digest.hexdigest()

    return _remembered("tree", root, fingerprint, compute)


def hash_file(path: Path) -> str:
    """Return the SHA-256 of a file's bytes, remembered on its size, times, mode and inode."""
    st = path.stat()

    def compute() -> str:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()

    return _remembered("file", path.resolve(), (_stat_key("", st),), compute)


def cache_dir() -> Path:
    """Return the harness's cache directory (`PYTEST_LAMBDA_CACHE_DIR`, else ~/.cache)."""
    base = os.environ.get("PYTEST_LAMBDA_CACHE_DIR")
    if base:
        return Path(base)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return Path(xdg) / "pytest-lambda" if xdg else Path.home() / ".cache" / "pytest-lambda"


def safe_extract(archive: Path, target: Path, *, budget: int | None = None) -> None:
    """Unpack a .zip into `target`, refusing entries that would land outside it.

    Unix permission bits stored in the archive survive; symbolic links are recreated only when
    they point inside the target. At most `budget` bytes are written (by default, what the
    archive declares): an archive whose entries hold more than their declared sizes is refused
    part-way, as is one whose data does not match its checksums.
    """
    if budget is None:
        budget = unzipped_size(archive)
    try:
        _extract(archive, target.resolve(), budget)
    except (RuntimeError, OSError, zipfile.BadZipFile, EOFError) as exc:
        # links in a loop, a file where a directory goes, data that is not what it says
        if isinstance(exc, OSError) and exc.errno not in _ARCHIVE_ERRNOS:
            raise
        raise ConfigurationError(
            f"{archive} cannot be unpacked ({exc}): rebuild the archive without looping "
            f"symbolic links, entries that clash or damaged entries."
        ) from None


def unzipped_size(archive: Path) -> int:
    """Return the bytes a .zip declares it unpacks to (the sum of its entries' sizes)."""
    try:
        with zipfile.ZipFile(archive) as zf:
            return sum(info.file_size for info in zf.infolist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise ConfigurationError(
            f"{archive} cannot be read as a .zip file ({exc}): rebuild the archive."
        ) from None


def tree_size(root: Path) -> int:
    """Return the bytes of the regular files under `root` (symbolic links not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            st = os.lstat(os.path.join(dirpath, name))
            if stat.S_ISREG(st.st_mode):
                total += st.st_size
    return total


def check_unzipped_size(code_size: int) -> None:
    """Refuse code that unpacks to more than Lambda's limit for code and layers together."""
    if code_size > _limits.UNZIPPED_CODE_MAX_BYTES:
        raise ConfigurationError(
            f"Unzipped size must be smaller than {_limits.UNZIPPED_CODE_MAX_BYTES} bytes. The "
            f"actual size is {code_size} bytes (make the code smaller: leave out test files and "
            f"packages the runtime already has, or move dependencies into layers or a container "
            f"image)."
        )


_ARCHIVE_ERRNOS = frozenset({errno.ELOOP, errno.ENOTDIR, errno.EEXIST, errno.EISDIR})


def _extract(archive: Path, target: Path, budget: int) -> None:
    written = 0
    with zipfile.ZipFile(archive) as zf:
        for info in zf.infolist():
            name = info.filename
            dest = (target / name).resolve()
            if name.startswith(("/", "\\")) or (dest != target and target not in dest.parents):
                raise ConfigurationError(
                    f"{archive} has an entry {name!r} that points outside the directory it is "
                    f"unpacked into: rebuild the archive with relative paths."
                )
            mode = info.external_attr >> 16
            if stat.S_ISLNK(mode):
                link = zf.read(info).decode()
                resolved = (dest.parent / link).resolve()
                if os.path.isabs(link) or (resolved != target and target not in resolved.parents):
                    raise ConfigurationError(
                        f"{archive} has a symbolic link {name!r} -> {link!r} that points outside "
                        f"the directory it is unpacked into: rebuild the archive without it."
                    )
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.symlink(link, dest)
                continue
            if info.is_dir():
                dest.mkdir(parents=True, exist_ok=True)
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            with zf.open(info) as src, open(dest, "wb") as out:
                while block := src.read(1 << 20):
                    written += len(block)
                    if written > budget:  # declared sizes can lie; the bytes written cannot
                        raise ConfigurationError(
                            f"{archive} unpacks to more than the {budget} bytes it declares: "
                            f"rebuild the archive."
                        )
                    out.write(block)
            perms = stat.S_IMODE(mode) if mode else 0o644
            os.chmod(dest, perms | 0o444)
    for dirpath, dirs, files in os.walk(target):
        os.chmod(dirpath, 0o755)
        for entry in (*dirs, *files):
            path = Path(dirpath, entry)
            resolved = path.resolve()
            if path.is_symlink() and resolved != target and target not in resolved.parents:
                name = str(path.relative_to(target))
                raise ConfigurationError(
                    f"{archive} has a symbolic link {name!r} -> {os.readlink(path)!r} that "
                    f"points outside the directory it is unpacked into: rebuild the archive "
                    f"without it."
                )


def unpack_zip(archive: Path) -> tuple[Path, str]:
    """Return (directory, hash) of a .zip unpacked into the cache, unpacking it if needed.

    Callers check `unzipped_size` against Lambda's limits first; extraction writes no more than
    that, and a refused archive leaves nothing in the cache.
    """
    from ._cache import using  # it imports this module

    digest = hash_file(archive)
    with using("code", digest) as root:  # leased to this session, safe from pruning
        if root.is_dir():
            return root, digest
        declared = unzipped_size(archive)
        staging = root.with_name(f"{digest}.{os.getpid()}.{threading.get_ident()}.tmp")
        staging.mkdir(parents=True, exist_ok=True)
        try:
            safe_extract(archive, staging, budget=declared)
            try:
                os.rename(staging, root)  # atomic: parallel workers race harmlessly
            except OSError:
                if not root.is_dir():
                    raise
        finally:
            if staging.exists():
                import shutil

                shutil.rmtree(staging, ignore_errors=True)
    return root, digest


def locate_code(code: object) -> tuple[Path, bool]:
    """Return (resolved path, is_zip) of a `code=` argument, or raise ConfigurationError."""
    if not isinstance(code, (str, os.PathLike)):
        raise ConfigurationError(
            f"code must be a path to a directory or a .zip file, not {type(code).__name__}."
        )
    path = Path(code).expanduser()
    try:
        exists = path.exists()
    except OSError:  # e.g. a name too long to stat
        exists = False
    if not exists:
        raise ConfigurationError(
            f"Code path {str(path)!r} does not exist: pass code= a directory or a .zip file "
            f"with the function's code (relative paths start at {os.getcwd()})."
        )
    path = path.resolve()
    if path.is_dir():
        return path, False
    if zipfile.is_zipfile(path):
        return path, True
    raise ConfigurationError(
        f"Code path {str(path)!r} is neither a directory nor a .zip file: pass code= one of those."
    )


def code_size(path: Path, is_zip: bool) -> int:
    """Return the bytes code unpacks to: a .zip's declared sizes, a directory's files."""
    return unzipped_size(path) if is_zip else tree_size(path)


def resolve_code(code: object) -> tuple[Path, str]:
    """Return (directory to mount at /var/task, content hash) for a directory or a .zip.

    Code that unpacks to more than Lambda's limit is refused before anything is unpacked.
    """
    path, is_zip = locate_code(code)
    check_unzipped_size(code_size(path, is_zip))
    return materialise(path, is_zip)


def materialise(path: Path, is_zip: bool) -> tuple[Path, str]:
    """Return (directory, content hash) of located code, unpacking a .zip into the cache."""
    return unpack_zip(path) if is_zip else (path, hash_tree(path))


@dataclass(frozen=True)
class FunctionConfig:
    """A validated function configuration; equal configurations share warm environments."""

    handler: str
    #: None for a container-image function, whose image carries its runtime.
    runtime: Runtime | None
    #: The code mounted at /var/task; None for a container-image function.
    code_dir: Path | None
    #: The code's content hash, or a container-image function's image id.
    code_hash: str
    name: str
    memory_size: int = _limits.MEMORY_DEFAULT_MB
    timeout: int = _limits.TIMEOUT_DEFAULT_S
    ephemeral_storage: int = _limits.EPHEMERAL_STORAGE_DEFAULT_MB
    environment: tuple[tuple[str, str], ...] = ()
    region: str = _aws.DEFAULT_REGION
    account_id: str = _aws.DEFAULT_ACCOUNT_ID
    extra: tuple[tuple[str, Any], ...] = field(default=())
    #: Content hashes of the layers, in order; `opt_dir` is their merged tree (None: no layers).
    layers: tuple[str, ...] = ()
    opt_dir: Path | None = None
    #: What a container-image function (`image=`) runs; None for code and a runtime.
    image: ImageSpec | None = None
    architecture: str = "x86_64"
    #: "isolated" (the plugin's own servers only) or "open" (outbound allowed).
    network: str = "isolated"

    @property
    def runtime_name(self) -> str:
        """Return the runtime's name, or "image" for a container-image function."""
        return self.runtime.name if self.runtime is not None else "image"

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)

    @property
    def arn(self) -> str:
        return _aws.function_arn(self.name, self.region, self.account_id)

    def pool_key(self) -> str:
        """Return the key under which warm environments of this configuration are kept."""
        parts = [
            self.handler, self.runtime_name, str(self.code_dir), self.code_hash, self.name,
            str(self.memory_size), str(self.timeout), str(self.ephemeral_storage),
            repr(self.environment), self.region, self.account_id, repr(self.extra),
            repr(self.layers), str(self.opt_dir), repr(self.image), self.architecture,
            self.network,
        ]
        return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def default_function_name(handler: str, runtime: str, code_hash: str) -> str:
    """Return a readable name that is stable for one handler, runtime and code."""
    stem = re.sub(r"[^a-zA-Z0-9_-]+", "-", handler).strip("-") or "function"
    suffix = hashlib.sha256(f"{runtime}\0{code_hash}".encode()).hexdigest()[:8]
    return f"{stem[: _limits.FUNCTION_NAME_MAX_LEN - 9]}-{suffix}"


def build_config(
    handler: object = None,
    *,
    code: object = None,
    runtime: object = None,
    image: object = None,
    command: object = None,
    entry_point: object = None,
    working_directory: object = None,
    architecture: object = None,
    memory_size: object = _limits.MEMORY_DEFAULT_MB,
    timeout: object = _limits.TIMEOUT_DEFAULT_S,
    ephemeral_storage: object = _limits.EPHEMERAL_STORAGE_DEFAULT_MB,
    environment: Mapping[str, object] | None = None,
    name: object = None,
    region: object = _aws.DEFAULT_REGION,
    account_id: object = _aws.DEFAULT_ACCOUNT_ID,
    layers: object = None,
    requirements: object = None,
    _host_dependencies: bool = False,
    network: object = "isolated",
    **more: Any,
) -> FunctionConfig:
    """Validate every argument of `lambda_function(...)` and return the configuration.

    `requirements` are built for the runtime and architecture (`_deps`), or for this host's
    Python when `_host_dependencies` (the process backend runs Python functions on it).
    """
    if more:
        unknown = ", ".join(sorted(more))
        raise ConfigurationError(
            f"lambda_function() got unknown keyword argument(s) {unknown}: see "
            f"`pytest --fixtures` for the ones it takes."
        )
    arch = validate_architecture(architecture) if architecture is not None else None
    common: dict[str, Any] = {
        "memory_size": validate_memory_size(memory_size),
        "timeout": validate_timeout(timeout),
        "ephemeral_storage": validate_ephemeral_storage(ephemeral_storage),
        "environment": tuple(sorted(validate_environment(environment).items())),
        "region": validate_region(region),
        "account_id": validate_account_id(account_id),
        "network": validate_network(network),
    }
    fn_name = None if name is None else validate_function_name(name)
    if image is not None:
        from ._image_function import default_image_function_name, resolve_image_function

        for given, what in ((code, "code="), (runtime, "runtime="), (layers, "layers="),
                            (requirements, "requirements=")):
            if given is not None:
                raise ConfigurationError(
                    f"A container-image function takes no {what}: its image carries its code, "
                    f"runtime and dependencies (Lambda does not support layers for images)."
                )
        spec = resolve_image_function(
            image, handler=handler, command=command, entry_point=entry_point,
            working_directory=working_directory, architecture=arch,
        )
        return FunctionConfig(
            handler=spec.command[0] if spec.command else "",
            runtime=None,
            code_dir=None,
            code_hash=spec.image_id,
            name=fn_name or default_image_function_name(spec),
            image=spec,
            architecture=spec.architecture,
            **common,
        )
    for given, what in ((command, "command="), (entry_point, "entry_point="),
                        (working_directory, "working_directory=")):
        if given is not None:
            raise ConfigurationError(
                f"{what} applies only to container-image functions: pass image= as well, or "
                f"drop {what}."
            )
    if code is None or runtime is None:
        raise ConfigurationError(
            "lambda_function() needs code= and runtime= (a function from code), or image= "
            "(a container-image function)."
        )
    if not isinstance(runtime, str):
        raise ConfigurationError(f"runtime must be a string such as 'python3.13', not {runtime!r}.")
    rt = get_runtime(runtime)
    handler_s = validate_handler(handler, custom_runtime=rt.family == "provided")
    arch = _code_architecture(arch, rt)
    # Sizes are checked before anything is unpacked (the layers' against code plus layers).
    code_path, is_zip = locate_code(code)
    size = code_size(code_path, is_zip)
    check_unzipped_size(size)
    from ._layers import resolve_layers  # it imports this module

    if requirements is not None or _has_dependency_layers(layers):
        from . import _deps

        code_dir, code_hash = materialise(code_path, is_zip)
        target = (_deps.host_target() if _host_dependencies and rt.family == "python"
                  else _deps.Target(rt, arch))
        who = f"function {fn_name!r}" if fn_name else f"the function {handler_s!r}"
        name_hash = code_hash
        code_dir, code_hash = _deps.with_code_dependencies(code_dir, code_hash, requirements,
                                                           target, who)
        layers = _deps.resolve_layer_values(layers, target, who)
        # The layers' limit counts the code with its dependencies.
        merged = resolve_layers(layers, code_size=code_size(code_dir, False))
    else:
        merged = resolve_layers(layers, code_size=size)
        code_dir, code_hash = materialise(code_path, is_zip)
        name_hash = code_hash
    return FunctionConfig(
        handler=handler_s,
        runtime=rt,
        code_dir=code_dir,
        code_hash=code_hash,
        name=fn_name or default_function_name(handler_s, rt.name, name_hash),
        layers=merged.hashes if merged else (),
        opt_dir=merged.root if merged else None,
        architecture=arch,
        **common,
    )


def _has_dependency_layers(layers: object) -> bool:
    from ._deps import Layer

    return isinstance(layers, (list, tuple)) and any(isinstance(x, Layer) for x in layers)


#: What a function's network reaches (docs/security.md): the plugin's own servers, or also
#: whatever its engine routes to (the host's services, other networks, the internet).
NETWORK_MODES = ("isolated", "open")


def validate_network(network: object) -> str:
    """Return `network` if it is one of `NETWORK_MODES`."""
    if network not in NETWORK_MODES:
        raise ConfigurationError(
            f"network must be 'isolated' (the default: only the plugin's own servers) or "
            f"'open' (outbound connections allowed), not {network!r}."
        )
    return str(network)


_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-\d{1,2}")
_ACCOUNT = re.compile(r"\d{12}")


def validate_region(region: object) -> str:
    """Return `region` if it is shaped like an AWS region name ("eu-west-1")."""
    if not isinstance(region, str) or not _REGION.fullmatch(region):
        raise ConfigurationError(
            f"region must be an AWS region name such as 'us-east-1', not {region!r}."
        )
    return region


def validate_account_id(account_id: object) -> str:
    """Return `account_id` if it is an AWS account id: twelve digits, as a string."""
    if not isinstance(account_id, str) or not _ACCOUNT.fullmatch(account_id):
        raise ConfigurationError(
            f"account_id must be a twelve-digit AWS account id as a string such as "
            f"'123456789012', not {account_id!r}."
        )
    return account_id


def _code_architecture(wanted: str | None, runtime: Runtime) -> str:
    """Return the architecture a function from code runs on: `wanted`, the host's by default.

    Another architecture than the host's runs through emulation, which must be registered with
    binfmt_misc; Node.js runtimes have no images for it (see `_images.require_buildable`).
    """
    host = host_architecture()
    if wanted is None or wanted == host:
        return host
    require_host_can_run(wanted)
    from ._images import require_buildable  # it imports this module

    require_buildable(runtime, wanted)
    return wanted
