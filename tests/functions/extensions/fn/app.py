import os
import signal
import sys

os.environ.get("FN_INIT_PRINT") and print("function init output", flush=True)


def on_sigterm(signum, frame):
    print("[function] SIGTERM", flush=True)
    sys.exit(0)


signal.signal(signal.SIGTERM, on_sigterm)


def handler(event, context):
    print(f"[function] handling {context.aws_request_id}", flush=True)
    if event.get("crash"):
        os._exit(7)
    if event.get("sleep"):
        import time
        time.sleep(event["sleep"])
    return {"request_id": context.aws_request_id, "env": sorted(os.environ)}
