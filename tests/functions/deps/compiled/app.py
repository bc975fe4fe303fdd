"""A function whose requirements.txt pulls a compiled wheel (orjson)."""

import platform
import sys

import orjson


def handler(event, context):
    return {
        "dumped": orjson.dumps({"a": [1, 2]}).decode(),
        "orjson_file": orjson.__file__,
        "python": f"{sys.version_info[0]}.{sys.version_info[1]}",
        "machine": platform.machine(),
    }
