"""Tiny helpers for tests that build workspaces file by file."""

from __future__ import annotations

from pathlib import Path


def write(root: Path, rel: str, text: str = "x = 1\n") -> Path:
    """Write `text` to `root/rel`, creating folders; return the path."""
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return p
