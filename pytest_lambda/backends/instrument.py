"""Coverage and a debugger inside Python execution environments (see docs/coverage.md and
docs/debugging.md).

The runtime's interpreter starts `images/bootstrap/instrument.py` in front of the bootstrap: on
Docker through `AWS_LAMBDA_EXEC_WRAPPER` (the runtime images' bootstrap, like AWS's, execs the
wrapper with the interpreter and `bootstrap.py`), on the process backend directly. What it
imports (coverage.py, debugpy) are copies of the test environment's own installed packages,
made once per version in the cache (`tools_dir`) and mounted read-only at `TOOLS_PATH`: coverage
is pure Python with an optional C tracer that loads when the runtime's Python is the test's
version (otherwise coverage uses its Python tracer, or sys.monitoring); debugpy carries pure-Python
fallbacks for its compiled speed-ups. Nothing is installed into the runtime and nothing is fetched.

Each environment gets a state directory of its own (`STATE_PATH` inside a container), writable
by the function's user: coverage data files (saved every time the runtime asks for its next
event) and the debugger's attached flag. `collect_coverage` reads the data files, maps
`/var/task` back to the host's code directory, and merges the lines into the test process's
coverage data (pytest-cov's), before pytest-cov combines and reports.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from pytest_lambda.config.function import FunctionConfig
from pytest_lambda.errors import ConfigurationError

#: Where a container sees the tools (coverage, debugpy, the launcher and its wrapper).
TOOLS_PATH = "/var/pytest-lambda/tools"
#: Where a container sees its state directory (coverage data, the debugger's flag).
STATE_PATH = "/var/pytest-lambda/state"
#: Where a container sees `pycache_dir()`.
PYCACHE_PATH = "/var/pytest-lambda/pycache"

# The wrapper Lambda's bootstrap runs (`AWS_LAMBDA_EXEC_WRAPPER`): $1 is the interpreter, the
# rest the bootstrap and its arguments. A function's own wrapper still runs, around the launcher.
_WRAPPER = r"""#!/bin/sh
here=$(dirname "$0")
py=$1; shift
if [ -n "${_PYTEST_LAMBDA_EXEC_WRAPPER}" ]; then
    w=${_PYTEST_LAMBDA_EXEC_WRAPPER}
    if [ ! -f "$w" ]; then echo "$w: does not exist" 1>&2; exit 127; fi
    if [ ! -x "$w" ]; then echo "$w: is not an executable" 1>&2; exit 126; fi
    exec -- "$w" "$py" "$here/instrument.py" "$@"
