"""A function that reports the machine it runs on, for the architecture tests."""

import platform
import sys


def handler(event, context):
    if event.get("action") == "raise":
        raise ValueError(event.get("message", "boom"))
    return {"machine": platform.machine(), "python": "%d.%d" % sys.version_info[:2],
            "event": event}
