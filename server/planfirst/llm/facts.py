"""Model facts: what the chosen model accepts, from the Models API, a disk cache or the catalogue.

`AnthropicModel` asks the Models API (`GET /v1/models/{id}`) once per model and keeps the answer
in `$XDG_CACHE_HOME/planfirst/model-facts.json` (default `~/.cache/...`) for `FACTS_TTL_S`; the
catalogue (`catalog.py`) is the fallback when the API cannot be reached. This module does not
import the SDK: it parses the Models API's JSON (`ModelInfo.model_dump(mode="json")`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
import stat
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from planfirst.llm.catalog import (
    DEFAULT_EXECUTION_MODEL,
    DEFAULT_PLANNING_MODEL,
    ModelInfo,
    ThinkingStyle,
)

log = logging.getLogger(__name__)

FACTS_TTL_S = 24 * 3600.0
EFFORT_LEVELS = ("low", "medium", "high", "xhigh", "max")
THINKING_TYPES = ("adaptive", "enabled", "disabled", "between_tools")
_LINE_DEFAULTS = {
    "opus": DEFAULT_PLANNING_MODEL,
    "fable": DEFAULT_PLANNING_MODEL,
    "mythos": DEFAULT_PLANNING_MODEL,
    "sonnet": DEFAULT_EXECUTION_MODEL,
    "haiku": "claude-haiku-5-5",
}


@dataclass(frozen=True)
class ModelFacts:
    """What one model accepts, and where planfirst learnt it."""

    id: str
    display_name: str
    lifecycle: str  # active | deprecated | retired
    max_tokens: int  # the largest max_tokens it takes
    max_input_tokens: int  # its context window
    thinking_types: tuple[str, ...]  # accepted thinking.type values
    efforts: tuple[str, ...]  # accepted output_config.effort levels (empty: none)
    strict_tools: bool  # structured outputs / `strict: true` tools
    retires_at: str | None = None
    replacement: str | None = None  # a current model to suggest instead
    source: str = "catalogue"  # "Models API" | "cache" | "catalogue"
    # Not in the Models API's answer: always from the catalogue.
    off_efforts: tuple[str, ...] | None = None  # efforts allowed with thinking off (None: all)
    forced_tool_choice: bool = True  # tool_choice any/tool accepted with thinking off

    @property
    def always_thinks(self) -> bool:
        """Thinking cannot be turned off: neither `disabled` nor `between_tools` is accepted."""
        thinks = any(t in self.thinking_types for t in ("adaptive", "enabled"))
        return thinks and not self.off_type

    @property
    def off_type(self) -> str | None:
        """How this model turns thinking off: `disabled`, else `between_tools`, else None."""
        for t in ("disabled", "between_tools"):
            if t in self.thinking_types:
                return t
        return None

    @property
    def style(self) -> ThinkingStyle:
        """How to ask for thinking: adaptive where accepted, else a budget, else none."""
        if "adaptive" in self.thinking_types:
            return "adaptive"
        if "enabled" in self.thinking_types:
            return "budget"
        return "none"


def facts_from_catalog(info: ModelInfo) -> ModelFacts:
    """Facts from planfirst's own table (the offline fallback)."""
    return ModelFacts(
        id=info.name,
        display_name=info.display_name or info.name,
        lifecycle=info.lifecycle,
        max_tokens=info.max_output_tokens,
        max_input_tokens=info.context_window,
        thinking_types=info.thinking_types,
        efforts=info.efforts,
        strict_tools=info.thinking != "none",
        retires_at=info.retires_at,
        replacement=info.replacement,
        source="catalogue" if info.known else "guess",
        off_efforts=info.off_efforts,
        forced_tool_choice=info.forced_tool_choice,
    )


def _supported(obj: Any, *keys: str) -> bool:
    for k in keys:
        if not isinstance(obj, dict):
            return False
        obj = obj.get(k)
    return bool(obj.get("supported")) if isinstance(obj, dict) else False


