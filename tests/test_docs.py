"""The README stays a short front page and docs/ holds the manual: the README is at most ~250
lines, names exactly the two set-up-free commands (real Makefile targets), and every relative
link in the README and docs/ points at a file that exists and, with a #fragment, at a heading
that file has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading.strip().lower())
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m) for m in re.findall(r"^#{1,6} (.+)$", text, flags=re.M)}


def _links(path: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def test_the_readme_is_a_front_page() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines; the manual belongs in docs/"


def test_the_readme_names_the_two_commands_and_they_exist() -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The two commands") :]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "no command block under 'The two commands'"
    commands = [line.split("#")[0].strip() for line in block.group(1).splitlines()]
    assert [c for c in commands if c] == ["make demo", "make test"]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    for target in ("demo", "test"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no {target} target"


def test_every_relative_link_resolves() -> None:
    bad = []
    for doc in DOCS:
        for link in _links(doc):
            if re.match(r"[a-z]+:", link):  # https:, mailto:
                continue
            target, _, fragment = link.partition("#")
            path = (doc.parent / target).resolve() if target else doc
            if not path.exists():
                bad.append(f"{doc.relative_to(ROOT)}: {link} (no such file)")
            elif fragment and path.suffix == ".md" and fragment not in _anchors(path):
                bad.append(f"{doc.relative_to(ROOT)}: {link} (no such heading)")
    assert bad == []


def test_the_link_check_sees_links_and_headings() -> None:
    """The check above reads real links (an empty scan would pass it)."""
    assert "docs/editors.md#neovim" in _links(README)
    assert {"neovim", "emacs-eglot", "vs-code"} <= _anchors(ROOT / "docs" / "editors.md")
    assert _slug("Commands (any LSP client)") == "commands-any-lsp-client"


def test_every_page_of_the_manual_is_linked_from_the_readme() -> None:
    """A page in docs/ that the README does not link to is a page nobody finds."""
    linked = {link.partition("#")[0] for link in _links(README)}
    pages = {f"docs/{p.name}" for p in DOCS[1:]}
    assert pages - linked == set()


def test_the_development_guide_names_every_module() -> None:
    """docs/development.md's layout block names every module of server/planfirst (a new module
    is added to it, with a word on what it holds)."""
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    layout = text[text.index("```\nserver/planfirst/") :]
    layout = layout[: layout.index("\n```", 4)]
    named = set(re.findall(r"[\w.]+\.py", layout))
    package = ROOT / "server" / "planfirst"
    modules = {
        p.name
        for p in package.rglob("*.py")
        if p.name not in ("__init__.py", "__main__.py") and "__pycache__" not in p.parts
    }
    assert modules - named == set()
