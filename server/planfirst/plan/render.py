"""Plan → markdown (deterministic) with a map of where each step and section is; and back.

The rendered document is the review surface: people read it, editors put code lenses on its
steps, and a user may edit `plan.md` and reload it. Only the model-filled sections are parsed
back; server-owned lines (status, runs, findings) are blockquotes or HTML comments and ignored.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from planfirst.plan import revision_view
from planfirst.plan.criteria import criteria_commands
from planfirst.plan.model import Finding, Plan, PlanBody, StepStatus
from planfirst.plan.visible import decode, encode

STATUS_MARK = {
    StepStatus.PENDING: "[ ] pending",
    StepStatus.RUNNING: "[~] running",
    StepStatus.APPLIED: "[~] applied, not yet validated",
    StepStatus.DONE: "[x] done",
    StepStatus.FAILED: "[!] failed",
    StepStatus.UNDONE: "[ ] undone",
}

SECTIONS = {
    "Task": "task",
    "Summary": "summary",
    "Files to modify": "files_to_modify",
    "Files to create": "files_to_create",
    "Dependency changes": "dependency_changes",
    "Steps": "steps",
    "Test criteria": "test_criteria",
    "Risks": "risks",
    "Assumptions": "assumptions",
}


@dataclass
class Rendered:
    """A rendered plan and where things are in it (0-based, end-inclusive line ranges)."""

    text: str
    steps: dict[int, tuple[int, int]] = field(default_factory=dict)
    sections: dict[str, tuple[int, int]] = field(default_factory=dict)


def code(s: str) -> str:
    """A markdown code span that survives backticks inside `s`."""
    runs = [len(m) for m in re.findall(r"`+", s)]
    fence = "`" * (max(runs, default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or (runs and s.strip() != s) else ""
    return f"{fence}{pad}{s}{pad}{fence}"


def code_block(text: str) -> str:
    """A fenced code block that nothing inside `text` can close: the fence is longer than any
    run of backticks in it (triple backticks in command output stay inside, case 34)."""
    runs = [len(m) for m in re.findall(r"`+", text)]
    fence = "`" * max(3, max(runs, default=0) + 1)
    return f"{fence}\n{text.rstrip(chr(10))}\n{fence}"


_CODE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")


def _spans(s: str) -> list[str]:
    out = []
    for m in _CODE.finditer(s):
        body = m.group(2)
        if len(m.group(1)) > 1 or (body.startswith(" ") and body.endswith(" ") and body.strip()):
            if body.startswith(" ") and body.endswith(" ") and body.strip():
                body = body[1:-1]
        out.append(body)
    return out


# Prose lines that would read as document structure (server-owned blockquotes and comments,
# headings, a step's file/validation lines) get a markdown backslash escape; parsing removes it.
_STRUCTURAL = (
    ">",
    "<!--",
    "#",
    "- Modify:",
    "- Create:",
    "- Validation:",
    "\\",
    "<<<<<<<",
    "=======",
    "|||||||",
)
# a line git writes into a file it could not merge (`diff3` style adds the ||||||| base line)
_CONFLICT = re.compile(r"^(?:<{7}|>{7}|\|{7})(?: |$)|^={7}$")


def escape_comment(text: str) -> str:
    """`\\<!--` for every `<!--`, wherever it starts: an HTML comment opened mid-line would hide
    the rest of the document (Validation lines included) in a markdown preview (case 34). The
    backslash makes the `<` literal in markdown; `unescape_comment` removes exactly the ones added."""
    return text.replace("<!--", "\\<!--")


def unescape_comment(text: str) -> str:
    """Undo escape_comment."""
    return text.replace("\\<!--", "<!--")


def escape_prose(text: str) -> str:
    """Escape the lines of free text that the parser would take for structure, and comments."""
    text = escape_comment(text)
    return "\n".join(
        "\\" + line if line.startswith(_STRUCTURAL) else line for line in text.split("\n")
    )


def unescape_prose(text: str) -> str:
    """Undo escape_prose."""
    return unescape_comment(
        "\n".join(line[1:] if line.startswith("\\") else line for line in text.split("\n"))
    )


STEP_ID_COMMENT = re.compile(r"^<!-- step-id: (\S{1,40}) -->\s*$")


def step_id_comment(step_id: str) -> str:
    """The line below a step's heading that keeps its id through hand edits of plan.md."""
    return f"<!-- step-id: {step_id} -->"


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def add(self, *lines: str) -> None:
        for line in lines:
            self.lines.extend(line.split("\n"))

    @property
    def n(self) -> int:
        return len(self.lines)


