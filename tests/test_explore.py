"""Read-only exploration tools: confined to the workspace, same exclusions, bounded output."""

from __future__ import annotations

from pathlib import Path

import pytest

from planfirst.core.planning.context import hash_text
from planfirst.core.planning.explore import Explorer, exploration_tools
from planfirst.core.workspace.paths import WorkspaceGuard
from tests.support.ws_files import write

CANARY = "CANARY-55e1"


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write(root, "src/app.py", "".join(f"line {i}\n" for i in range(1, 101)))
    write(root, "src/auth.py", "def login(user):\n    return check_password(user)\n")
    write(root, "web/main.ts", "export function login() {}\n")
    write(root, ".env", f"TOKEN={CANARY}\n")
    write(root, ".gitignore", "dist/\n")
    write(root, "dist/bundle.js", f"login {CANARY}\n")
    write(root, "keys/id_rsa", CANARY)
    (tmp_path / "outside.txt").write_text(CANARY)
    return root


@pytest.fixture
def ex(ws: Path) -> Explorer:
    return Explorer(WorkspaceGuard(ws))


def test_tool_specs() -> None:
    specs = {t.name: t for t in exploration_tools()}
    assert set(specs) == {"view_file", "list_dir", "search_text"}
    assert specs["view_file"].input_schema["required"] == ["path"]
    assert specs["search_text"].input_schema["required"] == ["pattern"]


async def test_view_file_range_and_seen(ex: Explorer, ws: Path) -> None:
    out = await ex.handle("view_file", {"path": "src/app.py", "start_line": 10, "end_line": 12})
    assert not out.is_error
    assert out.text.splitlines() == [
        "src/app.py (lines 10-12 of 100)",
        "    10\tline 10",
        "    11\tline 11",
        "    12\tline 12",
    ]
    assert ex.seen == {"src/app.py": hash_text((ws / "src/app.py").read_text())}


async def test_view_file_output_is_bounded(ws: Path) -> None:
    ex = Explorer(WorkspaceGuard(ws), max_output_chars=200)
    out = await ex.handle("view_file", {"path": "src/app.py"})
    assert len(out.text) < 300
    assert "call view_file with start_line=" in out.text


async def test_view_file_prefers_open_document(ws: Path) -> None:
    ex = Explorer(WorkspaceGuard(ws), open_documents={"src/auth.py": "UNSAVED = True\n"})
    out = await ex.handle("view_file", {"path": "src/auth.py"})
    assert "UNSAVED = True" in out.text
    assert ex.seen["src/auth.py"] == hash_text("UNSAVED = True\n")


@pytest.mark.parametrize(
    ("path", "needle"),
    [
        (".env", "excluded: .env is secret"),
        ("keys/id_rsa", "excluded: keys/id_rsa is secret"),
        ("dist/bundle.js", "excluded: dist/bundle.js is gitignored"),
        (".git/config", "excluded"),
        ("../outside.txt", "refused"),
        ("/etc/passwd", "refused"),
        ("src/missing.py", "not found"),
    ],
)
async def test_view_file_refusals(ex: Explorer, path: str, needle: str) -> None:
    out = await ex.handle("view_file", {"path": path})
    assert out.is_error
    assert needle in out.text
    assert CANARY not in out.text
    assert ex.seen == {}


async def test_symlink_out_is_refused(ws: Path, tmp_path: Path) -> None:
    (ws / "link.txt").symlink_to(tmp_path / "outside.txt")
    (ws / "linkdir").symlink_to(tmp_path, target_is_directory=True)
    ex = Explorer(WorkspaceGuard(ws))
    for args in ({"path": "link.txt"}, {"path": "linkdir/outside.txt"}):
        out = await ex.handle("view_file", args)
        assert out.is_error and "symlink" in out.text and CANARY not in out.text
    listing = await ex.handle("list_dir", {})
    assert "link.txt" not in listing.text and "linkdir" not in listing.text
    out = await ex.handle("list_dir", {"path": "linkdir"})
    assert out.is_error


