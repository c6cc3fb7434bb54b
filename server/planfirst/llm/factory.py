"""Build the planning and execution models from settings, for the server, the CLI and benchmarks.

Offline mode: with `PLANFIRST_SCRIPT=/path/script.json` (or `script=` given) a scripted loopback
Messages server is started in-process and the real SDK talks to it; no key, no network.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from planfirst.llm.facts import FactsCache
from planfirst.llm.model import Model, ModelError
from planfirst.settings import Settings

if TYPE_CHECKING:
    from planfirst.llm.scripted.server import ScriptedServer

NO_KEY = (
    "No Anthropic API key: set the ANTHROPIC_API_KEY environment variable before starting the "
    "editor, or the 'planfirst.anthropic.apiKey' client setting (the VS Code extension stores it "
    "with 'planfirst: Set Anthropic API Key'). For an offline try-out run 'make demo'."
)


class Models:
    """Creates one AnthropicModel per role, lazily; owns the scripted server in offline mode."""

    def __init__(
        self,
        settings: Settings,
        script: str | Path | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.warn = warn  # shown to the user (e.g. a deprecated model)
        script = script or os.environ.get("PLANFIRST_SCRIPT") or None
        self.scripted: ScriptedServer | None = None
        if script:
            # imported only here: the scripted server is 900 lines no real session needs
            from planfirst.llm.scripted.server import ScriptedServer

            # a script mismatch answers 400 (not retried): the run stops at once with the reason
            self.scripted = ScriptedServer(Path(script), mismatch_status=400).start()
        self._planning: Model | None = None
        self._execution: Model | None = None
        self._critique: Model | None = None
        self._chosen: dict[str, Model] = {}  # execution models chosen at approval, by name

    @property
    def offline(self) -> bool:
        """True when the scripted model answers instead of Claude."""
        return self.scripted is not None

    def _make(self, name: str) -> Model:
        # Imported on first use: the SDK takes about a second to import, which would otherwise
        # delay the server's answer to `initialize` (start-up goal: under 400 ms).
        from planfirst.llm.anthropic import AnthropicModel

        if self.scripted is not None:
            # Offline facts come from the scripted Models API, never from the user's cache.
            return AnthropicModel(
                name,
                self.settings,
                api_key="scripted-offline",
                base_url=self.scripted.base_url,
                warn=self.warn,
            )
        key = (
            self.settings.anthropic.api_key.get_secret_value()
            if self.settings.anthropic.api_key
            else None
        )
        if not key:
            raise ModelError(NO_KEY, kind="auth")
        return AnthropicModel(
            name,
            self.settings,
            api_key=key,
            base_url=self.settings.anthropic.base_url,
            facts_cache=FactsCache(),
            warn=self.warn,
        )

    def update(self, settings: Settings) -> None:
        """New settings: models are rebuilt on next use."""
        self.settings = settings
        self._planning = None
        self._execution = None
        self._critique = None
        self._chosen = {}

    def planning(self) -> Model:
        """The reasoning model that writes plans."""
        if self._planning is None:
            self._planning = self._make(self.settings.planning_model)
        return self._planning

    def execution(self) -> Model:
        """The fast model that implements steps."""
        if self._execution is None:
            self._execution = self._make(self.settings.execution_model)
        return self._execution

    def critique(self) -> Model:
        """The critic that reviews a fresh plan (the planning model unless set apart)."""
        name = self.settings.critique.model.strip()
        if not name or name == self.settings.planning_model or not self.settings.critique.enabled:
            return self.planning()
        if self._critique is None:
            self._critique = self._make(name)
        return self._critique

    def execution_as(self, name: str) -> Model:
        """A model that implements steps, by name (the one chosen when a plan was approved)."""
        if name == self.settings.execution_model:
            return self.execution()
        if name not in self._chosen:
            self._chosen[name] = self._make(name)
        return self._chosen[name]

    def close(self) -> None:
        """Stop the scripted server, if any."""
        if self.scripted is not None:
            self.scripted.stop()
            self.scripted = None
