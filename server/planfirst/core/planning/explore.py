"""Read-only exploration tools for the planning model: view a file, list a folder, search text.

Every path goes through the WorkspaceGuard with the same exclusions as the context, outputs are
bounded, and every file shown is recorded (path -> sha256) for the plan's provenance.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import time
from collections.abc import Mapping
from typing import Any

from planfirst.core.planning import mcp
from planfirst.core.planning.context import documents_by_rel, hash_text, load_text
from planfirst.core.planning.linear_regex import compile_linear
from planfirst.core.workspace.gitignore import IgnoreRules
from planfirst.core.workspace.path_syntax import PathError, ReadRefused
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.core.workspace.walk import PRUNED_DIRS
from planfirst.llm.model import ToolOutcome, ToolSpec

VIEW_MAX_BYTES = 2_000_000
SEARCH_MAX_FILES = 5_000
SEARCH_MAX_BYTES = 32_000_000
SEARCH_FILE_MAX_BYTES = 1_000_000
SEARCH_DEADLINE_S = 3.0
SEARCH_LINE_CHARS = 2_000  # longer lines (minified code) are searched only up to here
SNIPPET_CHARS = 200
DEFAULT_RESULTS = 50
MAX_RESULTS = 200
LIST_MAX_ENTRIES = 500


def exploration_tools() -> list[ToolSpec]:
    """The read-only tools offered to the planning model (and the connected MCP servers'
    read-only tools while a planning run offers them, core/planning/mcp.py)."""
    offered = mcp.OFFERED.get()
    return _own_tools() + (list(offered[0].specs) if offered is not None else [])


def _own_tools() -> list[ToolSpec]:
    return [
        ToolSpec(
            name="view_file",
            description=(
                "Show a workspace file with 1-based line numbers, optionally only lines "
                "start_line..end_line (inclusive). Read-only. Secret and ignored files are refused."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Workspace-relative path, e.g. 'src/app.py'",
                    },
                    "start_line": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "First line (1-based)",
                    },
                    "end_line": {
                        "type": "integer",
                        "minimum": 1,
                        "description": "Last line (inclusive)",
                    },
                },
                "required": ["path"],
                "additionalProperties": False,
            },
        ),
        ToolSpec(
            name="list_dir",
            description="List the files and folders in a workspace folder (default: the root). Read-only.",
            input_schema={
                "type": "object",
                "properties": {
                    "path": {
                        "type": "string",
                        "description": "Workspace-relative folder; omit for the root",
                    },
                },
                "additionalProperties": False,
            },
        ),
        ToolSpec(
            name="search_text",
            description=(
                "Search workspace files for a regular expression (or plain text if it is not a valid "
                "regex); returns 'path:line: text' matches. Optionally restrict to files matching "
                "path_glob (gitignore-style, e.g. '*.py' or 'src/**/*.ts'). Read-only."
            ),
            input_schema={
                "type": "object",
                "properties": {
                    "pattern": {"type": "string", "description": "Regex or plain text"},
                    "path_glob": {"type": "string", "description": "Only files matching this glob"},
                    "max_results": {"type": "integer", "minimum": 1, "maximum": MAX_RESULTS},
                },
                "required": ["pattern"],
                "additionalProperties": False,
            },
        ),
    ]


class Explorer:
    """Handles the exploration tools for one planning run, confined to the workspace."""

    def __init__(
        self,
        guard: WorkspaceGuard,
        open_documents: Mapping[str, str] | None = None,
        max_output_chars: int = 20_000,
    ) -> None:
        self.guard = guard
        self.docs = documents_by_rel(guard, open_documents or {})
        self.max_output_chars = max_output_chars
        self.seen: dict[str, str] = {}  # path -> sha256 of every file whose content was shown
        self.calls = 0

    async def handle(self, name: str, tool_input: dict[str, Any]) -> ToolOutcome:
        """Run one tool call; problems come back as is_error outcomes the model can act on."""
        self.calls += 1
        if not isinstance(tool_input, dict):
            return ToolOutcome("tool input must be a JSON object", is_error=True)
        try:
            if name == "view_file":
                return await asyncio.to_thread(self._view, tool_input)
            if name == "list_dir":
                return await asyncio.to_thread(self._list, tool_input)
            if name == "search_text":
                return await asyncio.to_thread(self._search, tool_input)
            offered = mcp.OFFERED.get()
            if offered is not None and offered[0].handles(name):
                return await offered[0].call(name, tool_input, offered[1])
        except ReadRefused as e:
            return ToolOutcome(_refusal(e), is_error=True)
        except PathError as e:
            return ToolOutcome(f"refused: {e}", is_error=True)
        except _BadInput as e:
            return ToolOutcome(str(e), is_error=True)
        except OSError as e:  # a file vanished or became unreadable mid-call
            return ToolOutcome(f"{name}: {e.strerror or e}", is_error=True)
        known = ", ".join(t.name for t in exploration_tools())
        return ToolOutcome(
            f"unknown tool {name!r}; the read-only tools are: {known}", is_error=True
        )

    # ------------------------------------------------------------ tools

    def _view(self, args: dict[str, Any]) -> ToolOutcome:
        path = _str_arg(args, "path", required=True)
        start = _int_arg(args, "start_line")
        end = _int_arg(args, "end_line")
        rel, text = load_text(self.guard, path, self.docs, VIEW_MAX_BYTES)
        self.seen[rel] = hash_text(text)
        lines = text.splitlines()
        total = len(lines)
        if total == 0:
            return ToolOutcome(f"{rel} is empty")
        lo = max(start or 1, 1)
        hi = min(end or total, total)
        if lo > total:
            return ToolOutcome(
                f"{rel} has {total} lines; start_line {lo} is past the end", is_error=True
            )
        if hi < lo:
            raise _BadInput(f"end_line {hi} is before start_line {lo}")
        out: list[str] = [f"{rel} (lines {lo}-{hi} of {total})"]
        size = len(out[0])
        shown_to = lo - 1
        for i in range(lo - 1, hi):
            row = f"{i + 1:6}\t{lines[i]}"
            if size + len(row) + 1 > self.max_output_chars:
                break
            out.append(row)
            size += len(row) + 1
            shown_to = i + 1
        if shown_to < hi:
            out.append(
                f"[output truncated at line {shown_to}; call view_file with start_line={shown_to + 1}]"
            )
        return ToolOutcome("\n".join(out))

    def _list(self, args: dict[str, Any]) -> ToolOutcome:
        path = _str_arg(args, "path") or "."
        real, rel, real_rel = self.guard.locate(path)
        for n in dict.fromkeys((rel, real_rel)):
            reason = self.guard.excluded(n)
            if reason:
                raise ReadRefused(rel, reason)
        if not real.is_dir():
            raise _BadInput(f"{rel} is not a folder; use view_file for files")
        try:
            with os.scandir(real) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError as err:
            raise _BadInput(f"{rel}: cannot list ({err.strerror or err})") from None
        rows: list[str] = []
        hidden = 0
        for ent in entries:
            child = ent.name if rel == "." else f"{rel}/{ent.name}"
            try:
                is_dir = ent.is_dir(follow_symlinks=False)
            except OSError:
                continue
            if (is_dir and ent.name in PRUNED_DIRS) or self.guard.excluded(child):
                hidden += 1
                continue
            if ent.is_symlink():
                try:
                    target = self.guard.resolve(child)
                except PathError:
                    hidden += 1  # points outside: not part of the workspace
                    continue
                is_dir = target.is_dir()
            rows.append(ent.name + ("/" if is_dir else ""))
        head = f"{rel}/" if rel != "." else "./"
        note = f"\n({hidden} excluded or ignored entries not shown)" if hidden else ""
        if len(rows) > LIST_MAX_ENTRIES:
            more = len(rows) - LIST_MAX_ENTRIES
            rows = [*rows[:LIST_MAX_ENTRIES], f"… {more} more entries"]
        body = "\n".join(rows) if rows else "(empty)"
        return ToolOutcome(_cap(f"{head}\n{body}{note}", self.max_output_chars))

    def _search(self, args: dict[str, Any]) -> ToolOutcome:
        pattern = _str_arg(args, "pattern", required=True)
        glob = _str_arg(args, "path_glob")
        limit = _int_arg(args, "max_results") or DEFAULT_RESULTS
        limit = max(1, min(limit, MAX_RESULTS))
        regex, literal = _compile_search(pattern)
        matcher = None
        if glob:
            if glob.startswith("!"):
                raise _BadInput("path_glob cannot be negated")
            matcher = IgnoreRules("", [glob])
        deadline = time.monotonic() + SEARCH_DEADLINE_S
        results: list[str] = []
        scanned = 0
        bytes_read = 0
        stopped = ""
        # Unsaved new documents are searchable too; documents on disk come through the walk.
        unsaved = [
            p
            for p in self.docs
            if not (self.guard.root / p).exists() and not self.guard.excluded(p)
        ]

        def spent() -> bool:
            return bytes_read >= SEARCH_MAX_BYTES or time.monotonic() > deadline

        candidates = itertools.chain(self.guard.walk(stop=spent), unsaved)
        for rel in candidates:
            # the budget holds for every file walked, also those the glob skips (rt8: a glob
            # matching nothing walked a whole 200k-file tree past the deadline)
            if spent():
                break
            if matcher is not None and not matcher.match(rel, False):
                continue
            if scanned >= SEARCH_MAX_FILES:
                stopped = f"stopped after scanning {SEARCH_MAX_FILES} files"
                break
            try:
                _, text = load_text(self.guard, rel, self.docs, SEARCH_FILE_MAX_BYTES)
            except PathError:
                continue  # binary, huge or excluded files are silently skipped
            scanned += 1
            bytes_read += len(text)
            hit_here = False
            for no, line in enumerate(text.splitlines(), 1):
                probe = line[:SEARCH_LINE_CHARS]
                if (literal in probe) if regex is None else regex.search(probe):
                    snippet = line.strip()
                    if len(snippet) > SNIPPET_CHARS:
                        snippet = snippet[:SNIPPET_CHARS] + "…"
                    results.append(f"{rel}:{no}: {snippet}")
                    hit_here = True
                    if len(results) >= limit:
                        break
            if hit_here:
                self.seen[rel] = hash_text(text)
            if len(results) >= limit:
                stopped = f"showing the first {limit} matches"
                break
        if not stopped and spent():  # also when the walk ended on it, in files it skipped
            stopped = "stopped early (search budget used up); narrow path_glob"
        kind = "text" if regex is None else "regex"
        if not results:
            msg = f"no matches for {kind} {pattern!r}" + (
                f" in files matching {glob!r}" if glob else ""
            )
            return ToolOutcome(msg + (f" ({stopped})" if stopped else ""))
        tail = f"\n[{stopped}]" if stopped else ""
        return ToolOutcome(_cap("\n".join(results) + tail, self.max_output_chars))


class _BadInput(Exception):
    """A tool call with missing or ill-typed arguments."""


def _refusal(e: ReadRefused) -> str:
    if e.reason in ("not found", "a directory, not a file"):
        return f"{e.path}: {e.reason}"
    return f"excluded: {e.path} is {e.reason}; it is never shown to the model"


def _str_arg(args: dict[str, Any], key: str, required: bool = False) -> str:
    v = args.get(key)
    if v is None:
        if required:
            raise _BadInput(f"missing required argument {key!r}")
        return ""
    if not isinstance(v, str):
        raise _BadInput(f"argument {key!r} must be a string")
    return v


def _int_arg(args: dict[str, Any], key: str) -> int | None:
    v = args.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise _BadInput(f"argument {key!r} must be an integer")
    return v


def _compile_search(pattern: str) -> tuple[Any | None, str]:
    """(regex, literal): a linear-time regex when RE2 accepts the pattern, else plain text."""
    if not pattern:
        raise _BadInput("pattern is empty")
    return compile_linear(pattern), pattern


def _cap(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + "\n[output truncated]"
