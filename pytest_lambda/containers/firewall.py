"""Keep a session network's containers away from the host's services.

Docker's `--internal` network gives containers no route off the host, but the host itself stays
reachable on the network's gateway address: every service listening on `0.0.0.0` (or on that
address) answers a function. Where the plugin can, it closes that: an nftables table of its own
(`inet pytest_lambda_<session>`) drops every packet that arrives from the session network's
bridge, except replies to connections the host opened and TCP to the ports in the session's
registry of allowed host ports (`HostPorts`): the Runtime API servers, and whatever a later
capability (a moto server, a Lambda API server) registers. Packets routed between containers
never reach the host's input hook, so this does not touch Docker's own rules.

The table is the plugin's alone: removed with the network, swept with a dead session's network,
and never written into Docker's chains. It needs root (CAP_NET_ADMIN), the `nft` command, and
an engine whose bridge is in this network namespace; where any is missing, `reason` says why the
host stays reachable, and the pytest header shows it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import threading
from typing import Any

TABLE_PREFIX = "pytest_lambda_"


def table_name(session: str) -> str:
    return f"{TABLE_PREFIX}{session}"


class _Library:
    """libnftables, called in process: a port added per cold start costs microseconds, not the
    ~10 ms of running `nft`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ctx: Any = None
        self._lib: Any = None
        name = ctypes.util.find_library("nftables")
        if name is None:
            return
        try:
            lib = ctypes.CDLL(name)
            lib.nft_ctx_new.restype = ctypes.c_void_p
            lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
            lib.nft_run_cmd_from_buffer.restype = ctypes.c_int
            lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
            lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
            lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
            lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
            ctx = lib.nft_ctx_new(0)
            if not ctx:
                return
            lib.nft_ctx_buffer_error(ctx)
            lib.nft_ctx_buffer_output(ctx)  # nothing printed on the test's terminal
        except (OSError, AttributeError):
            return
        self._lib, self._ctx = lib, ctx

    def run(self, script: str) -> str | None:
        """Run `script`; None on success, else libnftables' message (or "unavailable")."""
        if self._ctx is None:
            return "unavailable"
        with self._lock:
            if self._lib.nft_run_cmd_from_buffer(self._ctx, script.encode()) == 0:
                return None
            error = self._lib.nft_ctx_get_error_buffer(self._ctx) or b""
        lines = error.decode("utf-8", "replace").strip().splitlines()
        return lines[0] if lines else "libnftables refused the command"


_library: _Library | None = None
_library_lock = threading.Lock()


def _nft(script: str) -> str | None:
    """Run an nft script; return None on success, else nft's complaint."""
    global _library
    with _library_lock:
        if _library is None:
            _library = _Library()
    problem = _library.run(script)
    if problem != "unavailable":
        return problem
    nft = shutil.which("nft")
    if nft is None:
        return "the nft command is not installed"
    try:
        done = subprocess.run([nft, "-f", "-"], input=script, capture_output=True, text=True,
                              timeout=20)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
    if done.returncode != 0:
        return (done.stderr.strip().splitlines() or [f"nft exited {done.returncode}"])[-1]
    return None


#: Why nothing is filtered for a rootless engine (Docker's or Podman's).
ROOTLESS = ("the engine is rootless: its bridge is in the engine's own network namespace, "
            "where this machine's nftables cannot filter it")


def predicted_reason(docker_host: str | None, *, rootless: bool = False) -> str | None:
    """Return why the host will not be shielded, judged before any network exists (the header)."""
    if docker_host and not docker_host.startswith("unix://"):
        return f"the engine at {docker_host} may not be on this machine"
    if rootless:
        return ROOTLESS
    if os.geteuid() != 0:
        return "filtering needs root (CAP_NET_ADMIN) for nftables"
    if shutil.which("nft") is None:
        return "filtering needs the nft command (nftables)"
    return None


def unavailable_reason(bridge: str, *, expected: bool = False) -> str | None:
    """Return why the host cannot be shielded from `bridge`, or None when it can.

    `expected`: the bridge is not up yet but will be on this machine (Podman brings a
    network's bridge up with its first container); the table matches it by name meanwhile.
    """
    if not expected and not os.path.exists(f"/sys/class/net/{bridge}"):
        return (f"the engine's bridge {bridge} is not on this machine (a VM or remote engine), "
                f"so the plugin cannot filter what reaches the engine's host")
    if os.geteuid() != 0:
        return "filtering needs root (CAP_NET_ADMIN) for nftables"
    if shutil.which("nft") is None:
        return "filtering needs the nft command (nftables)"
    return None


class HostPorts:
    """The session's registry of host TCP ports its functions may reach (port -> purpose)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ports: dict[int, str] = {}
        self._owners: dict[int, object] = {}
        self._firewalls: list[HostFirewall] = []

    def allow(self, port: int, purpose: str, *, owner: object = None) -> None:
        """Let the session's functions connect to `port` on their gateway address, for
        `owner` (the environment whose server listens there, if one does)."""
        with self._lock:
            self._ports[port] = purpose
            self._owners[port] = owner
            firewalls = list(self._firewalls)
        for firewall in firewalls:
            firewall.allow(port)

    def revoke(self, port: int, *, owner: object = None) -> None:
        """Stop allowing `port`, unless another owner has it now: a port an environment freed
        may be a new environment's by the time the first one's removal revokes it."""
        with self._lock:
            if port not in self._ports or self._owners.get(port) is not owner:
                return
            del self._ports[port]
            del self._owners[port]
            firewalls = list(self._firewalls)
        for firewall in firewalls:
            firewall.revoke(port)

    def allowed(self) -> dict[int, str]:
        with self._lock:
            return dict(self._ports)

    def attach(self, firewall: HostFirewall) -> None:
        with self._lock:
            self._firewalls.append(firewall)
            ports = list(self._ports)
        for port in ports:
            firewall.allow(port)


class HostFirewall:
    """The nftables table that drops what a bridge sends the host, but the allowed ports."""

    def __init__(self, session: str, bridge: str, gateway: str, *,
                 expected: bool = False, reason: str | None = None) -> None:
        self.table = table_name(session)
        self.bridge = bridge
        self.reason = reason or unavailable_reason(bridge, expected=expected)
        self.active = False
        if self.reason is not None:
            return
        iif = f'iifname "{bridge}"'
        # Priority -5: before the filter tables Docker and distributions keep at 0.
        problem = _nft(
            f"table inet {self.table} {{\n"
            f"  set ports {{ type inet_service; }}\n"
            f"  chain input {{\n"
            f"    type filter hook input priority -5; policy accept;\n"
            f"    {iif} ct state established,related accept\n"
            f"    {iif} ip daddr {gateway} tcp dport @ports accept\n"
            f"    {iif} drop\n"
            f"  }}\n"
            f"}}\n"
        )
        if problem is not None:
            self.reason = f"nftables refused the plugin's table ({problem})"
            return
        self.active = True

    def allow(self, port: int) -> None:
        if self.active:
            _nft(f"add element inet {self.table} ports {{ {int(port)} }}\n")

    def revoke(self, port: int) -> None:
        if self.active:
            _nft(f"delete element inet {self.table} ports {{ {int(port)} }}\n")

    def remove(self) -> None:
        if self.active:
            self.active = False
            remove_table(self.table)


def remove_table(table: str) -> None:
    """Delete the plugin's table `table` if it exists (a swept session's)."""
    if table.startswith(TABLE_PREFIX) and os.geteuid() == 0 and shutil.which("nft"):
        _nft(f"delete table inet {table}\n")
