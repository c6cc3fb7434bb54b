"""One ACP session's conversation as it happened, kept so `session/load` can replay it whole.

The spec says a loaded session replays the entire conversation: the user's prompts, the agent's
messages and thoughts, every tool call with its updates. The transcript records each
`session/update` the session sent (plan views and command lists excepted: the current plan is
sent after the replay) and each prompt's text, merging consecutive chunks of one kind. It is
bounded (the oldest entries give way, with a note) and kept in the folder of the plan the
session works on, written through the plan store (its checks apply: no link, no special file),
the workspace's absolute path stored as a placeholder (plan folders may be committed).
Read back, every entry is checked against the ACP schema and paths outside the workspace are
dropped: a transcript in a cloned repository is data, like everything else there.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from pathlib import Path
from typing import Any

from acp.schema import SessionNotification

from planfirst.plan.store import PlanStore, StoreError
from planfirst.plan.visible import decode, encode

log = logging.getLogger("planfirst.acp")

MAX_ENTRIES = 4_000
MAX_BYTES = 2 << 20  # of the stored JSON
ROOT_TOKEN = "${workspace}"
SKIP = {"plan", "plan_update", "plan_removed", "available_commands_update", "usage_update"}
CHUNKS = {"user_message_chunk", "agent_message_chunk", "agent_thought_chunk"}
TRIMMED = {
    "sessionUpdate": "agent_message_chunk",
    "content": {"type": "text", "text": "(earlier parts of this conversation were trimmed)\n"},
}


class Transcript:
    """The replayable record of one session (in memory; `save` writes it to the plan folder)."""

    def __init__(self, store: PlanStore, session_id: str, root: Path) -> None:
        self.store = store
        self.session_id = session_id
        self.root = root
        self.entries: list[dict[str, Any]] = []
        self.trimmed = False
        self.dirty = False
        self._timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ recording

    def user(self, text: str) -> None:
        """A prompt the user sent (its text as the agent understood it)."""
        if text:
            self.add(
                {"sessionUpdate": "user_message_chunk", "content": {"type": "text", "text": text}}
            )

    def record(self, update: Any) -> None:
        """A session/update the session sent."""
        try:
            entry = update.model_dump(mode="json", by_alias=True, exclude_none=True)
        except AttributeError:
            return
        if entry.get("sessionUpdate") not in SKIP:
            self.add(entry)

    def add(self, entry: dict[str, Any]) -> None:
        last = self.entries[-1] if self.entries else None
        kind = entry.get("sessionUpdate")
        if (
            last is not None
            and kind in CHUNKS
            and last.get("sessionUpdate") == kind
            and last.get("content", {}).get("type") == "text"
            and entry.get("content", {}).get("type") == "text"
        ):
            last["content"] = {
                **last["content"],
                "text": last["content"]["text"] + entry["content"]["text"],
            }
        else:
            self.entries.append(entry)
        self.dirty = True
        self._soon()
        if len(self.entries) > MAX_ENTRIES:
            del self.entries[: len(self.entries) - MAX_ENTRIES]
            self.trimmed = True

    # ------------------------------------------------------------------ storage

    def _soon(self) -> None:
        """Save within a second (a killed agent loses at most that much of the conversation)."""
        if self._timer is None:
            with contextlib.suppress(RuntimeError):  # no running loop: saved at the turn's end
                self._timer = asyncio.get_running_loop().call_later(1.0, self.flush)

    def flush(self) -> None:
        """Save now, into the folder of the plan the session is bound to."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.save(self.store.session_plan(self.session_id))

    def _path(self, plan_id: str) -> Path:
        return self.store.plan_json(plan_id).parent / "transcripts" / f"{self.session_id}.json"

    def _dump(self) -> str:
        entries = ([TRIMMED] if self.trimmed else []) + self.entries
        text = json.dumps(entries, ensure_ascii=False)
        while len(text.encode()) > MAX_BYTES and len(entries) > 1:
            entries = [TRIMMED, *entries[max(2, len(entries) // 4) :]]
            self.trimmed = True
            text = json.dumps(entries, ensure_ascii=False)
        root = json.dumps(str(self.root))[1:-1]
        return text.replace(root, ROOT_TOKEN)

    def save(self, plan_id: str | None) -> None:
        """Write the transcript into the plan's folder (checked like every planfirst file)."""
        if plan_id is None or not self.dirty:
            return
        path = self._path(plan_id)
        try:
            self.store.check(path.parent)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.store.write_file(path, self._dump())
            self.dirty = False
        except (OSError, StoreError, ValueError) as e:
            log.warning("the transcript of %s was not saved: %s", self.session_id, e)

    def load_bound(self) -> None:
        """Read the transcript of the plan the session is bound to, if any."""
        plan_id = self.store.session_plan(self.session_id)
        if plan_id is not None:
            self.load(plan_id)

    def load(self, plan_id: str) -> None:
        """Read what an earlier process recorded (bad entries are dropped)."""
        try:
            text = self.store.read_file(self._path(plan_id), MAX_BYTES * 2)
        except (OSError, StoreError, ValueError):  # absent, a link, a FIFO, too big: no replay
            return
        root = json.dumps(str(self.root))[1:-1]
        try:
            raw = json.loads(text.replace(ROOT_TOKEN, root))
        except ValueError:
            return
        if not isinstance(raw, list):
            return
        self.trimmed = bool(raw) and raw[0] == TRIMMED
        if self.trimmed:
            raw = raw[1:]
        self.entries = [_shown(e) for e in raw[-MAX_ENTRIES:] if self._valid(e)]

    def _valid(self, entry: Any) -> bool:
        if not isinstance(entry, dict) or entry.get("sessionUpdate") in SKIP:
            return False
        try:
            SessionNotification.model_validate({"sessionId": self.session_id, "update": entry})
        except ValueError:
            return False
        return all(self._inside(p) for p in _paths(entry))

    def _inside(self, path: Any) -> bool:
        try:
            return isinstance(path, str) and Path(path).resolve().is_relative_to(self.root)
        except (OSError, ValueError):
            return False

    # ------------------------------------------------------------------ replay

    def replay(self) -> list[Any]:
        """The recorded updates, then a `failed` update for each tool call left open (the
        process that ran it is gone)."""
        out = [
            SessionNotification.model_validate({"sessionId": self.session_id, "update": e}).update
            for e in ([TRIMMED] if self.trimmed else []) + self.entries
        ]
        status: dict[str, str] = {}
        for e in self.entries:
            if e.get("sessionUpdate") in ("tool_call", "tool_call_update") and e.get("status"):
                status[e["toolCallId"]] = e["status"]
            elif e.get("sessionUpdate") == "tool_call":
                status.setdefault(e["toolCallId"], "pending")
        for call_id, st in status.items():
            if st in ("pending", "in_progress"):
                entry = {
                    "sessionUpdate": "tool_call_update",
                    "toolCallId": call_id,
                    "status": "failed",
                }
                self.entries.append(entry)
                out.append(
                    SessionNotification.model_validate(
                        {"sessionId": self.session_id, "update": entry}
                    ).update
                )
                self.dirty = True
        return out


def _shown(value: Any, key: str = "") -> Any:
    """An entry read back with its texts and titles escaped as everything planfirst shows
    (docs/reliability.md cases 34 and 43): a transcript in a cloned repository may hold raw
    bidi or control characters. What planfirst recorded itself was escaped already."""
    if isinstance(value, dict):
        return {k: _shown(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_shown(v, key) for v in value]
    if isinstance(value, str) and key in ("text", "title"):
        return encode(decode(value))  # idempotent for what planfirst escaped itself
    return value


def _paths(entry: dict[str, Any]) -> list[Any]:
    """Every file path a recorded tool call names (diffs and locations)."""
    out: list[Any] = []
    content = entry.get("content")
    for c in content if isinstance(content, list) else []:
        if isinstance(c, dict) and c.get("type") == "diff":
            out.append(c.get("path"))
    for loc in entry.get("locations") or []:
        if isinstance(loc, dict):
            out.append(loc.get("path"))
    return out
