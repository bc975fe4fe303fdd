"""A function that imports a package its code does not ship (the test's venv has it)."""

import requests  # noqa: F401


def handler(event, context):
    return "imported"
