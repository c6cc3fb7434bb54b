"""Red-team (#32): plan.md written by the background writer at the end of an operation
(`md_later`) never follows a link, never blocks on a FIFO, never raises on its thread, and keeps
a hand edit made between the save and the end of the operation (checks that hold today)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from planfirst.plan.files import StoreError
from planfirst.plan.store import PlanStore
from tests.support.plan_fixtures import make_plan


@pytest.mark.timeout(30)
@pytest.mark.parametrize("kind", ["fifo", "symlink", "directory", "hand-edit", "plan-dir-gone"])
def test_plan_md_replaced_before_the_writer_renders_it(tmp_path: Path, kind: str) -> None:
    root = tmp_path / "ws"
    st = PlanStore(root)
    plan = make_plan()
    st.save(plan)
    st.settle()
    victim = tmp_path / "victim"
    victim.write_text("victim\n")
    plan.task = "changed"
    st.save(plan, render_md=False)  # a step's last save: plan.md left to the writer
    md = st.plan_md(plan.id)
    if kind == "fifo":
        md.unlink()
        os.mkfifo(md)
    elif kind == "symlink":
        md.unlink()
        md.symlink_to(victim)
    elif kind == "directory":
        md.unlink()
        md.mkdir()
    elif kind == "hand-edit":
        md.write_text(md.read_text() + "\nmy note\n")
    else:
        shutil.rmtree(md.parent)
    st.md_later(plan.id)
    st.settle()  # the writer's job raised nothing, blocked on nothing
    try:
        kept = st.flush_md(plan.id)
    except StoreError:
        assert kind in ("fifo", "symlink", "directory")
    else:
        if kind == "hand-edit":
            assert kept is not None and "my note" in kept.read_text()
    assert victim.read_text() == "victim\n"