def facts_from_api(data: dict[str, Any], fallback: ModelInfo, source: str) -> ModelFacts:
    """Facts from a Models API answer (`ModelInfo` as JSON); missing fields from `fallback`."""
    base = facts_from_catalog(fallback)
    caps = data.get("capabilities")
    thinking = base.thinking_types
    efforts = base.efforts
    strict = base.strict_tools
    if isinstance(caps, dict):
        # each capability is read only when it has the Models API's shape; an unreadable one
        # (a gateway's or a tampered cache's) keeps the catalogue's value
        types = _dict(caps.get("thinking")).get("types")
        if isinstance(types, dict):
            thinking = tuple(t for t in THINKING_TYPES if _supported(types, t))
        effort = caps.get("effort")
        if isinstance(effort, dict):
            efforts = (
                tuple(e for e in EFFORT_LEVELS if _supported(effort, e))
                if effort.get("supported")
                else ()
            )
        strict = _supported(caps, "structured_outputs")
    line = data.get("line")
    replacement = fallback.replacement if fallback.known else None
    if replacement is None:
        replacement = _LINE_DEFAULTS.get(str(line), DEFAULT_PLANNING_MODEL)
    return ModelFacts(
        id=str(data.get("id") or fallback.name),
        display_name=str(data.get("display_name") or fallback.name),
        lifecycle=str(data.get("lifecycle") or base.lifecycle)
        if data.get("lifecycle") in (None, "active", "deprecated", "retired")
        else base.lifecycle,
        max_tokens=_positive(data.get("max_tokens"), base.max_tokens),
        max_input_tokens=_positive(data.get("max_input_tokens"), base.max_input_tokens),
        thinking_types=thinking,
        efforts=efforts,
        strict_tools=strict,
        retires_at=_date(data.get("retires_at")) or base.retires_at,
        replacement=replacement,
        source=source,
        off_efforts=base.off_efforts,
        forced_tool_choice=base.forced_tool_choice,
    )


def _positive(value: Any, default: int) -> int:
    """A positive integer from an answer (a gateway's or a cache's), else `default`."""
    ok = isinstance(value, int) and not isinstance(value, bool) and value > 0
    return value if ok else default


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _date(value: Any) -> str | None:
    return str(value)[:10] if value else None


def model_info_json(info: ModelInfo) -> dict[str, Any]:
    """The Models API's answer for a catalogue entry (what the scripted server serves)."""
    types = info.thinking_types
    effort: dict[str, Any] = {"supported": bool(info.efforts)}
    for level in EFFORT_LEVELS:
        effort[level] = {"supported": level in info.efforts}
    no = {"supported": False}
    return {
        "type": "model",
        "id": info.name,
        "display_name": info.display_name or info.name,
        "created_at": "2026-01-01T00:00:00Z",
        "lifecycle": info.lifecycle,
        "deprecated_at": None if info.lifecycle == "active" else "2026-06-01T00:00:00Z",
        "retires_at": f"{info.retires_at}T00:00:00Z" if info.retires_at else None,
        "max_tokens": info.max_output_tokens,
        "max_input_tokens": info.context_window,
        "capabilities": {
            "batch": {"supported": True},
            "citations": {"supported": True},
            "code_execution": no,
            "context_management": {"supported": False},
            "effort": effort,
            "image_input": {"supported": True},
            "pdf_input": {"supported": True},
            "server_tools": no,
            "structured_outputs": {"supported": info.thinking != "none"},
            "thinking": {
                "supported": info.thinking != "none",
                "types": {t: {"supported": t in types} for t in THINKING_TYPES},
            },
        },
    }


def lifecycle_problem(facts: ModelFacts) -> tuple[str | None, str | None]:
    """(error, warning): a retired model is an error, a deprecated one a warning."""
    choice = facts.replacement or DEFAULT_PLANNING_MODEL
    settings = "planfirst.planningModel / planfirst.executionModel"
    if facts.lifecycle == "retired":
        return (
            f"model {facts.id!r} is retired: the Anthropic API refuses every request naming it. "
            f"Choose a current model such as {choice!r} ({settings})",
            None,
        )
    if facts.lifecycle == "deprecated":
        when = f" and retires on {facts.retires_at}" if facts.retires_at else ""
        return (
            None,
            f"model {facts.id!r} is deprecated{when}; switch to {choice!r} ({settings}) "
            "before it stops answering",
        )
    return None, None


