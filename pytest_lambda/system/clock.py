"""Real clocks for the harness's own deadlines, out of freezegun's reach.

freezegun replaces `time.time`, `time.monotonic` and `time.perf_counter`, and also every
module-level name bound to them. The real functions are kept inside a tuple, which freezegun does
not scan, so a test that freezes time never stalls or hurries the harness's timers.
"""

from __future__ import annotations

import time

_REAL = (time.time, time.perf_counter)


def wall() -> float:
    """Return the real wall-clock time in seconds since the epoch."""
    return _REAL[0]()


def perf() -> float:
    """Return the real high-resolution monotonic clock in seconds."""
    return _REAL[1]()
