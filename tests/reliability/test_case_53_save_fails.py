"""docs/reliability.md case 53: a plan that cannot be saved stops the step with a message. A
step's first record ("running") is written by the background writer while the model is asked;
when that write fails (a full disk, a file size limit, a read-only folder) the failure surfaces
at the next save. It came out as a bare `OSError` ("failed unexpectedly"); now it is a
SessionError that names the plan and what to do, nothing of the step reached the workspace, and
once the disk takes writes again the same step runs to the end."""

from __future__ import annotations

from pathlib import Path

import pytest

from planfirst.core.workflow.contracts import SessionError
from planfirst.core.workflow.session import Session
from planfirst.settings import Settings
from tests.reliability.conftest import Invariants
from tests.support.demo_script import DEMO
from tests.support.disk_full import disk_full
from tests.support.fake_host import FakeHost, ScriptedModels

TASK = "Add a --top N option to textkit count"


async def test_case_53_a_failed_background_write_stops_the_step_with_a_message(
    ws: Path, inv: Invariants
) -> None:
    srv = inv.scripted_server([*DEMO[0:5], *DEMO[2:7]])  # attempt 1 is asked twice
    settings = Settings.model_validate({"critique": {"model": "off"}})
    models = ScriptedModels(settings, srv.base_url)
    source = ws / "textkit" / "wordcount.py"
    before = source.read_text()
    try:
        session = Session(ws, settings, models, FakeHost(ws))
        plan = await session.generate(TASK)
        await session.approve(plan.id)
        with disk_full(2000), pytest.raises(SessionError) as err:  # plan.json is larger
            await session.execute_next(plan.id)
        assert err.value.code == "save_failed"
        assert plan.id in err.value.message and "File too large" in err.value.message
        assert source.read_text() == before, "the step changed the workspace unrecorded"
        assert session.load(plan.id).state(1).status.value == "pending"
        result = await session.execute_next(plan.id)  # the disk takes writes again
        assert (result.step, result.status.value) == (1, "done"), result
    finally:
        await models.aclose()