fi
exec "$py" "$here/instrument.py" "$@"
"""

#: The distributions a tools directory may hold, by the import name they provide.
_TOOLS = {"coverage": "coverage", "debugpy": "debugpy"}


def available(tool: str) -> bool:
    """Return whether the test environment has `tool` ("coverage", "debugpy") installed."""
    from importlib import metadata

    try:
        return metadata.distribution(_TOOLS[tool]).files is not None
    except metadata.PackageNotFoundError:
        return False


def _copy_distribution(name: str, target: Path) -> None:
    """Copy the installed files of distribution `name` (modules only) into `target`."""
    from importlib import metadata

    dist = metadata.distribution(name)
    for file in dist.files or []:
        relative = PurePosixPath(str(file))
        if relative.parts[:1] == ("..",) or "__pycache__" in relative.parts \
                or relative.parts[0].endswith((".dist-info", ".pth")):
            continue
        source = Path(str(dist.locate_file(file)))
        if not source.is_file():
            continue
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, destination)


_tools_lock = threading.Lock()
_tools_made: dict[Path, Path] = {}


def tools_dir() -> Path:
    """Return a directory holding the launcher, its wrapper and copies of the test environment's
    coverage and debugpy (those installed), made once per content in the cache."""
    from pytest_lambda.system.paths import cache_dir

    cache = cache_dir()
    made = _tools_made.get(cache)
    if made is None or not made.is_dir():
        made = _tools_made[cache] = _make_tools_dir(cache)
    return made


def _make_tools_dir(cache: Path) -> Path:
    from importlib import metadata

    from pytest_lambda.images.bootstrap import PYTHON_INSTRUMENT

    launcher = PYTHON_INSTRUMENT.read_bytes()
    present = sorted(tool for tool in _TOOLS if available(tool))
    what = ";".join(f"{t}=={metadata.version(_TOOLS[t])}" for t in present)
    digest = hashlib.sha256(launcher + _WRAPPER.encode() + what.encode()).hexdigest()[:12]

    def fill(work: Path) -> None:
        for tool in present:
            _copy_distribution(_TOOLS[tool], work)
        (work / "instrument.py").write_bytes(launcher)
        (work / "wrapper").write_text(_WRAPPER)
        os.chmod(work / "wrapper", 0o755)
        # Byte code for this Python (the process backend's, mostly); other versions cache
        # theirs under `pycache_dir()`, since the tools are read-only in containers.
        import compileall

        compileall.compile_dir(str(work), quiet=2, workers=1)
        # The container's user is not the host's: everything readable by all.
        for path in [work, *work.rglob("*")]:
            os.chmod(path, os.stat(path).st_mode | (0o755 if path.is_dir() else 0o444))

    from pytest_lambda.system.paths import make_dir_once

    with _tools_lock:
        return make_dir_once(cache / "env-tools" / digest, fill, prefix=".tools-")


def pycache_dir() -> Path:
    """Return the directory, writable by environments' users, where runtimes of another Python
    version than the test's keep the tools' byte code (`sys.pycache_prefix`, while the launcher
    imports them only), so that only the first cold start compiles them."""
    from pytest_lambda.system.paths import cache_dir

    path = cache_dir() / "env-tools" / "pycache"
    if not path.is_dir():
        path.mkdir(parents=True, exist_ok=True)
        os.chmod(path, 0o1777)  # as /tmp: each writer owns its files
    return path


@dataclass(frozen=True)
class CoverageRequest:
    """Measure the code of Python functions, for the test process's coverage data."""

    #: Measure branches (arcs) as the test process's coverage does.
    branch: bool
    #: Where each environment's state directory is made (removed with the service).
    root: Path


_ROOT_PREFIX = "pytest-lambda-coverage-"


def new_coverage_root() -> Path:
    """Make the directory under which environments' coverage state directories are made (its
    name carries this process's id), removing those of processes that died without removing
    theirs."""
    from pytest_lambda.system.children import pid_alive

    base = Path(tempfile.gettempdir())
    try:
        for old in base.glob(f"{_ROOT_PREFIX}*-*"):
            pid = old.name[len(_ROOT_PREFIX):].split("-", 1)[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix=f"{_ROOT_PREFIX}{os.getpid()}-", dir=base))


def instrumented(config: FunctionConfig, coverage: CoverageRequest | None) -> bool:
    """Return whether `config`'s environments start under the launcher."""
    runtime = config.runtime
    if config.image is not None or runtime is None or runtime.family != "python":
        return False
    return coverage is not None or config.debug_port is not None