def _item(w: _Writer, text: str) -> None:
    text = escape_comment(text)
    first, *rest = text.split("\n") if text else [""]
    w.add(f"- {first}")
    for line in rest:
        # continuation lines stay indented (blank ones too); one that would read as a sub-bullet
        # is escaped
        w.add("  " + ("\\" + line if line.startswith(("- ", "\\")) else line))


def critique_line(plan: Plan) -> str:
    """The header's critique summary: findings, the tightening round, and its own cost line."""
    crit = plan.provenance.critique
    if crit is None:
        return ""
    mine = [f for f in plan.findings if f.source == "critique" and f.rule != "critique/not-run"]
    errs = sum(1 for f in mine if f.severity == "error")
    line = f"> **Critique:** {len(mine)} finding(s), {errs} error(s)"
    if crit.model:
        line += f" from {code(crit.model)}"
    if crit.rounds:
        line += f" · tightening round fixed {len(crit.fixed)}"
    if crit.usage.calls:
        line += f" · **Critique cost:** ${crit.usage.cost_usd:.4f} ({crit.usage.calls} call(s))"
    if crit.notes:
        line += f" · {crit.notes[-1]}"
    return line


def critique_report(plan: Plan) -> list[str]:
    """Plain lines on the critique pass (the terminal prints them before asking to approve)."""
    crit = plan.provenance.critique
    if crit is None:
        return []
    who = f" by {crit.model}" if crit.model else ""
    out = [f"Critique{who}:"]
    if crit.rounds:
        out.append(
            f"  the tightening round sent the critic's errors back to the planner once;"
            f" fixed {len(crit.fixed)}:"
        )
        out.extend(f"  ✓ {m}" for m in crit.fixed)
    mine = [f for f in plan.findings if f.source == "critique"]
    if not mine:
        out.append("  no findings left")
    for f in mine:
        where = f"step {f.step}: " if f.step else ""
        out.append(f"  {f.severity}: {where}{f.message} ({f.rule})")
        out.extend(f"    evidence: {e}" for e in f.evidence)
        if f.fix:
            out.append(f"    fix: {f.fix}")
    out.extend(f"  note: {n}" for n in crit.notes)
    u = crit.usage
    if u.calls:
        out.append(
            f"  critique cost: {u.calls} model call(s) · {u.input_tokens + u.cache_read_input_tokens + u.cache_creation_input_tokens:,} in"
            f" / {u.output_tokens:,} out · est. ${u.cost_usd:.4f}"
        )
    return out


def _finding_details(w: _Writer, f: Finding, lead: str) -> None:
    """A critic's evidence and fix under its finding (server-owned blockquote lines)."""
    for e in f.evidence:
        w.add(f"{lead}evidence: {e}")
    if f.fix:
        w.add(f"{lead}fix: {f.fix}")