async def test_list_dir(ex: Explorer) -> None:
    out = await ex.handle("list_dir", {})
    assert not out.is_error
    lines = out.text.splitlines()
    assert lines[0] == "./"
    assert "src/" in lines and "web/" in lines and ".gitignore" in lines
    assert ".env" not in lines and "dist/" not in lines
    assert "excluded or ignored entries not shown" in out.text
    sub = await ex.handle("list_dir", {"path": "src"})
    assert sub.text.splitlines()[1:] == ["app.py", "auth.py"]
    bad = await ex.handle("list_dir", {"path": "src/app.py"})
    assert bad.is_error and "not a folder" in bad.text
    assert (await ex.handle("list_dir", {"path": "dist"})).is_error


async def test_search_text_regex_and_plain(ex: Explorer, ws: Path) -> None:
    out = await ex.handle("search_text", {"pattern": r"def \w+\("})
    assert out.text.splitlines() == ["src/auth.py:1: def login(user):"]
    assert ex.seen == {"src/auth.py": hash_text((ws / "src/auth.py").read_text())}
    plain = await ex.handle("search_text", {"pattern": "check_password(user"})  # invalid regex
    assert plain.text == "src/auth.py:2: return check_password(user)"
    every = await ex.handle("search_text", {"pattern": "login"})
    assert CANARY not in every.text
    assert "dist/bundle.js" not in every.text
    assert set(every.text.splitlines()) == {
        "src/auth.py:1: def login(user):",
        "web/main.ts:1: export function login() {}",
    }


async def test_search_text_glob_limits_and_no_matches(ex: Explorer) -> None:
    out = await ex.handle("search_text", {"pattern": "login", "path_glob": "*.ts"})
    assert out.text == "web/main.ts:1: export function login() {}"
    capped = await ex.handle("search_text", {"pattern": "line", "max_results": 3})
    assert capped.text.splitlines()[:3] == [
        "src/app.py:1: line 1",
        "src/app.py:2: line 2",
        "src/app.py:3: line 3",
    ]
    assert "first 3 matches" in capped.text
    none = await ex.handle("search_text", {"pattern": "zzz_nothing"})
    assert not none.is_error and none.text.startswith("no matches")


async def test_search_pathological_regex_runs_in_linear_time(ex: Explorer, ws: Path) -> None:
    """docs/reliability.md case 29: patterns that backtrack for minutes in Python's `re` are
    matched by RE2 (linear time) with the right answer; what RE2 cannot express is plain text."""
    write(ws, "src/redos.txt", "a" * 1500 + "b\n" + " " * 27 + "\n" + "x" * 30 + "\n")
    out = await ex.handle("search_text", {"pattern": "(a+)+$"})
    assert out.text.startswith("no matches for regex")
    out = await ex.handle("search_text", {"pattern": "(?:\\s|\\s)*$x"})
    assert out.text.startswith("no matches for regex")
    out = await ex.handle("search_text", {"pattern": "(x+x+)+y|^x{30}$"})
    assert "src/redos.txt:3:" in out.text
    out = await ex.handle("search_text", {"pattern": "(a)\\1"})  # a backreference: plain text
    assert out.text.startswith("no matches for text")


async def test_bad_inputs(ex: Explorer) -> None:
    assert (await ex.handle("view_file", {})).is_error
    assert (await ex.handle("view_file", {"path": 3})).is_error
    assert (await ex.handle("view_file", {"path": "src/app.py", "start_line": "x"})).is_error
    assert (await ex.handle("view_file", {"path": "src/app.py", "start_line": 500})).is_error
    assert (await ex.handle("search_text", {"pattern": ""})).is_error
    unknown = await ex.handle("write_file", {"path": "x"})
    assert unknown.is_error and "view_file" in unknown.text


async def test_search_deadline_holds_when_the_glob_matches_nothing(
    ex: Explorer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The search budget is checked for every file walked, not only for the ones the glob lets
    through: a glob matching nothing walked a whole 200k-file tree past the deadline (red team
    rt8). With the budget already spent, the walk stops at once and says so."""
    from planfirst.core.planning import explore

    monkeypatch.setattr(explore, "SEARCH_DEADLINE_S", -1.0)
    out = await ex.handle("search_text", {"pattern": "login", "path_glob": "*.nothing"})
    assert "stopped early" in out.text, out.text
