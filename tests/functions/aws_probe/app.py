"""Report what of AWS an environment was given, and what a connection to `connect` got."""

import os
import socket


def handler(event, context):
    event = event or {}
    home = os.path.expanduser("~")
    out = {
        "aws": {k: v for k, v in os.environ.items() if k.startswith("AWS_")},
        "environ": dict(os.environ),
        "home": home,
        "aws_dir": sorted(os.listdir(os.path.join(home, ".aws")))
        if os.path.isdir(os.path.join(home, ".aws")) else None,
    }
    target = event.get("connect")
    if target:
        host, _, port = target.rpartition(":")
        received = b""
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=2) as conn:
                out["connected"] = True
                conn.sendall((event.get("send") or "").encode())
                conn.settimeout(2)
                while True:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    received += chunk
        except OSError as exc:
            out.setdefault("connected", False)
            out["error"] = "%s: %s" % (type(exc).__name__, exc)
        out["received"] = received.decode("utf-8", "replace")
    return out
