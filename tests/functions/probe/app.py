"""A function that reports what it sees, for the integration tests."""

import json
import os
import sys
import time

COLD = True


def handler(event, context):
    global COLD
    cold, COLD = COLD, False
    action = event.get("action") if isinstance(event, dict) else None
    if action == "raise":
        raise ValueError(event.get("message", "boom"))
    if action == "print":
        for line in event["lines"]:
            print(line)
        print(event.get("stderr", "to stderr"), file=sys.stderr)
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "exit":
        os._exit(event.get("code", 3))
    cc = context.client_context
    return {
        "event": event,
        "cold": cold,
        "env": {k: v for k, v in os.environ.items()},
        "cwd": os.getcwd(),
        "uid": os.getuid(),
        "python": "%d.%d" % sys.version_info[:2],
        "remaining_ms": context.get_remaining_time_in_millis(),
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "client_context": None if cc is None else {
                "custom": cc.custom, "env": cc.env,
                "client": None if cc.client is None else {
                    k: getattr(cc.client, k) for k in ("installation_id", "app_title",
                                                       "app_version_name", "app_version_code",
                                                       "app_package_name")
                },
            },
        },
        "sys_path": sys.path[:3],
        "argv": sys.argv,
        "json": json.dumps({"ok": True}),
    }
