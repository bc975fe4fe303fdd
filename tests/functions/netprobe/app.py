"""Report the Runtime API address and, when asked, what a TCP connection to `connect` got."""

import os
import socket


def handler(event, context):
    out = {"runtime_api": os.environ["AWS_LAMBDA_RUNTIME_API"]}
    target = (event or {}).get("connect")
    if target:
        host, _, port = target.rpartition(":")
        received = b""
        try:
            with socket.create_connection((host, int(port)), timeout=2) as conn:
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
            out["error"] = f"{type(exc).__name__}: {exc}"
        out["received"] = received.decode("utf-8", "replace")
    return out
