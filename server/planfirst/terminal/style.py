"""The terminal's colours (none when stdout is not a terminal or NO_COLOR is set)."""

from __future__ import annotations

import os
import sys

BOLD, DIM, RED, GREEN, YELLOW, CYAN, RESET = (
    ("\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[33m", "\033[36m", "\033[0m")
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    else ("",) * 7
)
COLOURS = (BOLD, DIM, RED, GREEN, YELLOW, CYAN, RESET)


def colour_diff(diff: str) -> str:
    """A unified diff with terminal colours."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            out.append(f"{BOLD}{line}{RESET}")
        elif line.startswith("+"):
            out.append(f"{GREEN}{line}{RESET}")
        elif line.startswith("-"):
            out.append(f"{RED}{line}{RESET}")
        elif line.startswith("@@"):
            out.append(f"{CYAN}{line}{RESET}")
        else:
            out.append(line)
    return "\n".join(out)
