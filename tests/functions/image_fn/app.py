"""A function packaged as a container image, for tests/integration/test_image_functions.py."""

import os
import time


def handler(event, context):
    action = event.get("action")
    if action == "raise":
        raise RuntimeError(event.get("message", "image boom"))
    if action == "sleep":
        time.sleep(event["seconds"])
    return {
        "handler": "app.handler",
        "cwd": os.getcwd(),
        "uid": os.getuid(),
        "env": dict(os.environ),
        "function_name": context.function_name,
        "memory": context.memory_limit_in_mb,
        "marker": open(os.path.join(os.environ["LAMBDA_TASK_ROOT"], "marker.txt")).read().strip(),
    }


def other(event, context):
    return {"handler": "app.other", "cwd": os.getcwd()}
