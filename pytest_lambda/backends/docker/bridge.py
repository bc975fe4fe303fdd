"""Keep a Podman network's bridge up on this machine for the whole session.

Docker makes a network's bridge, with the gateway address on it, when the network is made.
Podman (netavark) makes it when the network's first container starts and removes it when the
last one goes. The harness needs it before that: each environment's Runtime API server, and
moto's server, listen on the gateway address before their container exists, and a session
whose warm environments are all gone must not lose the address. So on a rootful Podman the
backend starts one idle "holder" container per session network, from the first image it runs
there, and keeps it until the session ends: bash waiting on its open stdin, uid 993, every
capability dropped, read-only root, 16 MB. It carries the session's labels, so the session's
cleanup, or a later session's sweep, removes it with the functions' containers.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Any

from pytest_lambda.backends.docker.sandbox import LAMBDA_UID, nproc_candidates, ulimits
from pytest_lambda.containers.client import SessionLabels, SessionNetwork
from pytest_lambda.errors import BackendUnavailableError

#: How long a holder's bridge may take to appear on this machine.
BRIDGE_WAIT_S = 10.0


class BridgeHolder:
    """Start, once, the container that holds `network`'s bridge up (see the module docstring).

    Its start also finds the process limit the engine can set (`sandbox.nproc_candidates`):
    `nproc` is then what every container of the session is given.
    """

    def __init__(self, client: Any, network: SessionNetwork, labels: SessionLabels) -> None:
        self._client = client
        self._network = network
        self._labels = labels
        self._lock = threading.Lock()
        self.container_id: str | None = None
        #: The RLIMIT_NPROC containers start with on this engine (None: the engine's default).
        self.nproc: int | None = None

    def hold(self, image: str, *, bridge_here: bool = True) -> None:
        """Make sure the holder runs and (`bridge_here`) the bridge is up; raise
        BackendUnavailableError (one sentence) when the holder cannot start, or the bridge
        does not appear here (the engine is on another machine).

        For a rootful Podman elsewhere there is no bridge to hold here, but the process limit
        must still be found: `bridge_here=False` only starts the holder, and `release` removes
        it again."""
        with self._lock:
            if self.container_id is not None:
                return
            problem: Exception | None = None
            for nproc in nproc_candidates():
                try:
                    self.container_id = self._start(image, ulimits(nproc=nproc))
                except Exception as exc:
                    problem = exc
                    if "rlimit" in str(exc):
                        continue  # the engine may not set this process limit: try the next
                    break
                self.nproc = nproc
                break
            if self.container_id is None:
                raise BackendUnavailableError(
                    f"Podman could not start a container on the session network "
                    f"{self._network.name} ({problem}): check that `podman run` works for "
                    f"image {image}"
                    + (", or run with --lambda-connect=published." if bridge_here else ".")
                ) from None
            deadline = time.monotonic() + BRIDGE_WAIT_S
            while bridge_here and not os.path.exists(f"/sys/class/net/{self._network.bridge}"):
                if time.monotonic() > deadline:
                    raise BackendUnavailableError(
                        f"Podman's bridge {self._network.bridge} for network "
                        f"{self._network.name} did not appear on this machine, so the engine "
                        f"runs elsewhere (a VM or another host): run with "
                        f"--lambda-connect=published."
                    )
                time.sleep(0.01)

    def _start(self, image: str, limits: list[Any]) -> str:
        """Create and start the holder; remove it again if it does not start."""
        api = self._client.api
        host_config = api.create_host_config(
            network_mode=self._network.name, read_only=True, cap_drop=["ALL"],
            security_opt=["no-new-privileges"], mem_limit="16m", pids_limit=8, ulimits=limits,
        )
        created = api.create_container(
            image, entrypoint=["/bin/bash", "-c", "read -r _"], stdin_open=True,
            user=f"{LAMBDA_UID}:{LAMBDA_UID}", labels=self._labels.as_dict(),
            host_config=host_config, detach=True,
        )
        try:
            api.start(created["Id"])
        except Exception:
            try:
                api.remove_container(created["Id"], force=True)
            except Exception:
                pass
            raise
        return str(created["Id"])

    def release(self) -> None:
        """Remove the holder now (the session's cleanup would remove it anyway)."""
        if self.container_id is not None:
            try:
                self._client.api.remove_container(self.container_id, force=True)
            except Exception:
                pass
