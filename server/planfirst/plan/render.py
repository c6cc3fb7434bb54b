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
from planfirst.plan.markup import (
    CONFLICT,
    STEP_ID_COMMENT,
    Writer,
    code,
    code_spans,
    escape_comment,
    span_body,
    spans,
    unescape_comment,
    unescape_prose,
)
from planfirst.plan.model import Plan, PlanBody
from planfirst.plan.sections import PLAN_SECTIONS, SECTIONS
from planfirst.plan.visible import decode, encode


@dataclass
class Rendered:
    """A rendered plan and where things are in it (0-based, end-inclusive line ranges)."""

    text: str
    steps: dict[int, tuple[int, int]] = field(default_factory=dict)
    sections: dict[str, tuple[int, int]] = field(default_factory=dict)


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


def _header(w: Writer, plan: Plan) -> None:
    """The title, the plan-id comment and the server-owned status lines above the sections."""
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


def render(plan: Plan) -> Rendered:
    """Render a stored plan as a review document."""
    w = Writer()
    out = Rendered(text="")
    _header(w, plan)
    for sec in PLAN_SECTIONS:
        if not sec.shown(plan):
            continue
        title = sec.title_for(plan)
        start = w.n
        w.add(f"## {title}", "")
        sec.body(w, plan)
        while w.lines and w.lines[-1] == "":
            w.lines.pop()
        out.sections[title] = (start, w.n - 1)
        w.add("")
    out.steps = w.steps
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
    marks = [(i, line) for i, line in enumerate(lines, start=1) if CONFLICT.match(line)]
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
        first = next(iter(code_spans(t)), None)
        if first is None or first[0] != 0:
            raise PlanParseError(
                f"{what} must start with a path in backticks, e.g. - `src/x.py` — …", no
            )
        path = span_body(first[2])
        rest = t[first[1] :].strip()
        rest = re.sub(r"^[—–-]\s*", "", rest)
        return path, rest

    data: dict[str, Any] = {"summary": prose("Summary")}
    fm = []
    for no, t, subs in items("Files to modify"):
        path, rest = path_and_rest(no, t, "a file to modify")
        deps: list[str] = []
        for s in subs:
            if s.startswith("depends on:"):
                deps += spans(s)
        fm.append({"path": path, "changes": rest, "depends_on": deps})
    data["files_to_modify"] = fm
    fc = []
    for no, t, subs in items("Files to create"):
        path, rest = path_and_rest(no, t, "a file to create")
        exports: list[str] = []
        for s in subs:
            if s.startswith("exports:"):
                exports += spans(s)
        fc.append({"path": path, "purpose": rest, "exports": exports})
    data["files_to_create"] = fc
    pkgs, cfg = [], []
    for no, t, _ in items("Dependency changes"):
        if t.startswith("config:"):
            cfg.append(t[len("config:") :].strip())
            continue
        found = spans(t)
        if not found:
            raise PlanParseError("a package must be written as - `name` `version` (manager)", no)
        m = re.search(r"\(([^()]*)\)\s*$", t)
        pkgs.append(
            {
                "name": found[0],
                "version": found[1] if len(found) > 1 else "",
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
            cur["files_to_modify"] = spans(t)
            in_validation = False
        elif t.startswith("- Create:"):
            cur["files_to_create"] = spans(t)
            in_validation = False
        elif t.startswith("- Validation:"):
            in_validation = True
        elif in_validation and t.startswith("  - "):
            sp = spans(t)
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
