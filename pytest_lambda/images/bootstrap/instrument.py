"""Run a Python runtime's bootstrap under coverage.py and/or debugpy.

This file runs inside the execution environment, never in the test process, and imports nothing
of this package. The harness starts it as `python instrument.py <bootstrap.py> [args...]` (on
Docker through `AWS_LAMBDA_EXEC_WRAPPER`, Lambda's own hook for wrapping a runtime's start) with
`_PYTEST_LAMBDA_INSTRUMENT` holding what to do, as JSON:

    {"tools": dir holding coverage/ and debugpy/ (appended to sys.path, so the function's own
               copies win),
     "state": a directory shared with the host (coverage data files, the debugger's state),
     "coverage": {"source": [dirs to measure], "branch": bool} or null,
     "debug": {"host": address, "port": port} or null,
     "pycache": a writable directory for the tools' byte code, or null}

Coverage data are saved each time the runtime asks for its next event, shortly before the
deadline of an invocation still running then (the harness kills an environment whose invocation
times out), and at a normal exit. The init's are saved at once, as its end (the init phase has
the host's CPU); after an invocation, a thread of the launcher's own saves while the runtime
waits for its next event. Saving is the harness's work, so it is kept off the invocation's clock
(an invocation lasts until the runtime asks for its next event). `<state>/unsaved` exists from
the moment the runtime asks until what it ran is on disk; the harness waits for it to go before
it stops the runtime, removes the environment or reads the data.

The debugger listens before the runtime starts and waits for a client; `<state>/debugger` says
"wait" until one attaches, then a thread keeps it saying whether one is attached ("1") or not
any more ("0"). The harness reads it to lift the function's timeout while it is not "0".
"""

import json
import os
import sys
import threading

_SAVERS = []


def _core(branch):
    """Return the fastest coverage core this interpreter can use: the C tracer when the copied
    coverage was built for this Python, else sys.monitoring (3.12; with branches, 3.14), else
    the Python tracer. Named outright, so that coverage prints no warning into the logs."""
    try:
        import coverage.tracer  # noqa: F401
    except ImportError:
        pass
    else:
        return "ctrace"
    if sys.version_info >= ((3, 14) if branch else (3, 12)):
        return "sysmon"
    return "pytrace"


def _start_coverage(spec, state):
    import warnings

    import coverage

    try:
        from coverage.exceptions import CoverageWarning
    except ImportError:  # coverage before 6.2
        from coverage.misc import CoverageWarning  # type: ignore
    # Coverage's warnings would land in the function's logs; the host's report says enough.
    warnings.filterwarnings("ignore", category=CoverageWarning)
    cov = coverage.Coverage(
        data_file=os.path.join(state, ".coverage"),
        data_suffix=True,
        source=spec.get("source") or None,
        branch=bool(spec.get("branch")),
        config_file=False,
        auto_data=True,  # saved at exit as well
    )
    try:
        cov.set_option("run:core", _core(bool(spec.get("branch"))))
    except Exception:
        pass  # coverage before 7.4 has no choice of core
    cov.start()
    _SAVERS.append(cov.save)
    _saver.append(_Saver(state))


def _write_state(path, value):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(value)
    os.replace(tmp, path)


def _start_debugger(spec, state):
    import debugpy

    debugpy.listen((spec["host"], int(spec["port"])))
    path = os.path.join(state, "debugger")
    _write_state(path, "wait")
    # Waits before the runtime starts, so breakpoints in the module's init code hit too.
    debugpy.wait_for_client()
    _write_state(path, "1")

    def watch():
        attached = True
        while True:
            now = debugpy.is_client_connected()
            if now != attached:
                attached = now
                _write_state(path, "1" if now else "0")
            threading.Event().wait(0.1)

    threading.Thread(target=watch, name="pytest-lambda-debugger", daemon=True).start()


def _save():
    for save in _SAVERS:
        try:
            save()
        except Exception as exc:  # never break the function for the sake of measuring it
            sys.stderr.write("pytest-lambda: could not save coverage data: %s\n" % exc)


