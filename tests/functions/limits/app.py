"""A function that tests Lambda's limits from the inside."""

import ctypes
import errno
import os
import sys
import time


def handler(event, context):
    action = event["action"]
    if action == "sleep":
        time.sleep(event["seconds"])
        return "slept"
    if action == "exit":
        os._exit(event["code"])
    if action == "sys_exit":
        sys.exit(event["code"])
    if action == "segfault":
        ctypes.string_at(0)
    if action == "allocate":
        blocks = [bytearray(1024 * 1024) for _ in range(event["mb"])]
        return len(blocks)
    if action == "respond":
        return "x" * event["size"]
    if action == "write":
        path = event["path"]
        chunk = b"\0" * (1024 * 1024)
        written = 0
        try:
            with open(path, "wb") as f:
                for _ in range(event["mb"]):
                    f.write(chunk)
                    f.flush()
                    written += 1
                os.fsync(f.fileno())
        except OSError as exc:
            return {"written_mb": written, "errno": errno.errorcode.get(exc.errno, exc.errno)}
        finally:
            if os.path.exists(path) and event.get("cleanup", True):
                try:
                    os.remove(path)
                except OSError:
                    pass
        return {"written_mb": written, "errno": None}
    if action == "cpu_quota":
        for path in ("/sys/fs/cgroup/cpu/cpu.cfs_quota_us", "/sys/fs/cgroup/cpu.max"):
            if os.path.exists(path):
                with open(path) as f:
                    text = f.read().split()
                if path.endswith("cpu.max"):
                    return {"quota": int(text[0]), "period": int(text[1])}
                with open("/sys/fs/cgroup/cpu/cpu.cfs_period_us") as f:
                    return {"quota": int(text[0]), "period": int(f.read())}
        return None
    if action == "spin":
        end = time.process_time() + event["cpu_seconds"]
        while time.process_time() < end:
            pass
        return "spun"
    raise ValueError(f"unknown action {action}")
