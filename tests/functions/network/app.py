"""A function that reaches for the network, as a forgotten real-AWS call would."""

import socket
import urllib.request


def handler(event, context):
    if event["action"] == "resolve":
        socket.getaddrinfo(event["host"], 443)
    elif event["action"] == "https":
        # What an SDK call does first: resolve the service's endpoint, then connect.
        urllib.request.urlopen(event["url"], timeout=60)
    return {"remaining_ms": context.get_remaining_time_in_millis()}


def caught(event, context):
    """Return what the function's own error handling sees."""
    try:
        handler(event, context)
    except Exception as exc:
        reason = getattr(exc, "reason", None)
        return {"error": type(exc).__name__, "reason": type(reason).__name__ if reason else None,
                "message": str(exc), "remaining_ms": context.get_remaining_time_in_millis()}
    return {"error": None}
