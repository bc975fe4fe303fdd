"""A function for the reliability tests: crashes, leaks, limits and a record of its runs."""

import errno
import os
import resource
import time
import uuid

#: Who this runtime process is: one token per execution environment's runtime.
TOKEN = uuid.uuid4().hex[:12]
CALLS = 0
LEAK = []


def _record(event):
    """Append "<event id> <token>" to RECORD_DIR/runs (a host directory), if there is one."""
    directory = os.environ.get("RECORD_DIR") or event.get("record_dir")
    if not directory or "id" not in event:
        return
    fd = os.open(os.path.join(directory, "runs"), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, f"{event['id']} {TOKEN}\n".encode())
    finally:
        os.close(fd)


def handler(event, context):
    global CALLS
    CALLS += 1
    _record(event)
    action = event.get("action", "ok")
    if action == "ok":
        time.sleep(event.get("seconds", 0))
        return {"id": event.get("id"), "token": TOKEN, "calls": CALLS}
    if action == "crash_on_call":  # os._exit on the runtime's Nth invocation
        if CALLS == event["n"]:
            os._exit(3)
        return {"calls": CALLS}
    if action == "exit":
        os._exit(event.get("code", 3))
    if action == "leak":  # keep `mb` more MB each call (and touch every page)
        LEAK.append(bytearray(b"\1" * (event["mb"] * 1024 * 1024)))
        return {"calls": CALLS, "held_mb": len(LEAK) * event["mb"]}
    if action == "allocate":
        blocks = [bytearray(b"\1" * (1024 * 1024)) for _ in range(event["mb"])]
        return len(blocks)
    if action == "pid":  # write the runtime's pid where the test can see it, then wait
        with open(event["path"], "w") as f:
            f.write(str(os.getpid()))
        time.sleep(event["seconds"])
        return "woke"
    if action == "started_then_sleep":  # mark /tmp, then wait (a test kills the environment)
        with open("/tmp/started", "w") as f:
            f.write(TOKEN)
        time.sleep(event["seconds"])
        return "woke"
    if action == "rlimits":
        return {name: list(resource.getrlimit(getattr(resource, name)))
                for name in ("RLIMIT_NOFILE", "RLIMIT_NPROC")}
    if action == "open_files":  # open /dev/null until refused
        fds = []
        error = None
        try:
            for _ in range(event["max"]):
                fds.append(os.open("/dev/null", os.O_RDONLY))
        except OSError as exc:
            error = errno.errorcode.get(exc.errno, exc.errno)
        finally:
            for fd in fds:
                os.close(fd)
        return {"opened": len(fds), "error": error}
    if action == "fork_loop":  # fork children that wait on a pipe, until refused or `max`
        read_end, write_end = os.pipe()
        children = []
        error = None
        try:
            for _ in range(event["max"]):
                pid = os.fork()
                if pid == 0:
                    os.close(write_end)
                    os.read(read_end, 1)  # returns at EOF: when the parent closes its end
                    os._exit(0)
                children.append(pid)
        except OSError as exc:
            error = errno.errorcode.get(exc.errno, exc.errno)
        finally:
            os.close(write_end)
            os.close(read_end)
            for pid in children:
                os.waitpid(pid, 0)
        return {"forked": len(children), "error": error}
    raise ValueError(f"unknown action {action}")
