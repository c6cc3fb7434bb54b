"""The terminal's colours (none when stdout is not a terminal or NO_COLOR is set)."""

from __future__ import annotations

import os
import secrets
import sys

_SGR = ("\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[33m", "\033[36m", "\033[0m")
_ON = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
# planfirst's colours are markers until they are printed (`paint`): private-use characters
# around a per-process random key. Text from the repository, the model or a command cannot
# hold one (it cannot know the key, and `for_terminal` escapes a private-use character), so
# it cannot send a colour sequence either: with the sequences themselves kept, a command's
# output that printed ESC[32m reached the terminal raw and could forge "step 1: done" (rt5).
_KEY = secrets.token_hex(8)
_MARKS = tuple(f"\ue000{_KEY}{i}\ue001" for i in range(len(_SGR)))
BOLD, DIM, RED, GREEN, YELLOW, CYAN, RESET = _MARKS if _ON else ("",) * 7
COLOURS = (BOLD, DIM, RED, GREEN, YELLOW, CYAN, RESET)
_PAINT = dict(zip(_MARKS, _SGR, strict=True))


def paint(text: str) -> str:
    """`text` (escaped by `for_terminal` with COLOURS kept) with planfirst's colour markers
    turned into the terminal's colour sequences."""
    if not _ON or "\ue000" not in text:
        return text
    for mark, sgr in _PAINT.items():
        text = text.replace(mark, sgr)
    return text


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