class Instruments:
    """What one environment's launcher does, and the host side of it."""

    def __init__(self, config: FunctionConfig, coverage: CoverageRequest | None) -> None:
        self.config = config
        self.coverage = coverage
        if coverage is not None:  # where `collect_coverage` looks
            self.state = Path(tempfile.mkdtemp(prefix="env-", dir=coverage.root))
        else:
            self.state = Path(tempfile.mkdtemp(prefix="pytest-lambda-debug-"))
        os.chmod(self.state, 0o777)  # the container's user writes here
        self.tools = tools_dir()
        if config.debug_port is not None and not (self.tools / "debugpy").is_dir():
            raise ConfigurationError(
                "debug_port= needs debugpy in the test environment (it is copied into the "
                "function's environment): pip install debugpy."
            )

    def spec(self, *, tools: str, state: str, task_root: str, debug_host: str,
             pycache: str | None = None) -> str:
        """Return the launcher's `_PYTEST_LAMBDA_INSTRUMENT` for the paths the runtime sees
        (and note for `collect_coverage` where its `task_root` is on the host)."""
        config = self.config
        if self.coverage is not None and config.code_dir is not None:
            # Code merged with its dependencies is reported where its own files came from (the
            # dependencies' files, found only in the merged tree, are dropped).
            host = config.code_source or config.code_dir
            (self.state / "paths.json").write_text(json.dumps(
                {task_root: str(host), "only_existing": config.code_source is not None}
            ))
        document: dict[str, Any] = {"tools": tools, "state": state, "coverage": None,
                                    "debug": None, "pycache": pycache}
        if self.coverage is not None:
            document["coverage"] = {"source": [task_root], "branch": self.coverage.branch}
        if self.config.debug_port is not None:
            document["debug"] = {"host": debug_host, "port": self.config.debug_port}
        return json.dumps(document)

    def debugger_attached(self) -> bool:
        """Return whether the launcher says a debugger is attached or awaited (it lifts the
        function's timeout)."""
        if self.config.debug_port is None:
            return False
        try:
            return (self.state / "debugger").read_text() != "0"
        except OSError:
            return True  # not written yet: the runtime is starting its debugger

    def unsaved(self) -> bool:
        """Return whether the launcher is saving coverage data the runtime has not yet seen
        saved (the runtime must live until it is done)."""
        return self.coverage is not None and (self.state / UNSAVED).exists()

    def settle(self) -> None:
        """Wait (up to `SAVE_WAIT_S`) until the launcher has saved what the runtime ran."""
        wait_saved([self.state])

    def release(self) -> None:
        """Remove the state directory, unless it holds coverage data still to be collected
        (the runtime is gone: a save it had not finished never will)."""
        if self.coverage is None:
            shutil.rmtree(self.state, ignore_errors=True)
        else:
            (self.state / UNSAVED).unlink(missing_ok=True)


#: The launcher's mark in a state directory while coverage data are not yet saved.
UNSAVED = "unsaved"
#: How long the harness waits for a launcher to save (it saves in a thread, off the function's
#: clock, under the function's CPU share).
SAVE_WAIT_S = 10.0


def wait_saved(states: Iterable[Path], timeout: float = SAVE_WAIT_S) -> None:
    """Wait until none of the state directories `states` is marked unsaved, for at most
    `timeout` seconds."""
    end = time.monotonic() + timeout
    pending = [state / UNSAVED for state in states]
    while True:
        pending = [mark for mark in pending if mark.exists()]
        if not pending or time.monotonic() >= end:
            return
        time.sleep(0.002)


def collect_coverage(root: Path, sources: list[str], target: Any,
                     packages: list[str] | None = None) -> int:
    """Merge the data files under `root` into the CoverageData `target`; return how many files.

    Each environment's `paths.json` maps its task root ("/var/task") to the host's code
    directory. As coverage.py's `source` does, only files under one of the directories
    `sources`, or in one of the `packages` (dotted names, relative to the code directory), are
    kept; all of them when both are empty. Each data file is removed once merged.
    """
    from coverage import CoverageData

    wait_saved(root.glob("env-*"))
    merged = 0
    for path in sorted(root.glob("env-*/.coverage.*")):
        if path.name.endswith(("-journal", "-wal", "-shm")):
            continue
        try:
            mappings = json.loads((path.parent / "paths.json").read_text())
        except (OSError, ValueError):
            continue
        only_existing = bool(mappings.pop("only_existing", False))
        data = CoverageData(basename=str(path))
        try:
            data.read()
        except Exception:
            continue  # a file the environment was still writing when it was killed
        mapped = CoverageData(no_disk=True)
        arcs: dict[str, Any] = {}
        lines: dict[str, Any] = {}
        for name in data.measured_files():
            host = _map_path(name, mappings)
            if host is None or not _kept(host, mappings, sources, packages or []):
                continue
            if only_existing and not os.path.isfile(host):
                continue
            if data.has_arcs():
                arcs[host] = data.arcs(name) or []
            else:
                lines[host] = data.lines(name) or []
        if arcs:
            mapped.add_arcs(arcs)
        if lines:
            mapped.add_lines(lines)
        if arcs or lines:
            target.update(mapped)
        merged += 1
        path.unlink(missing_ok=True)
    return merged


