"""Tell whose a loopback TCP connection is: which process holds the other end.

The process backend's Runtime API listens on 127.0.0.1, where every process of the machine can
connect. A connection is admitted only when its client socket belongs to a process of the
environment: the kernel's sock_diag netlink interface (as `ss` uses it) finds the socket by its
four addresses (local = the peer the server sees, remote = the server) and gives its inode, in
constant time however many sockets exist (/proc/net/tcp, read when netlink is unavailable, lists
them all), and a process holds it when one of its
/proc/<pid>/fd entries links to `socket:[<inode>]`. The environment's processes are the session
leaders the backend started (runtime and extensions, each `start_new_session`) and everything in
their sessions.

Linux only: where /proc is missing, `available()` is False and the backend says so.
"""

from __future__ import annotations

import os
import socket
import struct
import sys
from collections.abc import Iterable

_PROC = "/proc"


def available() -> bool:
    """Return True when this system lets the owner of a loopback connection be found."""
    return os.path.exists(f"{_PROC}/net/tcp") and os.path.isdir(f"{_PROC}/self/fd")


def _hex_address(host: str, port: int) -> str:
    # /proc/net/tcp prints the address as the host-order u32 of its network-order bytes.
    packed = int.from_bytes(socket.inet_aton(host), sys.byteorder)
    return f"{packed:08X}:{port:04X}"


_NETLINK_SOCK_DIAG = 4
_SOCK_DIAG_BY_FAMILY = 20
_NLM_F_REQUEST = 1
_NLMSG_ERROR = 2
_NO_COOKIE = 0xFFFFFFFF
# struct inet_diag_req_v2: family, protocol, ext, pad, states, then inet_diag_sockid: sport and
# dport (big-endian), src[4] and dst[4] (network order), interface, cookie[2].
_REQUEST = struct.Struct("=BBBxI2s2s16s16sIII")
_HEADER = struct.Struct("=IHHII")  # struct nlmsghdr
_MSG_INODE_OFFSET = 4 + 48 + 16  # struct inet_diag_msg: ..., uid, inode


def _diag_inode(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """Ask sock_diag for the TCP socket `local` -> `remote`; None when it cannot be asked."""
    body = _REQUEST.pack(socket.AF_INET, socket.IPPROTO_TCP, 0, 0xFFFFFFFF,
                         local[1].to_bytes(2, "big"), remote[1].to_bytes(2, "big"),
                         socket.inet_aton(local[0]).ljust(16, b"\0"),
                         socket.inet_aton(remote[0]).ljust(16, b"\0"), 0,
                         _NO_COOKIE, _NO_COOKIE)
    message = _HEADER.pack(_HEADER.size + len(body), _SOCK_DIAG_BY_FAMILY, _NLM_F_REQUEST,
                           1, 0) + body
    try:
        with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, _NETLINK_SOCK_DIAG) as nl:
            nl.settimeout(2)
            nl.sendto(message, (0, 0))
            reply = nl.recv(8192)
    except (OSError, AttributeError):
        return None
    if len(reply) < _HEADER.size:
        return None
    _length, kind, _flags, _seq, _pid = _HEADER.unpack_from(reply)
    if kind == _NLMSG_ERROR:
        (error,) = struct.unpack_from("=i", reply, _HEADER.size)
        return 0 if error == -2 else None  # ENOENT: no such socket
    if kind != _SOCK_DIAG_BY_FAMILY or len(reply) < _HEADER.size + _MSG_INODE_OFFSET + 4:
        return None
    (inode,) = struct.unpack_from("=I", reply, _HEADER.size + _MSG_INODE_OFFSET)
    return int(inode)


def socket_inode(local: tuple[str, int], remote: tuple[str, int]) -> int | None:
    """Return the inode of the established IPv4 socket `local` -> `remote`, if one exists."""
    inode = _diag_inode(local, remote)
    if inode is not None:
        return inode or None
    want_local, want_remote = _hex_address(*local), _hex_address(*remote)
    try:
        with open(f"{_PROC}/net/tcp") as f:
            next(f, None)
            for line in f:
                fields = line.split()
                if len(fields) > 9 and fields[1] == want_local and fields[2] == want_remote:
                    inode = int(fields[9])
                    return inode or None
    except (OSError, ValueError):
        return None
    return None


def _holds(pid: int, target: str) -> bool:
    try:
        names = os.listdir(f"{_PROC}/{pid}/fd")
    except OSError:
        return False
    for name in names:
        try:
            if os.readlink(f"{_PROC}/{pid}/fd/{name}") == target:
                return True
        except OSError:
            continue
    return False


def _session_of(pid: int) -> int | None:
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # The command name may hold spaces and parentheses: the fields follow its last ")".
    fields = stat[stat.rfind(b")") + 2:].split()
    try:
        return int(fields[3])  # state ppid pgrp session
    except (IndexError, ValueError):
        return None


def _children(pid: int) -> list[int] | None:
    """Return `pid`'s children (every thread's), or None where the kernel does not list them."""
    try:
        tids = os.listdir(f"{_PROC}/{pid}/task")
    except OSError:
        return []
    found: list[int] = []
    for tid in tids:
        try:
            with open(f"{_PROC}/{pid}/task/{tid}/children") as f:
                found.extend(int(word) for word in f.read().split())
        except FileNotFoundError:
            return None  # a kernel without CONFIG_PROC_CHILDREN
        except (OSError, ValueError):
            continue
    return found


def held_by_sessions(inode: int, leaders: Iterable[int]) -> bool:
    """Return True when a process in the session of one of `leaders` holds socket `inode`."""
    target = f"socket:[{inode}]"
    sessions = set(leaders)
    seen: set[int] = set()
    todo = list(sessions)
    while todo:  # the leaders and their descendants that stayed in their sessions
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        if _holds(pid, target):
            return True
        children = _children(pid)
        if children is None:
            break
        todo.extend(child for child in children if _session_of(child) in sessions)
    else:
        return False
    try:  # no child lists: every process of those sessions
        pids = [int(name) for name in os.listdir(_PROC) if name.isdigit()]
    except OSError:
        return False
    return any(pid not in seen and _session_of(pid) in sessions and _holds(pid, target)
               for pid in pids)
