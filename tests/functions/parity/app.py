"""One handler for comparing invoke_handler (in-process) with the container backend."""

import decimal
import time


def handler(event, context):
    action = event.get("action")
    if action == "raise":
        raise KeyError(event.get("key", "missing"))
    if action == "sleep":
        time.sleep(event["seconds"])
    if action == "decimal":  # awslambdaric's encoder writes Decimal as a JSON number
        return {"amount": decimal.Decimal("1.5")}
    if action == "unserialisable":
        return {"when": object()}
    if action == "print":
        print("a line from the handler")
    return {"echo": event, "memory": context.memory_limit_in_mb,
            "name": context.function_name}