def default_cache_path() -> Path:
    """`$XDG_CACHE_HOME/planfirst/model-facts.json` (XDG default: `~/.cache`)."""
    root = os.environ.get("XDG_CACHE_HOME") or ""
    base = Path(root) if root and Path(root).is_absolute() else Path.home() / ".cache"
    return base / "planfirst" / "model-facts.json"


class FactsCache:
    """Models API answers on disk, keyed by endpoint and model id, fresh for `ttl_s` seconds.

    The file is data from outside (docs/reliability.md case 45): every entry is checked on read
    (a finite number `fetched_at`, an object `info` whose `id` is a string and whose limits are
    positive integers); a bad entry is ignored and the file rewritten without it, never an error
    that stops model calls. The file is written 0600 in a 0700 directory, atomically; a symlink
    or special file in its place is never followed.
    """

    def __init__(
        self,
        path: Path | None = None,
        ttl_s: float = FACTS_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path or default_cache_path()
        self.ttl_s = ttl_s
        self._clock = clock

    @staticmethod
    def key(base_url: str | None, model: str) -> str:
        return f"{(base_url or 'https://api.anthropic.com').rstrip('/')}|{model}"

    def _load(self) -> tuple[dict[str, Any], bool]:
        """(valid entries, whether the file held anything else)."""
        try:
            st = os.lstat(self.path)
        except OSError:
            return {}, False
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CACHE_BYTES:
            return {}, True
        try:
            fd = os.open(self.path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            with os.fdopen(fd, "rb") as f:
                data = json.loads(f.read(MAX_CACHE_BYTES + 1).decode("utf-8"))
        except (OSError, ValueError):
            return {}, True
        if not isinstance(data, dict):
            return {}, True
        good = {k: v for k, v in data.items() if isinstance(k, str) and valid_entry(v)}
        wide = stat.S_IMODE(st.st_mode) & 0o077 != 0
        return good, len(good) != len(data) or wide

    def _read(self) -> dict[str, Any]:
        return self._load()[0]

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer for `key` if younger than the TTL, else None. Bad entries (or a
        file readable by others) make the file be rewritten with the good ones only."""
        data, bad = self._load()
        if bad:
            log.warning("the model facts cache %s held malformed entries; rewriting it", self.path)
            self._write(self._fresh(data))
        entry = data.get(key)
        if entry is None:
            return None
        age = self._clock() - float(entry["fetched_at"])
        if not 0 <= age < self.ttl_s:
            return None
        info: dict[str, Any] = entry["info"]
        return info

    def _fresh(self, data: dict[str, Any]) -> dict[str, Any]:
        now = self._clock()
        return {k: v for k, v in data.items() if 0 <= now - float(v["fetched_at"]) < self.ttl_s}

    def put(self, key: str, info: dict[str, Any]) -> None:
        """Store an answer (atomically; a cache that cannot be written is only logged)."""
        # Expired entries are dropped, so the file holds only what is fresh (endpoints and models
        # used within the TTL), never a growing history.
        data = self._fresh(self._read())
        data[key] = {"fetched_at": self._clock(), "info": info}
        self._write(data)

    def _write(self, data: dict[str, Any]) -> None:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".model-facts-")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as f:
                    json.dump(data, f, indent=1, sort_keys=True)
                os.replace(tmp, self.path)  # replaces a planted symlink, never follows it
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
        except OSError as e:
            log.warning("cannot write the model facts cache %s: %s", self.path, e)


MAX_CACHE_BYTES = 4_000_000


def valid_entry(entry: Any) -> bool:
    """A cache entry planfirst could have written: `fetched_at` a finite number, `info` a Models
    API answer whose id is a string and whose limits, where present, are positive integers."""
    if not isinstance(entry, dict):
        return False
    at = entry.get("fetched_at")
    if isinstance(at, bool) or not isinstance(at, int | float) or not math.isfinite(at):
        return False
    info = entry.get("info")
    if not isinstance(info, dict) or not isinstance(info.get("id"), str):
        return False
    for limit in ("max_tokens", "max_input_tokens"):
        v = info.get(limit)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 1):
            return False
    if info.get("lifecycle") not in (None, "active", "deprecated", "retired"):
        return False
    caps = info.get("capabilities")
    return caps is None or isinstance(caps, dict)
