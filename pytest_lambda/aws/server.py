"""moto's server application on one address of this machine, served by a thread of this process.

moto ships `ThreadedMotoServer` for this; the harness builds the same thing from the parts it is
made of (moto's application and request handler, werkzeug's `make_server`) for two reasons:
werkzeug's server calls `sys.exit` in its thread when it cannot bind, which leaves
`ThreadedMotoServer.start()` waiting forever, and it logs one line per request through the
`werkzeug` logger, which would fill every failing test's report. Here the socket is bound
first (a failure is an `OSError` in the caller), then handed to werkzeug, and request lines are
not logged (errors still are).

Every server in a process shares moto's state: moto keeps its backends in module globals, and
its `mock_aws` decorator uses the same ones, so a function writing through the server and a
test reading through `mock_aws` meet the same account.
"""

from __future__ import annotations

import socket
import threading
from typing import Any


class MotoServer:
    """Serve moto on (`address`, a free port) until `close()`."""

    def __init__(self, address: str) -> None:
        from moto.moto_server.werkzeug_app import (
            DomainDispatcherApplication,
            MotoRequestHandler,
            create_backend_app,
        )
        from werkzeug.serving import make_server

        class QuietHandler(MotoRequestHandler):
            def log_request(self, code: Any = "-", size: Any = "-") -> None:
                pass  # one line per request is noise in a test report

        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.bind((address, 0))  # port 0: never a fixed port; OSError when not local
            sock.listen(128)
            self._server = make_server(
                address, 0, DomainDispatcherApplication(create_backend_app), threaded=True,
                request_handler=QuietHandler, fd=sock.fileno(),
            )
        finally:
            sock.close()  # werkzeug holds its own duplicate of the descriptor
        self.address = address
        self.port: int = self._server.port
        # shutdown() waits for the loop's next poll: werkzeug's default half second, paid by
        # every session at close for each listening address.
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        kwargs={"poll_interval": 0.05},
                                        name=f"lambda-aws-moto-{address}")
        self._thread.start()

    @property
    def url(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"http://{host}:{self.port}"

    def close(self) -> None:
        """Stop serving and release the port."""
        self._server.shutdown()
        self._thread.join(timeout=10)
