"""A function that looks at its layers from the inside."""

import ctypes
import errno
import importlib
import os
import subprocess
import sys


def handler(event, context):
    action = event["action"]
    if action == "import":
        found = {}
        for name in event["modules"]:
            module = importlib.import_module(name)
            found[name] = {"value": module.VALUE, "file": module.__file__}
        return found
    if action == "sys_path":
        return sys.path
    if action == "env":
        return {key: os.environ.get(key) for key in event["keys"]}
    if action == "run":
        done = subprocess.run(event["argv"], capture_output=True, text=True, check=False)
        return {"code": done.returncode, "stdout": done.stdout}
    if action == "cdll":
        return ctypes.CDLL(event["name"]).layer_answer()
    if action == "listdir":
        return sorted(os.listdir(event["path"]))
    if action == "read":
        with open(event["path"]) as f:
            return f.read()
    if action == "write":
        try:
            with open(event["path"], "w") as f:
                f.write("x")
        except OSError as exc:
            return errno.errorcode[exc.errno]
        return "written"
    raise ValueError(action)
