"""Which process owns a file or a job, and whether that process is still alive.

A record or temp file names its writer with :func:`process_token` (pid plus the
process start time, so a recycled pid does not look like the old owner). Start-up
clean-up and stale-job recovery only touch things whose owner is gone: several
gunicorn workers share one data dir and must not clean up after each other.

Assumes one host per data dir (the in-process queue's deployment model).
"""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

_TOKEN = re.compile(r"^(\d{1,10})-(\d{1,20})$")


def _start_ticks(pid: int) -> int | None:
    """Start time of ``pid`` in clock ticks since boot (Linux), or None if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[-1].split()
    try:
        return int(fields[19])  # field 22 overall
    except (IndexError, ValueError):
        return None


@cache
def _token_for(pid: int) -> str:
    return f"{pid}-{_start_ticks(pid) or 0}"


def process_token() -> str:
    """This process's owner token, ``"<pid>-<start ticks>"``; computed after fork."""
    return _token_for(os.getpid())


def owner_alive(token: str | None) -> bool:
    """True when the process named by ``token`` is still running.

    Malformed or missing tokens count as dead. Without /proc the start time cannot be
    compared and a running pid is taken as alive.
    """
    match = _TOKEN.match(token or "")
    if not match:
        return False
    pid, ticks = int(match.group(1)), int(match.group(2))
    if pid == os.getpid():
        return token == process_token()
    current = _start_ticks(pid)
    if current is not None:
        return ticks == 0 or current == ticks
    if Path("/proc/self/stat").exists():
        return False  # /proc works here and has no such pid
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
