"""The workspace path guard: containment, symlinks, exclusions and gitignore semantics."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from planfirst.core.workspace.path_syntax import PathError, ReadRefused, from_uri
from planfirst.core.workspace.paths import WorkspaceGuard, is_secret
from tests.support.ws_files import write


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    write(root, "src/app.py", "print('hi')\n")
    return root


# ---------------------------------------------------------------- containment


def test_relative_and_absolute_inside(ws: Path) -> None:
    g = WorkspaceGuard(ws)
    assert g.resolve("src/app.py") == (ws / "src/app.py").resolve()
    assert g.rel(str(ws / "src/app.py")) == "src/app.py"
    assert g.rel("src//./app.py") == "src/app.py"
    assert g.rel("src/new.py") == "src/new.py"  # need not exist yet
    assert g.rel(".") == "."


def test_file_uri(ws: Path) -> None:
    g = WorkspaceGuard(ws)
    uri = (ws / "src" / "app.py").as_uri()
    assert g.rel(uri) == "src/app.py"
    assert from_uri("file:///tmp/a%20b.py") == "/tmp/a b.py"
    with pytest.raises(PathError, match="network host"):
        from_uri("file://server/share/x")
    with pytest.raises(PathError, match="not a file://"):
        from_uri("untitled:foo")
    with pytest.raises(PathError, match=r"\.\."):
        g.resolve((ws.as_uri()) + "/%2e%2e/x")


@pytest.mark.parametrize(
    "bad",
    [
        "../x",
        "src/../../x",
        "../../.ssh/authorized_keys",
        "/etc/passwd",
        "~/x",
        "~root/.ssh/id_rsa",
        "C:\\Windows\\win.ini",
        "C:/x",
        "\\\\server\\share\\x",
        "//server/share/x",
        "src\\app.py",
        "file:///etc/passwd",
        "untitled:foo",
        "a\x00b",
        "a\nb",
        "\x1b[31mred",
        "",
        "   ",
        "a/" * 3000 + "x",
    ],
)
def test_refused_path_forms(ws: Path, bad: str) -> None:
    g = WorkspaceGuard(ws)
    with pytest.raises(PathError) as exc:
        g.resolve(bad)
    assert str(exc.value)  # a message, never a traceback-only failure


def test_message_names_path_and_reason(ws: Path) -> None:
    g = WorkspaceGuard(ws)
    with pytest.raises(PathError, match=r"'\.\./\.\./etc/passwd' contains '\.\.'"):
        g.resolve("../../etc/passwd")
    with pytest.raises(PathError, match="NUL"):
        g.resolve("a\x00b")
    with pytest.raises(PathError, match="outside the workspace"):
        g.resolve("/etc/passwd")


def test_prefix_sibling_is_outside(tmp_path: Path) -> None:
    """`/t/ws-evil` starts with `/t/ws` but is not inside it (RELIABILITY case 16)."""
    ws = tmp_path / "ws"
    evil = tmp_path / "ws-evil"
    ws.mkdir()
    write(evil, "x.py")
    g = WorkspaceGuard(ws)
    with pytest.raises(PathError, match="outside"):
        g.resolve(str(evil / "x.py"))
    with pytest.raises(PathError):
        g.resolve("../ws-evil/x.py")
    assert str(evil / "x.py").startswith(str(ws))  # the trap a string prefix check falls into


def test_symlinked_directory_pointing_out(tmp_path: Path) -> None:
    ws, home = tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    write(home, ".bashrc", "secret stuff")
    write(home, ".ssh/id_rsa", "KEY")
    (ws / "docs").symlink_to(home, target_is_directory=True)
    g = WorkspaceGuard(ws)
    for p in ("docs/.bashrc", "docs/.ssh/id_rsa", "docs/new.txt", str(ws / "docs" / ".bashrc")):
        with pytest.raises(PathError, match="symlink"):
            g.resolve(p)
    with pytest.raises(PathError):
        g.read_text("docs/.bashrc", 10_000)
    assert not any(p.startswith("docs") for p in g.walk())


def test_symlinked_file_pointing_out_and_dangling(tmp_path: Path) -> None:
    ws, out = tmp_path / "ws", tmp_path / "out"
    ws.mkdir()
    write(out, "hosts", "127.0.0.1 x")
    (ws / "config.py").symlink_to(out / "hosts")
    (ws / "new.py").symlink_to(out / "missing.py")  # dangling, points out
    g = WorkspaceGuard(ws)
    with pytest.raises(PathError, match="symlink"):
        g.resolve("config.py")
    with pytest.raises(PathError, match="symlink"):
        g.resolve("new.py")
    assert "config.py" not in set(g.walk())


def test_symlink_inside_is_fine_but_exclusions_follow_target(ws: Path) -> None:
    write(ws, ".env", "TOKEN=canary")
    (ws / "alias.py").symlink_to(ws / "src" / "app.py")
    (ws / "notes.txt").symlink_to(ws / ".env")
    g = WorkspaceGuard(ws)
    assert g.rel("alias.py") == "src/app.py"
    assert g.read_text("alias.py", 1000) == ("alias.py", "print('hi')\n")
    with pytest.raises(ReadRefused) as exc:
        g.read_text("notes.txt", 1000)
    assert exc.value.reason == "secret"
    walked = set(g.walk())
    assert "alias.py" in walked and "notes.txt" not in walked and ".env" not in walked


def test_symlinked_root_is_resolved(tmp_path: Path) -> None:
    real = tmp_path / "real"
    write(real, "a.py")
    link = tmp_path / "link"
    link.symlink_to(real, target_is_directory=True)
    g = WorkspaceGuard(link)
    assert g.rel(str(link / "a.py")) == "a.py"
    assert g.rel(str(real / "a.py")) == "a.py"


def test_case_tricks(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write(ws, "src/a.py")
    # On a case-folding file system the root may be spelled in another case; simulate it.
    g = WorkspaceGuard(ws, case_insensitive=True)
    assert g.rel(str(ws / "src" / "a.py")) == "src/a.py"
    spelled = str(ws.parent / ws.name.upper() / "src" / "a.py")
    assert g.rel(spelled) == "src/a.py"
    sibling = str(ws.parent / (ws.name.upper() + "-evil") / "x")
    with pytest.raises(PathError):
        g.resolve(sibling)
    # Protected names fold case and Unicode lookalikes on every file system.
    g2 = WorkspaceGuard(ws)
    assert g2.excluded(".GIT/config") == "git internals (.git/)"
    assert g2.excluded(".Env") == "secret"
    assert g2.excluded(".ｅnv") == "secret"  # fullwidth e
    assert g2.excluded(".PLANFIRST/plans/x.json") == "planfirst state (.planfirst/)"
    assert g2.excluded("SRC/KEY.PEM") == "secret"
    # Windows drops trailing dots and spaces from a name: `.git.` is `.git` there
    assert g2.excluded(".git./config") == "git internals (.git/)"
    assert g2.excluded(".GIT /hooks/pre-commit") == "git internals (.git/)"
    assert g2.excluded(".env.") == "secret"
    assert g2.excluded(".planfirst./plans/x.json") == "planfirst state (.planfirst/)"
    assert g2.excluded("src/notes...") is None  # an ordinary name stays one


def test_case_sensitive_fs_does_not_accept_other_spelling(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    write(ws, "a.py")
    g = WorkspaceGuard(ws, case_insensitive=False)
    with pytest.raises(PathError):
        g.resolve(str(ws.parent / ws.name.upper() / "a.py"))


# ---------------------------------------------------------------- exclusions


@pytest.mark.parametrize(
    "path",
    [
        ".env",
        ".env.production",
        "config/.env.local",
        "id_rsa",
        "home/.ssh/id_ed25519",
        "id_ecdsa.pub",
        "keys/server.pem",
        "tls.key",
        "cert.p12",
        "cert.pfx",
        ".npmrc",
        ".pypirc",
        ".netrc",
        ".aws/credentials",
        "credentials.json",
        ".ssh/config",
        ".git-credentials",
    ],
)
def test_secrets(path: str) -> None:
    assert is_secret(path)


@pytest.mark.parametrize(
    "path",
    ["src/env.py", "environment.md", "id_utils.py", "keyboard.py", "docs/pem.md", "my.env.py"],
)
def test_not_secrets(path: str) -> None:
    assert not is_secret(path)


def test_excluded_reasons(ws: Path) -> None:
    write(ws, ".gitignore", "build/\n*.log\n")
    write(ws, "build/out.js")
    write(ws, "x.log")
    g = WorkspaceGuard(ws, extra_excludes=["fixtures/**", "*.snap"])
    assert g.excluded("src/app.py") is None
    assert g.excluded(".git/HEAD") == "git internals (.git/)"
    assert g.excluded("sub/.git/config") == "git internals (.git/)"
    assert g.excluded(".planfirst/plans/a.json") == "planfirst state (.planfirst/)"
    assert g.excluded(".env") == "secret"
    assert g.excluded("build/out.js") == "gitignored"
    assert g.excluded("x.log") == "gitignored"
    assert g.excluded("fixtures/a/b.txt") == "excluded by planfirst.context.exclude"
    assert g.excluded("tests/x.snap") == "excluded by planfirst.context.exclude"


def test_read_text_refusals(ws: Path) -> None:
    write(ws, ".env", "K=1")
    (ws / "bin.dat").write_bytes(b"abc\x00def")
    (ws / "latin.txt").write_bytes("caf\xe9".encode("latin-1"))
    (ws / "big.txt").write_text("x" * 5000)
    os.mkfifo(ws / "fifo")
    g = WorkspaceGuard(ws)
    reasons = {}
    for p in (".env", "bin.dat", "latin.txt", "big.txt", "fifo", "missing.py", "src"):
        with pytest.raises(ReadRefused) as exc:
            g.read_text(p, 1000)
        reasons[p] = exc.value.reason
    assert reasons == {
        ".env": "secret",
        "bin.dat": "binary",
        "latin.txt": "binary",
        "big.txt": "too large (5000 bytes)",
        "fifo": "not a regular file",
        "missing.py": "not found",
        "src": "a directory, not a file",
    }
    assert g.read_text("src/app.py", 1000) == ("src/app.py", "print('hi')\n")


# ---------------------------------------------------------------- gitignore semantics


GITIGNORE_CASES: list[tuple[str, dict[str, str], dict[str, bool]]] = [
    (
        "*.log\n!keep.log\n",
        {},
        {"a.log": True, "keep.log": False, "sub/a.log": True, "sub/keep.log": False},
    ),
    ("build/\n", {}, {"build/x": True, "sub/build/y": True, "buildx": False}),
    ("/dist\n", {}, {"dist/z": True, "sub/dist/z": False}),
    ("doc/*.txt\n", {}, {"doc/a.txt": True, "doc/sub/a.txt": False, "sub/doc/a.txt": False}),
    ("**/tmp/**\n", {}, {"tmp/x": True, "a/tmp/b/c": True, "tmpx/y": False}),
    ("a/**/b\n", {}, {"a/b": True, "a/x/y/b": True, "a/bb": False}),
    ("*.py[cod]\n", {}, {"m.pyc": True, "n.pyo": True, "m.py": False}),
    ("[!a]*.md\n", {}, {"a.md": False, "b.md": True}),
    (
        "dir/\n!dir/keep\n",
        {},
        {"dir/x": True, "dir/keep": True},
    ),  # cannot re-include under an ignored dir
    ("dir/*\n!dir/keep\n", {}, {"dir/x": True, "dir/keep": False}),
    (
        "foo\n",
        {"sub/.gitignore": "!foo\n"},
        {"foo": True, "sub/foo": False, "sub/x/foo": False, "other/foo": True},
    ),
    ("\\#hash\n\\!bang\n# comment\n", {}, {"#hash": True, "!bang": True, "comment": False}),
    ("trail   \n", {}, {"trail": True}),
    ("*\n!*/\n!*.py\n", {}, {"x.py": False, "d/x.py": False, "d/x.txt": True}),
    ("abc/**\n!abc/keep.txt\n", {}, {"abc/keep.txt": False, "abc/other": True}),
    ("x?z\n", {}, {"xyz": True, "x/z": False}),
    ("[[:digit:]]*.txt\n", {}, {"1a.txt": True, "a1.txt": False}),
    (
        "",
        {"sub/.gitignore": "/only\n*.c\n", "sub/inner/.gitignore": "!x.c\n"},
        {
            "sub/only": True,
            "only": False,
            "sub/x/only": False,
            "sub/m.c": True,
            "sub/inner/x.c": False,
            "sub/inner/y.c": True,
        },
    ),
]


def _make_case(root: Path, gitignore: str, extra: dict[str, str], paths: dict[str, bool]) -> None:
    write(root, ".gitignore", gitignore)
    for p, t in extra.items():
        write(root, p, t)
    for p in paths:
        write(root, p)


@pytest.mark.parametrize(("gitignore", "extra", "expected"), GITIGNORE_CASES)
def test_gitignore_semantics(
    tmp_path: Path, gitignore: str, extra: dict[str, str], expected: dict[str, bool]
) -> None:
    _make_case(tmp_path, gitignore, extra, expected)
    g = WorkspaceGuard(tmp_path)
    got = {p: g.gitignored(p) for p in expected}
    assert got == expected
    walked = set(g.walk())
    for p, ignored in expected.items():
        assert (p in walked) is not ignored, p


@pytest.mark.skipif(shutil.which("git") is None, reason="git not installed")
def test_gitignore_agrees_with_git(tmp_path: Path) -> None:
    """The same cases, checked against git itself (`git ls-files -o --exclude-standard`)."""
    for i, (gitignore, extra, expected) in enumerate(GITIGNORE_CASES):
        root = tmp_path / f"case{i}"
        root.mkdir()
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        _make_case(root, gitignore, extra, expected)
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-o", "--exclude-standard"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        g = WorkspaceGuard(root)
        for p in expected:
            assert g.gitignored(p) == (p not in listed), (gitignore, p)


def test_gitignore_cache_notices_changes(ws: Path) -> None:
    write(ws, "a.tmp")
    g = WorkspaceGuard(ws)
    assert g.excluded("a.tmp") is None
    write(ws, ".gitignore", "*.tmp\n")
    assert g.excluded("a.tmp") == "gitignored"
    write(ws, ".gitignore", "# nothing more\n")
    assert g.excluded("a.tmp") is None


def test_git_info_exclude(ws: Path) -> None:
    write(ws, ".git/info/exclude", "local-only/\n")
    write(ws, "local-only/x.py")
    g = WorkspaceGuard(ws)
    assert g.excluded("local-only/x.py") == "gitignored"
    assert "local-only/x.py" not in set(g.walk())


# ---------------------------------------------------------------- walking


def test_walk_prunes_and_sorts(ws: Path) -> None:
    write(ws, ".gitignore", "node_modules/\ndist/\n")
    write(ws, "node_modules/pkg/index.js")
    write(ws, ".venv/lib/x.py")
    write(ws, "src/__pycache__/app.cpython-311.pyc")
    write(ws, ".git/config")
    write(ws, ".planfirst/plans/p.json")
    write(ws, "dist/bundle.js")
    write(ws, "b.py")
    write(ws, "a/z.py")
    write(ws, ".env", "K=1")
    walked = list(WorkspaceGuard(ws).walk())
    # Depth first, names sorted, a directory's files before its subdirectories.
    assert walked == [".gitignore", "b.py", "a/z.py", "src/app.py"]
    assert list(WorkspaceGuard(ws).walk(max_files=2)) == walked[:2]


def test_walk_survives_loops_fifos_and_unreadable(ws: Path) -> None:
    (ws / "loop").symlink_to(ws, target_is_directory=True)
    (ws / "self").symlink_to(ws / "self")
    os.mkfifo(ws / "pipe")
    locked = ws / "locked"
    locked.mkdir()
    write(locked, "x.py")
    locked.chmod(0)
    try:
        walked = list(WorkspaceGuard(ws).walk())
    finally:
        locked.chmod(0o755)
    assert "src/app.py" in walked
    assert not any(p.startswith(("loop", "self", "pipe")) for p in walked)


# ---------------------------------------------------------------- properties


_PIECES = st.sampled_from(
    [
        "a",
        "src",
        "..",
        ".",
        "",
        "~",
        "/",
        "\\",
        "C:",
        "file:",
        "%2e%2e",
        "\x00",
        "\n",
        "ws-evil",
        "ﬁ",
        "É",
        "e\u0301",
    ]
)


@pytest.mark.slow  # 300 Hypothesis examples on the real file system, ~6 s
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(pieces=st.lists(_PIECES, max_size=8), extra=st.text(max_size=12))
def test_resolve_never_escapes(tmp_path: Path, pieces: list[str], extra: str) -> None:
    """Whatever string arrives, resolve() raises PathError or returns a path inside the root."""
    ws = tmp_path / "ws"
    if not ws.exists():
        write(ws, "src/a.py")
        (ws / "out").symlink_to(tmp_path, target_is_directory=True)
        write(tmp_path / "ws-evil", "x")
    g = WorkspaceGuard(ws)
    for candidate in (
        "/".join(pieces) + extra,
        "out/" + "/".join(pieces),
        str(ws) + "/" + "/".join(pieces),
    ):
        try:
            real = g.resolve(candidate)
        except PathError as e:
            assert str(e)
            continue
        assert real == g.root or g.root in real.parents
        assert os.path.commonpath([real, g.root]) == str(g.root)


def test_excluded_follows_symlinks_to_secrets(ws: Path) -> None:
    """docs/reliability.md case 25: a name that resolves to a secret is that secret."""
    write(ws, ".env", "K=1\n")
    write(ws, ".ssh/config", "Host x\n")
    (ws / "docs").mkdir()
    (ws / "docs" / "settings.txt").symlink_to(Path("..") / ".env")
    (ws / "cfg").symlink_to(ws / ".ssh", target_is_directory=True)
    (ws / "out").symlink_to(ws.parent, target_is_directory=True)
    g = WorkspaceGuard(ws)
    assert g.excluded("docs/settings.txt") == "secret"
    assert g.excluded("cfg/config") == "secret"
    assert g.excluded("out/anything") is not None
    assert g.excluded("src/app.py") is None
