"""Shared pieces of the benchmarks: machine description, statistics, generated workspaces,
generated plans and scripts, and the result format `run_all.py` turns into RESULTS.md.

Every bench script prints its figures and, given `--json PATH`, writes a `Section` as JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "server"))
sys.path.insert(0, str(ROOT))

ED = "str_replace_based_edit_tool"


# ---------------------------------------------------------------- results


@dataclass
class Verdict:
    """One goal and whether it was met."""

    goal: str
    measured: str
    met: bool
    reason: str = ""


@dataclass
class Section:
    """One measurement's results: tables, verdicts and notes, rendered by run_all.py."""

    key: str
    title: str
    tables: list[dict[str, Any]] = field(default_factory=list)  # {"caption", "headers", "rows"}
    verdicts: list[Verdict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def table(self, caption: str, headers: list[str], rows: list[list[Any]]) -> None:
        """Add a table."""
        self.tables.append({"caption": caption, "headers": headers, "rows": rows})

    def verdict(self, goal: str, measured: str, met: bool, reason: str = "") -> None:
        """Add a goal verdict."""
        self.verdicts.append(Verdict(goal, measured, met, reason))

    def print(self) -> None:
        """Print the section as plain text (what a person running one script sees)."""
        print(f"== {self.title}")
        for t in self.tables:
            print(f"-- {t['caption']}")
            widths = [
                max(len(str(h)), *(len(str(r[i])) for r in t["rows"])) if t["rows"] else len(str(h))
                for i, h in enumerate(t["headers"])
            ]
            print("  ".join(str(h).ljust(w) for h, w in zip(t["headers"], widths, strict=True)))
            for r in t["rows"]:
                print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)))
        for v in self.verdicts:
            state = "met" if v.met else "NOT met"
            print(
                f"goal: {v.goal}: {v.measured} -> {state}{' (' + v.reason + ')' if v.reason else ''}"
            )
        for n in self.notes:
            print(f"note: {n}")

    def to_json(self) -> dict[str, Any]:
        """Plain data for run_all.py."""
        return asdict(self)


def finish(section: Section) -> None:
    """Print the section and write it as JSON when `--json PATH` was given."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default=None)
    args, _ = parser.parse_known_args()
    section.print()
    if args.json:
        Path(args.json).write_text(json.dumps(section.to_json(), indent=1), encoding="utf-8")


# ---------------------------------------------------------------- statistics


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0..100), nearest-rank on the sorted values."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = max(0, min(len(s) - 1, math.ceil(q / 100 * len(s)) - 1))
    return s[k]


def med(values: list[float]) -> float:
    """Median (nan when empty)."""
    return statistics.median(values) if values else float("nan")


def ms(x: float) -> str:
    """A duration in ms, readable."""
    if x != x:  # nan
        return "–"
    return f"{x:.2f}" if x < 10 else f"{x:.1f}" if x < 100 else f"{x:.0f}"


# ---------------------------------------------------------------- machine


def machine() -> dict[str, str]:
    """CPU model, cores, RAM, OS and Python version."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = "?"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    except OSError:
        pass
    out = {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
    }
    try:  # other jobs on the machine change every timing: say how busy it was
        one, five, _ = os.getloadavg()
        out["load average (1 / 5 min, when written)"] = f"{one:.1f} / {five:.1f}"
    except OSError:
        pass
    return out


# ---------------------------------------------------------------- workspaces

GITIGNORE = "build/\ndist/\n*.log\n__pycache__/\ndata/\n.venv/\n"


