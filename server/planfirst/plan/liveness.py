"""Whether the process that left a mark still runs (temp files of atomic writes, the
`.planfirst/running/<plan id>` marks of plan/store.py).

A pid alone names whoever has it now: a killed server's pid may be reused by an unrelated
process (a container's small pid space, a long uptime), which kept a plan "busy" for as long as
that process lived. Where the process's start time can be read (Linux /proc), a mark holds it
too and a live pid that started at another time is not the process that wrote it.
"""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether a process with this pid exists (ours, or anyone's)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def process_start(pid: int) -> str | None:
    """When process `pid` started (clock ticks since boot, Linux /proc), or None where that
    cannot be read: with the pid it names one process, not whoever has the pid now."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            stat = f.read(4096)
        return stat[stat.rindex(")") + 2 :].split()[19]
    except (OSError, ValueError, IndexError):
        return None


def owner_alive(owner: str) -> bool:
    """Whether the process an owner "<pid> <token> [<start time>]" names still runs: its pid
    is alive and, where the start time is known, started then (a reused pid is not it)."""
    parts = owner.split()
    try:
        pid = int(parts[0])
    except (ValueError, IndexError):
        return False
    if not alive(pid):
        return False
    if len(parts) < 3 or parts[2] == "-" or pid == os.getpid():
        return True
    now = process_start(pid)
    return now is None or now == parts[2]
