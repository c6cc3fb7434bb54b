"""Fast, in-process checks: the path guard through every entry point (cases 1 and 16), plan
invariants and the markdown round trip as properties (case 2), commands (case 17), and the
case-22 invariant checker itself (it must catch each kind of violation)."""

from __future__ import annotations

import copy
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planfirst.core.commands.validate import run_command
from planfirst.core.editing.overlay import Overlay
from planfirst.core.planning.explore import Explorer
from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.plan.model import PlanBody, normalise_rel_path
from planfirst.plan.render import parse_markdown, render
from tests.reliability.conftest import CANARY, RUN_VAR, Invariants, tagged_pids
from tests.support.plan_fixtures import body_dict, make_plan

HOSTILE = [
    "../../.ssh/config",
    "a/../../x",
    "/etc/passwd",
    "C:\\x",
    "C:/x",
    "\\\\server\\share\\x",
    "~/.bashrc",
    "a\x00b",
    "file:///etc/passwd",
    "",
]


@pytest.fixture
def box(tmp_path: Path, inv: Invariants) -> tuple[Path, WorkspaceGuard]:
    """A workspace `ws` beside a sibling `ws-evil` and the sentinel, with symlinks pointing out."""
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "ok.txt").write_text("fine\n")
    evil = tmp_path / "ws-evil"
    evil.mkdir()
    (evil / "secret.txt").write_text(CANARY)
    (ws / "dir-out").symlink_to(inv.sentinel, target_is_directory=True)
    (ws / "file-out").symlink_to(inv.sentinel / "passwd")
    inv.workspaces.append(ws)
    return ws, WorkspaceGuard(ws)


@pytest.mark.parametrize(
    "path", [*HOSTILE, "dir-out/passwd", "file-out", "../ws-evil/secret.txt", "<evil>"]
)
async def test_case_01_16_every_entry_point_refuses_paths_out(
    box: tuple[Path, WorkspaceGuard], path: str
) -> None:
    """Cases 1 and 16: guard, plan model, overlay and explorer refuse each hostile path with a
    message naming it; nothing outside the root is read (the canary never appears)."""
    ws, guard = box
    if path == "<evil>":
        path = str(ws.parent / "ws-evil" / "secret.txt")  # "/…/ws-evil" starts with "/…/ws"
    with pytest.raises(PathError):
        guard.resolve(path)
    lexical_ok = path in ("dir-out/passwd", "file-out")  # plain relative names: only the disk knows
    if not lexical_ok:
        try:
            norm = normalise_rel_path(path)
        except ValueError:
            pass
        else:  # accepted only as a harmless relative name ("file:/etc/passwd" is a dir "file:")
            assert not norm.startswith("/") and ".." not in norm.split("/")
            try:
                assert guard.resolve(norm).is_relative_to(ws.resolve())
            except PathError:
                pass  # and the guard refuses it wherever it is used
    overlay = Overlay(
        lambda p: (ws / p).read_text() if (ws / p).is_file() else None,
        [path, "ok.txt"],
        [path],
        resolve=guard.rel,
    )
    for cmd in (
        {"command": "view", "path": path},
        {"command": "create", "path": path, "file_text": "x"},
        {"command": "str_replace", "path": path, "old_str": "root", "new_str": "pwned"},
    ):
        out = await overlay.handle("str_replace_based_edit_tool", cmd)
        assert out.is_error and CANARY not in out.text and "root:x" not in out.text
    assert overlay.changes() == {}
    ex = Explorer(guard)
    for tool, args in (
        ("view_file", {"path": path}),
        ("list_dir", {"path": path}),
        ("search_text", {"pattern": "root", "glob": path}),
    ):
        out = await ex.handle(tool, args)
        assert CANARY not in out.text and "root:x:0:0" not in out.text


def test_case_16_case_tricks_and_resolved_comparison(tmp_path: Path, inv: Invariants) -> None:
    """Case 16: on a case-insensitive file system a differently-cased spelling of the root is
    inside and a differently-cased sibling prefix is not; comparisons use resolved paths."""
    inv.beside |= {"Proj", "proj-evil"}
    ws = tmp_path / "Proj"
    ws.mkdir()
    (tmp_path / "proj-evil").mkdir()
    guard = WorkspaceGuard(ws, case_insensitive=True)
    assert guard.rel(str(ws / "a.py")) == "a.py"
    for bad in (
        str(tmp_path / "PROJ-EVIL" / "x"),
        str(tmp_path / "proj-evil" / "x"),
        str(tmp_path / "PROJ") + "/../proj-evil/x",
    ):
        with pytest.raises(PathError):
            guard.resolve(bad)
    strict = WorkspaceGuard(ws, case_insensitive=False)
    with pytest.raises(PathError):
        strict.resolve(str(tmp_path / "PROJ" / "a.py"))


