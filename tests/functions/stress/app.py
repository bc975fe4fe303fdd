"""A function for the stress test: returns, raises or times out depending on the event."""

import time


def handler(event, context):
    n = event["n"]
    action = event.get("action", "return")
    if action == "raise":
        raise ValueError(f"boom {n}")
    if action == "sleep":
        time.sleep(event.get("seconds", 5))
    return {"n": n, "request_id": context.aws_request_id}