class _Saver:
    """Save the coverage data from a thread of its own whenever `request()` asks, and keep
    `<state>/unsaved` while a request is not yet saved."""

    def __init__(self, state):
        self._marker = os.path.join(state, "unsaved")
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._requested = 0
        threading.Thread(target=self._run, name="pytest-lambda-coverage", daemon=True).start()

    def request(self):
        with self._lock:
            self._requested += 1
            try:
                os.close(os.open(self._marker, os.O_WRONLY | os.O_CREAT, 0o666))
            except OSError:
                pass
        self._wake.set()

    def _run(self):
        while True:
            self._wake.wait()
            self._wake.clear()
            with self._lock:
                requested = self._requested
            _save()
            with self._lock:
                if self._requested == requested:  # nothing asked meanwhile: all on disk
                    try:
                        os.unlink(self._marker)
                    except OSError:
                        pass


_saver = []


class _AfterImport:
    """Wrap the runtime client's `wait_next_invocation` once awslambdaric loads it."""

    name = "awslambdaric.lambda_runtime_client"

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        import importlib.util

        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module):
            execute(module)
            _wrap_client(module)

        spec.loader.exec_module = exec_module
        return spec


#: Save this long before an invocation's deadline if it still runs then: the harness kills
#: an environment whose invocation times out, and what it ran until then should count too.
_BEFORE_DEADLINE_S = 0.15
_timer = []
_invoked = []


def _arm(event):
    """Save shortly before `event`'s deadline, from a thread, unless the next event comes first."""
    import time

    try:
        deadline = int(getattr(event, "deadline_time_in_ms", None)) / 1000.0
    except (TypeError, ValueError):
        return
    delay = deadline - time.time() - _BEFORE_DEADLINE_S
    if delay > 0:
        timer = threading.Timer(delay, _saver[0].request)
        timer.daemon = True
        timer.start()
        _timer.append(timer)


def _wrap_client(module):
    for cls in vars(module).values():
        if not isinstance(cls, type) or "wait_next_invocation" not in vars(cls):
            continue
        original = vars(cls)["wait_next_invocation"]

        def wait_next_invocation(self, *args, _original=original, **kwargs):
            while _timer:
                _timer.pop().cancel()
            if _invoked:
                _saver[0].request()  # what the last invocation ran, saved meanwhile
            else:
                _save()  # the init's, at once: the init phase has the host's CPU
                _invoked.append(True)
            event = _original(self, *args, **kwargs)
            _arm(event)
            return event

        cls.wait_next_invocation = wait_next_invocation


def main():
    spec = json.loads(os.environ.pop("_PYTEST_LAMBDA_INSTRUMENT", "{}"))
    wrapper = os.environ.pop("_PYTEST_LAMBDA_EXEC_WRAPPER", None)
    if wrapper is not None:  # the function's own AWS_LAMBDA_EXEC_WRAPPER, as it set it
        os.environ["AWS_LAMBDA_EXEC_WRAPPER"] = wrapper
    elif os.environ.get("AWS_LAMBDA_EXEC_WRAPPER", "").startswith(spec.get("tools", "\0")):
        del os.environ["AWS_LAMBDA_EXEC_WRAPPER"]
    sys.path.append(spec["tools"])
    state = spec["state"]
    # The tools are read-only here: their byte code for this Python goes to a shared, writable
    # place, only while they are imported (the function's own keeps Lambda's behaviour).
    prefix = sys.pycache_prefix
    if spec.get("pycache") and os.access(spec["pycache"], os.W_OK):
        sys.pycache_prefix = spec["pycache"]
    try:
        if spec.get("coverage"):
            _start_coverage(spec["coverage"], state)
            sys.meta_path.insert(0, _AfterImport())
        if spec.get("debug"):
            _start_debugger(spec["debug"], state)
    finally:
        sys.pycache_prefix = prefix
    target = sys.argv[1]
    sys.argv = sys.argv[1:]
    # As if the bootstrap had been run directly: its own directory first on sys.path.
    sys.path[0] = os.path.dirname(os.path.abspath(target))
    import runpy

    runpy.run_path(target, run_name="__main__")


if __name__ == "__main__":
    main()