def module_text(i: int, seed: int = 0) -> str:
    """A realistic small Python module (~50 lines) whose names are unique to `i`."""
    rnd = random.Random(i * 7919 + seed)
    n_funcs = 3 + rnd.randrange(3)
    out = [
        f'"""Helpers for area {i}: parsing, scoring and formatting of records."""\n',
        "\n",
        "from __future__ import annotations\n",
        "\n",
        "import dataclasses\n",
        "import math\n",
        "\n",
        f"LIMIT_{i} = {rnd.randrange(10, 1000)}\n",
        "\n",
        "\n",
        "@dataclasses.dataclass\n",
        f"class Record{i}:\n",
        f'    """One record of area {i}."""\n',
        "\n",
        "    name: str\n",
        "    value: float\n",
        "    tags: list[str] = dataclasses.field(default_factory=list)\n",
    ]
    for k in range(n_funcs):
        a = rnd.randrange(2, 97)
        out += [
            "\n",
            "\n",
            f"def score_{i}_{k}(record: Record{i}, weight: float = {a / 10}) -> float:\n",
            f'    """Score a record (variant {k}); values above LIMIT_{i} are clipped."""\n',
            f"    value = min(record.value, LIMIT_{i}) * weight\n",
            "    if not record.tags:\n",
            "        return value\n",
            f"    bonus = math.log1p(len(record.tags)) * {a}\n",
            "    return round(value + bonus, 3)\n",
        ]
    out += [
        "\n",
        "\n",
        f"def format_{i}(records: list[Record{i}]) -> str:\n",
        '    """One line per record, best first."""\n',
        "    rows = []\n",
        f"    for r in sorted(records, key=score_{i}_0, reverse=True):\n",
        '        rows.append(f"{r.name:<20} {r.value:>10.2f}")\n',
        '    return "\\n".join(rows)\n',
    ]
    return "".join(out)


def test_text(i: int) -> str:
    """A small pytest module for module `i`."""
    return (
        f'"""Tests for area {i}."""\n\n'
        f"from app.pkg{i // 100}.mod_{i} import Record{i}, format_{i}, score_{i}_0\n\n\n"
        f"def test_score_{i}() -> None:\n"
        f'    assert score_{i}_0(Record{i}("a", 1.0)) > 0\n\n\n'
        f"def test_format_{i}() -> None:\n"
        f'    assert "a" in format_{i}([Record{i}("a", 1.0)])\n'
    )


def module_path(i: int) -> str:
    """Workspace-relative path of module i."""
    return f"src/app/pkg{i // 100}/mod_{i}.py"


def test_path(i: int) -> str:
    """Workspace-relative path of module i's test."""
    return f"tests/pkg{i // 100}/test_mod_{i}.py"


