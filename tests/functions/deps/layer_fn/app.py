"""A function whose layer brings its dependency (python-dateutil, with six)."""

import dateutil
from dateutil import parser


def handler(event, context):
    return {"parsed": parser.isoparse("2024-02-29T12:00:00Z").isoformat(),
            "dateutil_file": dateutil.__file__}