def render(plan: Plan) -> Rendered:
    """Render a stored plan as a review document."""
    w = _Writer()
    out = Rendered(text="")
    b = plan.body
    c = plan.counts()
    w.add(f"# Plan: {plan.title}", "")
    w.add(f"<!-- planfirst plan={plan.id} revision={plan.revision} -->")
    header = (
        f"> **Status:** {plan.status.value} · **Revision:** {plan.revision} · "
        f"**Steps:** {c.get('done', 0)}/{c['total']} done"
    )
    if c.get("failed"):
        header += f" · {c['failed']} failed"
    if plan.usage.calls:
        header += (
            f" · **Tokens:** {plan.usage.input_tokens + plan.usage.cache_read_input_tokens + plan.usage.cache_creation_input_tokens:,} in"
            f" / {plan.usage.output_tokens:,} out · **Cost:** ${plan.usage.cost_usd:.4f}"
        )
    if not plan.complete:
        header += " · **still being written…**"
    w.add(header)
    if plan.findings:
        errs = sum(1 for f in plan.findings if f.severity == "error")
        warns = sum(1 for f in plan.findings if f.severity == "warning")
        notes = len(plan.findings) - errs - warns
        w.add(
            f"> **Review:** {errs} error(s), {warns} warning(s), {notes} note(s) — see *Review findings* below"
        )
    crit = plan.provenance.critique
    if crit is not None:
        w.add(critique_line(plan))
    conf = plan.confidence
    if conf:
        summary = conf.get("summary") or " · ".join(
            f"{k.replace('_', ' ')}: {v}" for k, v in conf.items()
        )
        w.add(f"> **Confidence:** {summary}")
    w.add(*revision_view.header_lines(plan))
    if plan.estimate is not None and plan.estimate.steps:
        n = len(plan.estimate.steps)
        w.add(f"> **Estimated cost:** {plan.estimate.line()} for {n} step(s)")
    w.add("")

    def section(title: str, body_fn: Any) -> None:
        start = w.n
        w.add(f"## {title}", "")
        body_fn()
        while w.lines and w.lines[-1] == "":
            w.lines.pop()
        out.sections[title] = (start, w.n - 1)
        w.add("")

    changes = revision_view.changes_title(plan)
    if changes:
        section(changes, lambda: w.add(*revision_view.changes_lines(plan)))
    section("Task", lambda: w.add(escape_prose(plan.task.strip()) or "_(none)_"))
    section("Summary", lambda: w.add(escape_prose(b.summary.strip()) or "_(none)_"))

    def files_mod() -> None:
        if not b.files_to_modify:
            w.add("_(none)_")
        for f in b.files_to_modify:
            _item(w, f"{code(f.path)} — {f.changes.strip()}")
            if f.depends_on:
                w.add("  - depends on: " + ", ".join(code(d) for d in f.depends_on))

    def files_new() -> None:
        if not b.files_to_create:
            w.add("_(none)_")
        for f in b.files_to_create:
            _item(w, f"{code(f.path)} — {f.purpose.strip()}")
            if f.exports:
                w.add("  - exports: " + ", ".join(code(e) for e in f.exports))

    def deps() -> None:
        d = b.dependency_changes
        if not d.packages and not d.config:
            w.add("_(none)_")
        for p in d.packages:
            ver = f" {code(p.version)}" if p.version else ""
            _item(w, f"{code(p.name)}{ver} ({p.manager})")
        for cfg in d.config:
            _item(w, f"config: {cfg.strip()}")

    section("Files to modify", files_mod)
    section("Files to create", files_new)
    section("Dependency changes", deps)

    by_step: dict[int, list[Finding]] = {}
    for f in plan.findings:
        if f.step is not None:
            by_step.setdefault(f.step, []).append(f)
    notes_index = revision_view.NotesIndex(plan)

    def steps() -> None:
        for s in b.steps:
            st = plan.state(s.order)
            start = w.n
            w.add(f"### Step {s.order} · {STATUS_MARK[st.status]}")
            w.add(step_id_comment(s.id), *revision_view.step_notes(plan, s, notes_index), "")
            w.add(escape_prose(s.description.strip()) or "_(no description)_", "")
            if s.files_to_modify:
                w.add("- Modify: " + ", ".join(code(p) for p in s.files_to_modify))
            if s.files_to_create:
                w.add("- Create: " + ", ".join(code(p) for p in s.files_to_create))
            w.add("- Validation:" + ("" if s.validation else " _(none)_"))
            for cmd in s.validation:
                w.add(f"  - {code(cmd)}")
            run = st.last_run
            if run is not None:
                w.add("")
                line = f"> Last run: attempt {run.attempt} · {run.outcome}"
                if run.validation:
                    ok = all(v.passed for v in run.validation)
                    line += " · validation " + ("passed" if ok else "failed")
                if run.error:
                    line += f" · {run.error.splitlines()[0][:200]}"
                w.add(line)
            for f in by_step.get(s.order, []):
                w.add(f"> {f.severity}: {f.message} ({f.rule})")
                _finding_details(w, f, "> ")
            while w.lines[-1] == "":
                w.lines.pop()
            out.steps[s.order] = (start, w.n - 1)
            w.add("")

    section("Steps", steps)

    def bullets(items: list[str]) -> None:
        if not items:
            w.add("_(none)_")
        for it in items:
            _item(w, it.strip())

    def criteria() -> None:
        bullets(b.test_criteria)
        runs = criteria_commands(b.test_criteria)
        w.add("")
        if runs:
            w.add(
                "> Runs after the last step: "
                + ", ".join(code(c) for c in runs)
                + ". Every other criterion is for you to check."
            )
        else:
            w.add(
                "> No criterion runs as a command (a command runs only when a criterion starts with it in backticks)."
            )

    section("Test criteria", criteria)
    section("Risks", lambda: bullets(b.risks))
    section("Assumptions", lambda: bullets(b.assumptions))

    prov = plan.provenance
    if prov.included or prov.cut:

        def ctx() -> None:
            w.add(
                f"> {len(prov.included)} file(s) given to the model (~{prov.context_tokens:,} tokens); "
                f"{len(prov.cut)} left out."
            )
            for e in prov.included:
                w.add(f"> - included {code(e.path)} ({e.reason})")
            for e in prov.cut:
                w.add(f"> - left out {code(e.path)} ({e.reason})")

        section("Context", ctx)
    if plan.findings:

        def fnd() -> None:
            for f in plan.findings:
                where = f"step {f.step}: " if f.step else ""
                w.add(f"> - **{f.severity}** {where}{f.message} ({f.rule})")
                _finding_details(w, f, ">   ")

        section("Review findings", fnd)
    crit = plan.provenance.critique
    if crit is not None and (crit.fixed or crit.notes):

        def fixed() -> None:
            for m in crit.fixed:
                w.add(f"> - fixed by the tightening round: {m}")
            for n in crit.notes:
                w.add(f"> - {n}")

        section("Critique", fixed)
    if plan.final_validation:

        def fin() -> None:
            for v in plan.final_validation:
                w.add(f"> - {code(v.command)}: {'passed' if v.passed else 'FAILED'}")

        section("Test criteria results", fin)
    if plan.diagnosis:
        d = plan.diagnosis

        def dia() -> None:
            if d.suspect_step:
                w.add(f"> Suspect step: {d.suspect_step}")
            w.add(f"> Broken assumption: {d.broken_assumption}")
            w.add(f"> What the output shows: {d.explanation}")
            w.add(f"> Suggested fix: {d.suggested_fix}")

        section("Diagnosis", dia)
    while w.lines and w.lines[-1] == "":
        w.lines.pop()
    # invisible and direction-changing characters shown as \u{XXXX} (case 34); parsing decodes
    out.text = encode("\n".join(w.lines) + "\n")
    return out