def _map_path(name: str, mappings: dict[str, str]) -> str | None:
    for inside, host in mappings.items():
        if name == inside or name.startswith(inside.rstrip("/") + "/"):
            return host.rstrip(os.sep) + os.sep + name[len(inside.rstrip("/")) + 1:]
    return None


def _under(path: str, directory: str) -> bool:
    return path == directory or path.startswith(directory.rstrip(os.sep) + os.sep)


def _kept(host: str, mappings: dict[str, str], sources: list[str], packages: list[str]) -> bool:
    if not sources and not packages:
        return True
    if any(_under(host, directory) for directory in sources):
        return True
    for code_dir in mappings.values():
        if packages and _under(host, code_dir) and host.endswith(".py"):
            parts = host[len(code_dir.rstrip(os.sep)) + 1:-3].split(os.sep)
            if parts[-1] == "__init__":
                parts.pop()
            module = ".".join(parts)
            if any(module == p or module.startswith(p + ".") for p in packages):
                return True
    return False


def check_debug_port(port: int) -> None:
    """Raise ConfigurationError unless `port` can be bound on this machine's loopback now."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # As debugpy and the forward bind it: a listener fails, a last session's TIME_WAIT does not.
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        probe.bind(("127.0.0.1", port))
    except OSError as exc:
        raise ConfigurationError(_port_problem(port, exc)) from None
    finally:
        probe.close()


def _port_problem(port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"debug_port={port} is in use on 127.0.0.1 (by another program, or another "
                f"environment of a function debugged on it): pick a free port.")
    return f"debug_port={port} cannot be listened on at 127.0.0.1 ({exc.strerror or exc})."


class LoopbackForward:
    """Listen on 127.0.0.1:`port` and forward each connection to `target()` (a container's
    debugger, on an internal network, for which the engine publishes no ports; None while the
    container has no address yet)."""

    def __init__(self, port: int, target: Callable[[], tuple[str, int] | None]) -> None:
        self.target = target
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._listener.bind(("127.0.0.1", port))
        except OSError as exc:
            self._listener.close()
            raise ConfigurationError(_port_problem(port, exc)) from None
        self._listener.listen(4)
        self._closed = False
        self._open: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, name="lambda-debug-forward", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            upstream = self._connect()
            if upstream is None:
                client.close()
                continue
            with self._lock:
                if self._closed:
                    client.close()
                    upstream.close()
                    return
                self._open += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True,
                                 name="lambda-debug-pump").start()

    def _connect(self) -> socket.socket | None:
        """Connect to the debugger, which a client may beat to it (the runtime is starting)."""
        import time

        deadline = time.monotonic() + 60
        while not self._closed:
            target = self.target()  # None until the container has an address
            try:
                if target is None:
                    raise OSError("no address yet")
                upstream = socket.create_connection(target, timeout=5)
            except OSError:
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.1)
                continue
            upstream.settimeout(None)
            return upstream
        return None

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                sink.sendall(chunk)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        with self._lock:
            self._closed = True
            conns, self._open = self._open, []
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        except OSError:
            pass
        self._listener.close()
        for conn in conns:
            try:
                conn.close()
            except OSError:
                pass