def make_workspace(root: Path, n_files: int) -> Path:
    """A Python project of `n_files` visible files (modules, tests, manifests) plus ignored ones.

    About 4 modules for each test file; `build/`, `data/` and `*.log` files are gitignored (10%
    more files on disk that the walk must skip).
    """
    root.mkdir(parents=True, exist_ok=True)
    (root / ".gitignore").write_text(GITIGNORE)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "app"\nversion = "0.1.0"\nrequires-python = ">=3.10"\n\n'
        '[tool.pytest.ini_options]\npythonpath = ["src"]\n'
    )
    (root / "README.md").write_text("# app\n\nA generated project for planfirst's benchmarks.\n")
    fixed = 3  # .gitignore, pyproject.toml, README.md
    n_mod = n_tests = 0
    made = fixed
    dirs: set[Path] = set()
    i = 0
    while made < n_files:
        mp = root / module_path(i)
        if mp.parent not in dirs:
            mp.parent.mkdir(parents=True, exist_ok=True)
            (mp.parent / "__init__.py").write_text("")
            dirs.add(mp.parent)
            made += 1
            if made >= n_files:
                break
        mp.write_text(module_text(i))
        made += 1
        n_mod += 1
        if i % 4 == 0 and made < n_files:
            tp = root / test_path(i)
            tp.parent.mkdir(parents=True, exist_ok=True)
            tp.write_text(test_text(i))
            made += 1
            n_tests += 1
        i += 1
    # ignored files: the walk must not return them
    for k in range(max(1, n_files // 10)):
        d = root / ("build" if k % 3 == 0 else "data" if k % 3 == 1 else f"src/app/pkg{k % 5}")
        d.mkdir(parents=True, exist_ok=True)
        name = f"gen_{k}.py" if k % 3 != 2 else f"run_{k}.log"
        (d / name).write_text(f"# generated {k}\nVALUE = {k}\n")
    return root


# ---------------------------------------------------------------- plans and scripts


def plan_input(modules: list[int], validation: list[str], extra_steps: int = 0) -> dict[str, Any]:
    """A submit_plan input: one step per module (edit the module and its test)."""
    steps = []
    files_to_modify = []
    for n, i in enumerate(modules, 1):
        files = [module_path(i), test_path(i)]
        steps.append(
            {
                "order": n,
                "description": (
                    f"In `{module_path(i)}` add `describe_{i}(record)` returning a one-line summary "
                    f"of a `Record{i}` (name, value and score), and test it in `{test_path(i)}`."
                ),
                "files_to_modify": files,
                "files_to_create": [],
                "validation": list(validation),
            }
        )
        for f in files:
            files_to_modify.append(
                {
                    "path": f,
                    "changes": f"Add `describe_{i}` and its test",
                    "depends_on": [] if f.startswith("src/") else [module_path(i)],
                }
            )
    return {
        "summary": (
            "Add a `describe_N(record)` helper to each listed module so the reporting screen can "
            "show a one-line summary of any record, with a unit test for each helper."
        ),
        "files_to_modify": files_to_modify,
        "files_to_create": [],
        "dependency_changes": {"packages": [], "config": []},
        "steps": steps,
        "test_criteria": ["Every new describe test passes"],
        "risks": ["`score_N_0` clips values; the summary shows the clipped score."],
        "assumptions": ["Python 3.10+"],
    }


def planning_turns(plan: dict[str, Any]) -> list[dict[str, Any]]:
    """The planning turns: the plan, and for several steps the same plan again after planfirst's
    review hands its warnings back (generated steps look alike: "duplicate steps")."""
    turn = {"tool": "submit_plan", "input": plan}
    return [turn, dict(turn)] if len(plan["steps"]) > 1 else [turn]


def step_turns(i: int, delay: float = 0.0) -> list[dict[str, Any]]:
    """The scripted execution turns of one step: two edits in one turn, then a closing text."""
    add = (
        f"\n\ndef describe_{i}(record: Record{i}) -> str:\n"
        f'    """A one-line summary of a record."""\n'
        f'    return f"{{record.name}}: {{record.value}} (score {{score_{i}_0(record)}})"\n'
    )
    test_add = (
        f"\n\ndef test_describe_{i}() -> None:\n"
        f'    assert describe_{i}(Record{i}("a", 1.0)).startswith("a:")\n'
    )
    turn: dict[str, Any] = {
        "tools": [
            {
                "name": ED,
                "input": {
                    "command": "str_replace",
                    "path": module_path(i),
                    "old_str": '    return "\\n".join(rows)\n',
                    "new_str": '    return "\\n".join(rows)\n' + add,
                },
            },
            {
                "name": ED,
                "input": {
                    "command": "str_replace",
                    "path": test_path(i),
                    "old_str": f"from app.pkg{i // 100}.mod_{i} import Record{i}, format_{i}, score_{i}_0\n",
                    "new_str": f"from app.pkg{i // 100}.mod_{i} import Record{i}, describe_{i}, format_{i}, score_{i}_0\n",
                },
            },
            {
                "name": ED,
                "input": {
                    "command": "str_replace",
                    "path": test_path(i),
                    "old_str": f'    assert "a" in format_{i}([Record{i}("a", 1.0)])\n',
                    "new_str": f'    assert "a" in format_{i}([Record{i}("a", 1.0)])\n' + test_add,
                },
            },
        ]
    }
    if delay:
        turn["delay"] = delay
    return [turn, {"text": f"Added describe_{i} and its test."}]


def modules_with_tests(count: int, start: int = 0) -> list[int]:
    """Module numbers that have a test file (every 4th)."""
    return [start + 4 * k for k in range(count)]


def allow_with_true() -> list[str]:
    """The default allow-list plus `true` (the zero-cost validation the overhead benches use)."""
    from planfirst.settings import DEFAULT_ALLOW

    return [*DEFAULT_ALLOW, "true"]
