"""Model facts: what the chosen model accepts, from the Models API, a disk cache or the catalogue.

`AnthropicModel` asks the Models API (`GET /v1/models/{id}`) once per model and keeps the answer
in `$XDG_CACHE_HOME/planfirst/model-facts.json` (default `~/.cache/...`) for `FACTS_TTL_S`; the
catalogue (`catalog.py`) is the fallback when the API cannot be reached. This module does not
import the SDK: it parses the Models API's JSON (`ModelInfo.model_dump(mode="json")`).
"""

from __future__ import annotations

import json
import logging
import os
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
THINKING_TYPES = ("adaptive", "enabled", "disabled")
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

    @property
    def always_thinks(self) -> bool:
        """Thinking cannot be turned off (and a forced tool_choice is refused)."""
        thinks = any(t in self.thinking_types for t in ("adaptive", "enabled"))
        return thinks and "disabled" not in self.thinking_types

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
        types = (caps.get("thinking") or {}).get("types") or {}
        thinking = tuple(t for t in THINKING_TYPES if _supported(types, t))
        effort = caps.get("effort") or {}
        efforts = (
            tuple(e for e in EFFORT_LEVELS if _supported(effort, e))
            if isinstance(effort, dict) and effort.get("supported")
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
        lifecycle=str(data.get("lifecycle") or base.lifecycle),
        max_tokens=int(data.get("max_tokens") or base.max_tokens),
        max_input_tokens=int(data.get("max_input_tokens") or base.max_input_tokens),
        thinking_types=thinking,
        efforts=efforts,
        strict_tools=strict,
        retires_at=_date(data.get("retires_at")) or base.retires_at,
        replacement=replacement,
        source=source,
    )


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
                "types": {t: {"supported": t in types} for t in (*THINKING_TYPES, "between_tools")},
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
    """Models API answers on disk, keyed by endpoint and model id, fresh for `ttl_s` seconds."""

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

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> dict[str, Any] | None:
        """The cached answer for `key` if younger than the TTL, else None."""
        entry = self._read().get(key)
        if not isinstance(entry, dict) or not isinstance(entry.get("info"), dict):
            return None
        age = self._clock() - float(entry.get("fetched_at") or 0)
        if not 0 <= age < self.ttl_s:
            return None
        info: dict[str, Any] = entry["info"]
        return info

    def put(self, key: str, info: dict[str, Any]) -> None:
        """Store an answer (atomically; a cache that cannot be written is only logged)."""
        now = self._clock()
        # Expired entries are dropped, so the file holds only what is fresh (endpoints and models
        # used within the TTL), never a growing history.
        data = {
            k: v
            for k, v in self._read().items()
            if isinstance(v, dict) and 0 <= now - float(v.get("fetched_at") or 0) < self.ttl_s
        }
        data[key] = {"fetched_at": now, "info": info}
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".model-facts-")
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as e:
            log.warning("cannot write the model facts cache %s: %s", self.path, e)