def render_partial(title: str, task: str, snapshot: dict[str, Any]) -> str:
    """Best-effort markdown of a plan still streaming in (loose dict, fields may be missing)."""
    lines = [f"# Plan: {title}", "", "> **Status:** being written…", "", "## Task", "", task, ""]
    if snapshot.get("summary"):
        lines += ["## Summary", "", str(snapshot["summary"]), ""]
    for key, label in (
        ("files_to_modify", "Files to modify"),
        ("files_to_create", "Files to create"),
    ):
        items = snapshot.get(key) or []
        if items:
            lines += [f"## {label}", ""]
            for f in items:
                if isinstance(f, dict) and f.get("path"):
                    lines.append(
                        f"- {code(str(f['path']))} — {f.get('changes') or f.get('purpose') or ''}"
                    )
            lines.append("")
    steps = snapshot.get("steps") or []
    if steps:
        lines += ["## Steps", ""]
        for s in steps:
            if isinstance(s, dict):
                lines += [f"### Step {s.get('order', '?')}", "", str(s.get("description", "")), ""]
    return encode(escape_comment("\n".join(lines).rstrip() + "\n"))


# ---------------------------------------------------------------- markdown → PlanBody


class PlanParseError(ValueError):
    """The edited markdown could not be read back; `line` is 1-based."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(f"line {line}: {message}" if line else message)
        self.line = line
        self.message = message


def _strip_item(text: str) -> str:
    return "" if text.strip() == "_(none)_" else text


def _refuse_conflict(lines: list[str]) -> None:
    """A plan.md git could not merge holds conflict markers: refuse it at the first one (the
    markers would become step text, or be dropped, and both sides would be mixed)."""
    marks = [(i, line) for i, line in enumerate(lines, start=1) if _CONFLICT.match(line)]
    if any(not line.startswith("=") for _, line in marks):
        no, line = marks[0]
        raise PlanParseError(
            f"merge conflict marker {line[:7]!r}: resolve the conflict in plan.md first (keep one "
            "side of each conflict and delete the marker lines), then reload",
            no,
        )


def parse_markdown(text: str) -> tuple[str, PlanBody]:
    """Parse a (possibly user-edited) rendered plan back into (task, PlanBody)."""
    lines = decode(text.replace("\r\n", "\n")).split("\n")
    _refuse_conflict(lines)
    sections: dict[str, list[tuple[int, str]]] = {}
    current: str | None = None
    for i, line in enumerate(lines, start=1):
        if line.startswith("## "):
            name = line[3:].strip()
            current = name if name in SECTIONS else None
            if current:
                sections[current] = []
            continue
        if current and not line.startswith(">") and not line.startswith("<!--"):
            sections[current].append((i, line))
        elif current == "Steps" and STEP_ID_COMMENT.match(line):
            sections[current].append((i, line))
    for req in ("Summary", "Steps"):
        if req not in sections:
            raise PlanParseError(f"the section '## {req}' is missing")

    def prose(name: str) -> str:
        body = [t for _, t in sections.get(name, [])]
        return unescape_prose(_strip_item("\n".join(body).strip()))

    def items(name: str) -> list[tuple[int, str, list[str]]]:
        """Top-level bullets with their sub-bullet lines."""
        out: list[tuple[int, str, list[str]]] = []
        for no, t in sections.get(name, []):
            if t.startswith("- "):
                out.append((no, unescape_comment(t[2:]), []))
            elif t.startswith("  - ") and out:
                out[-1][2].append(t[4:])
            elif t.startswith("  ") and out:
                line = t[2:]
                line = line[1:] if line.startswith("\\") else line
                out[-1] = (out[-1][0], out[-1][1] + "\n" + unescape_comment(line), out[-1][2])
            elif t.strip() and t.strip() != "_(none)_":
                raise PlanParseError(
                    f"expected a '- ' bullet in '{name}', found {t.strip()[:60]!r}", no
                )
        return out

    def path_and_rest(no: int, t: str, what: str) -> tuple[str, str]:
        m = _CODE.match(t)
        if not m:
            raise PlanParseError(
                f"{what} must start with a path in backticks, e.g. - `src/x.py` — …", no
            )
        path = _spans(m.group(0))[0]
        rest = t[m.end() :].strip()
        rest = re.sub(r"^[—–-]\s*", "", rest)
        return path, rest

    data: dict[str, Any] = {"summary": prose("Summary")}
    fm = []
    for no, t, subs in items("Files to modify"):
        path, rest = path_and_rest(no, t, "a file to modify")
        deps: list[str] = []
        for s in subs:
            if s.startswith("depends on:"):
                deps += _spans(s)
        fm.append({"path": path, "changes": rest, "depends_on": deps})
    data["files_to_modify"] = fm
    fc = []
    for no, t, subs in items("Files to create"):
        path, rest = path_and_rest(no, t, "a file to create")
        exports: list[str] = []
        for s in subs:
            if s.startswith("exports:"):
                exports += _spans(s)
        fc.append({"path": path, "purpose": rest, "exports": exports})
    data["files_to_create"] = fc
    pkgs, cfg = [], []
    for no, t, _ in items("Dependency changes"):
        if t.startswith("config:"):
            cfg.append(t[len("config:") :].strip())
            continue
        spans = _spans(t)
        if not spans:
            raise PlanParseError("a package must be written as - `name` `version` (manager)", no)
        m = re.search(r"\(([^()]*)\)\s*$", t)
        pkgs.append(
            {
                "name": spans[0],
                "version": spans[1] if len(spans) > 1 else "",
                "manager": m.group(1) if m else "pip",
            }
        )
    data["dependency_changes"] = {"packages": pkgs, "config": cfg}
    for name, key in (
        ("Test criteria", "test_criteria"),
        ("Risks", "risks"),
        ("Assumptions", "assumptions"),
    ):
        data[key] = [t for _, t, _ in items(name)]

    steps: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    desc: list[str] = []
    in_validation = False
    for no, t in sections["Steps"]:
        m = re.match(r"^### Step (\d+)\b", t)
        if m:
            if cur is not None:
                cur["description"] = unescape_prose("\n".join(desc).strip())
                steps.append(cur)
            cur = {
                "order": int(m.group(1)),
                "id": "",
                "files_to_modify": [],
                "files_to_create": [],
                "validation": [],
                "_line": no,
            }
            desc, in_validation = [], False
            continue
        idm = STEP_ID_COMMENT.match(t)
        if idm:
            if cur is None or any(d.strip() for d in desc) or cur["id"]:
                raise PlanParseError(
                    "a step id comment belongs right below its '### Step N' heading", no
                )
            cur["id"] = idm.group(1)
            continue
        if cur is None:
            if t.strip():
                raise PlanParseError("text before the first '### Step N' heading", no)
            continue
        if t.startswith("- Modify:"):
            cur["files_to_modify"] = _spans(t)
            in_validation = False
        elif t.startswith("- Create:"):
            cur["files_to_create"] = _spans(t)
            in_validation = False
        elif t.startswith("- Validation:"):
            in_validation = True
        elif in_validation and t.startswith("  - "):
            sp = _spans(t)
            if not sp:
                raise PlanParseError("a validation command must be in backticks", no)
            cur["validation"].append(sp[0])
        else:
            in_validation = False
            desc.append(t)
    if cur is not None:
        cur["description"] = unescape_prose("\n".join(desc).strip())
        steps.append(cur)
    orders = [st["order"] for st in steps]
    if sorted(orders) == list(range(1, len(steps) + 1)) and orders != sorted(orders):
        # steps moved by hand without renumbering them: a step's place is its number (its id,
        # not its number, is what it keeps through revisions)
        for i, st in enumerate(steps, start=1):
            st["order"] = i
    step_lines: dict[int, int] = {st["order"]: st.pop("_line") for st in steps}
    for st in steps:
        if st["description"] == "_(no description)_":
            st["description"] = ""
    data["steps"] = steps
    try:
        body = PlanBody.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = list(first["loc"])
        at: int | None = None
        m = re.search(r"steps\[(\d+)\]", str(first["msg"]))
        if m:
            at = step_lines.get(int(m.group(1)))
        if (
            at is None
            and loc
            and loc[0] == "steps"
            and len(loc) > 1
            and isinstance(loc[1], int)
            and loc[1] < len(steps)
        ):
            at = step_lines.get(steps[loc[1]]["order"])
        msg = "; ".join(
            f"{'.'.join(str(x) for x in err['loc']) or 'plan'}: {err['msg'].removeprefix('Value error, ')}"
            for err in e.errors()
        )
        raise PlanParseError(msg, at) from None
    return prose("Task"), body
