"""A function that reports the interpreter it runs on and what it can import."""

import importlib.util
import sys


def handler(event, context):
    return {
        "version": "%d.%d" % sys.version_info[:2],
        "sys_path": sys.path,
        "found": {name: importlib.util.find_spec(name) is not None
                  for name in event.get("modules", [])},
    }
