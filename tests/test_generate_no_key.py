"""Generate Plan without an API key fails before it opens anything: no plan document is shown
for a plan that will never exist. The editor's plan view adopted that document and kept an
"unknown plan" error open beside the plan made after Set API Key (code-server e2e, CI)."""

from __future__ import annotations

from pathlib import Path

import pytest

from planfirst.core.workflow.session import Session
from planfirst.llm.factory import Models
from planfirst.llm.model import ModelError
from planfirst.settings import Settings
from tests.support.fake_host import FakeHost


class StartRecordingHost(FakeHost):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.started: list[str] = []

    def plan_started(self, plan_id: str, title: str) -> None:
        self.started.append(plan_id)


async def test_generate_without_a_key_shows_no_plan_document(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("PLANFIRST_SCRIPT", raising=False)
    settings = Settings.model_validate({"critique": {"model": "off"}})
    host = StartRecordingHost(workspace)
    s = Session(workspace, settings, Models(settings), host)
    with pytest.raises(ModelError, match="No Anthropic API key"):
        await s.generate("Add a describe helper")
    assert host.started == []  # no document opened for a plan that is never made
    assert s.partial == {}
