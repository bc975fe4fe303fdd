"""Code on disk: content digests remembered between sessions, archives unpacked safely, and
code sizes checked against Lambda's limits.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import stat
import threading
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from pytest_lambda.config import limits as _limits
from pytest_lambda.errors import ConfigurationError
from pytest_lambda.system.paths import cache_dir, make_dir_once

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
    def extract(staging: Path) -> None:
        os.chmod(staging, 0o755)  # /var/task, read by the function's user
        safe_extract(archive, staging, budget=unzipped_size(archive))

    digest = hash_file(archive)
    return _code_entry(digest, extract), digest


def _code_entry(digest: str, fill: Callable[[Path], object]) -> Path:
    """Return the cache's code entry `digest`, made by `fill(staging directory)` when it is not
    there yet (`make_dir_once`), leased to this session."""
    from pytest_lambda.artifacts.cache import using  # it imports this module

    with using("code", digest) as root:  # leased to this session, safe from pruning
        return make_dir_once(root, fill, prefix=f"{digest}.")


def locate_code(code: object) -> tuple[Path, bool]:
    """Return (resolved path, is_zip) of a `code=` argument, or raise ConfigurationError."""
    return locate_tree(code, argument="code", label="Code path",
                       wanted="pass code= a directory or a .zip file with the function's code",
                       neither="pass code= one of those")


def locate_tree(value: object, *, argument: str, label: str, wanted: str,
                neither: str) -> tuple[Path, bool]:
    """Return (resolved path, is_zip) of an argument naming a directory or a .zip file (code,
    a layer), or raise ConfigurationError saying what `argument` wants."""
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigurationError(
            f"{argument} must be a path to a directory or a .zip file, not "
            f"{type(value).__name__}."
        )
    path = Path(value).expanduser()
    try:
        exists = path.exists()
    except OSError:  # e.g. a name too long to stat
        exists = False
    if not exists:
        raise ConfigurationError(
            f"{label} {str(path)!r} does not exist: {wanted} (relative paths start at "
            f"{os.getcwd()})."
        )
    path = path.resolve()
    if path.is_dir():
        return path, False
    if zipfile.is_zipfile(path):
        return path, True
    raise ConfigurationError(
        f"{label} {str(path)!r} is neither a directory nor a .zip file: {neither}."
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


def snapshot_tree(path: Path) -> tuple[Path, str]:
    """Return (directory, content hash) of a copy of the code directory `path` in the cache,
    made once per content: code that must not follow later edits of `path` (a published
    version's). Code already in the cache (an unpacked .zip, code merged with its
    dependencies) is content-addressed there, and is its own snapshot.
    """
    import shutil

    digest = hash_tree(path)
    if path.resolve().is_relative_to(cache_dir().resolve()):
        return path, digest
    return _code_entry(digest, lambda staging: shutil.copytree(
        path, staging, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"),
        dirs_exist_ok=True)), digest


def materialise(path: Path, is_zip: bool) -> tuple[Path, str]:
    """Return (directory, content hash) of located code, unpacking a .zip into the cache."""
    return unpack_zip(path) if is_zip else (path, hash_tree(path))