# ---------------------------------------------------------------- case 2: plan invariants


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(perm=st.permutations([1, 2, 3]), dup=st.booleans(), unlisted=st.booleans())
def test_case_02_plan_invariants_property(perm: list[int], dup: bool, unlisted: bool) -> None:
    """Case 2: renumbering steps so that one depends on a later step, repeating an order, or
    naming a file the plan does not list is rejected at parse time with a message; the
    original order with none of these parses."""
    data = body_dict()
    for step, order in zip(data["steps"], perm, strict=True):
        step["order"] = order
    if dup:
        data["steps"][1]["order"] = data["steps"][0]["order"]
    if unlisted:
        data["steps"][0]["files_to_modify"] = [
            *data["steps"][0]["files_to_modify"],
            "textkit/other.py",
        ]
    broken = dup or unlisted or list(perm) != [1, 2, 3]
    if not broken:
        assert PlanBody.model_validate(data).steps[0].order == 1
        return
    with pytest.raises(ValidationError) as e:
        PlanBody.model_validate(data)
    assert str(e.value).strip()


_LINE = (
    st.text(
        alphabet=st.characters(
            blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="`\\"
        ),
        min_size=1,
        max_size=40,
    )
    .map(str.strip)
    .filter(bool)
)


@settings(max_examples=60, deadline=None)
@given(summary=_LINE, risk=_LINE, desc=_LINE, changes=_LINE, criterion=_LINE)
def test_case_02_markdown_round_trip_of_an_edited_plan(
    summary: str, risk: str, desc: str, changes: str, criterion: str
) -> None:
    """Case 2 (round trip): a plan edited with arbitrary unicode text renders to markdown that
    parses back to the same plan body."""
    plan = make_plan()
    body = plan.body.model_copy(deep=True)
    body.summary = summary
    body.risks = [risk]
    body.steps[0].description = desc
    body.files_to_modify[0].changes = changes
    body.test_criteria = [criterion]
    edited = copy.deepcopy(plan)
    edited.body = PlanBody.model_validate(body.model_dump())
    _task, parsed = parse_markdown(render(edited).text)
    assert parsed == edited.body


# ---------------------------------------------------------------- case 17: commands


async def test_case_17_timeout_kills_the_group_and_caps_output(
    tmp_path: Path, inv: Invariants
) -> None:
    """Case 17: a timed-out command is killed with its whole process group (no orphans), its
    output is capped while it streams, and *KEY*/*SECRET*/*TOKEN* variables never reach it."""
    prog = (
        "import os, subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        "print(sorted(k for k in os.environ if any(w in k for w in ('KEY', 'SECRET', 'TOKEN'))), flush=True)\n"
        "sys.stdout.write('y' * 5_000_000); sys.stdout.flush(); time.sleep(60)\n"
    )
    env = {**os.environ, "ANTHROPIC_API_KEY": "sk-x", "AWS_SECRET_ACCESS_KEY": "s", "GH_TOKEN": "t"}
    t0 = time.monotonic()
    res = await run_command(
        [sys.executable, "-c", prog], tmp_path, timeout_s=2, output_cap=10_000, env=env
    )
    # returned before the group's own sleep(60) could end: it was killed, not waited for
    assert res.timed_out and time.monotonic() - t0 < 60
    assert res.output.startswith("[]") and len(res.output) < 20_000
    assert tagged_pids(inv.run_id) == []


# ---------------------------------------------------------------- case 22: the checker itself


def test_case_22_the_invariant_checker_catches_each_violation(
    tmp_path: Path, inv: Invariants
) -> None:
    """Case 22: the checker used after every test really reports a touched sentinel, a
    leftover child, the canary in a plan file and in a log, an unparseable plan file, and a
    request answered twice (or never)."""
    inv.beside.add("inner")
    sub = tmp_path / "inner"
    sub.mkdir()
    chk = Invariants(sub)
    assert chk.check() == []
    ws = sub / "ws"
    ws.mkdir()
    chk.workspaces.append(ws)
    (chk.sentinel / "config").write_text("changed\n")
    child = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(30)"],
        env={**os.environ, RUN_VAR: chk.run_id},
    )
    plan_dir = ws / ".planfirst" / "plans" / "p-000000"
    plan_dir.mkdir(parents=True)
    (plan_dir / "plan.json").write_text("{broken")
    (ws / ".planfirst" / "note").write_text(CANARY)
    log = sub / "server-0.log"
    log.write_text(f"sent {CANARY}\n")
    chk.logs.append(log)

    class FakeLedger:
        def problems(self) -> list[str]:
            from tests.reliability.conftest import Ledger

            led = Ledger.__new__(Ledger)
            led.sent, led.exempt, led.null_expected = {"a": "x", "b": "y"}, set(), 0
            from collections import Counter

            led.answers = Counter({"a": 2, None: 1})
            return Ledger.problems(led)

    chk.ledgers.append(FakeLedger())  # type: ignore[arg-type]
    problems = "\n".join(chk.check(wait=0.3))
    child.wait(5)
    assert "sentinel" in problems
    assert f"process {child.pid}" in problems
    assert "canary secret is in" in problems and "log" in problems
    assert "does not parse" in problems
    assert "answered 2 times" in problems and "answered 0 times" in problems
    assert "1 answer(s) to id null, 0 expected" in problems
