import os
import time

print("slow init")
time.sleep(float(os.environ.get("INIT_SLEEP", "11")))


def handler(event, context):
    return "after slow init"


def remaining(event, context):
    return context.get_remaining_time_in_millis()
