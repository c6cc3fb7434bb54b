"""7. Large files: one step that edits a function in the middle of a 5,000-line module and adds a
test to its 6,000-line test file, and the same on a 20,000-line module — planfirst (outline plus
windows, the text editor tool) vs the naive approach (whole files in, whole files out).

The step really runs: the real SDK talks to the scripted server, which reports usage with prompt
caching (writes at each breakpoint, reads of a prefix seen before) at ~4 characters per token;
cost at the catalogue's prices for the execution model. The naive figures are computed from the
same files: one request carrying the system prompt, the rendered plan and both files whole, and an
answer carrying both files' new text whole (no caching: every step is a new prompt).

Run: .venv/bin/python bench/bench_large_files.py
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Section, finish

ED = "str_replace_based_edit_tool"


def module(n_lines: int) -> str:
    """A realistic module: functions of ~12 lines with docstrings and a little logic."""
    out = ['"""A generated module."""', "", "from __future__ import annotations", ""]
    i = 0
    while len(out) < n_lines:
        out += [
            "",
            f"def compute_{i:05d}(values: list[float], scale: float = 1.0) -> float:",
            f'    """Weighted score number {i} of `values`."""',
            "    total = 0.0",
            "    for k, v in enumerate(values):",
            f"        if v > {i % 7}:",
            f"            total += v * scale * {i % 5 + 1}",
            "        else:",
            "            total -= k * 0.5",
            f"    result_{i:05d} = round(total, 3)",
            f"    return result_{i:05d}",
            "",
        ]
        i += 1
    return "\n".join(out) + "\n"


def tests(n_lines: int, funcs: int) -> str:
    """A test file with one small test per function."""
    out = ["from pkg.big import *  # noqa: F403", ""]
    i = 0
    while len(out) < n_lines:
        k = i % funcs
        out += [
            "",
            f"def test_compute_{i:05d}() -> None:",
            f"    assert isinstance(compute_{k:05d}([1.0, 2.0, 3.0]), float)  # noqa: F405",
            f"    assert compute_{k:05d}([]) == 0.0  # noqa: F405",
            "",
        ]
        i += 1
    return "\n".join(out) + "\n"


def plan_input(target: int) -> dict[str, Any]:
    return {
        "summary": f"compute_{target:05d} must ignore negative values; a test pins it.",
        "files_to_modify": [
            {"path": "pkg/big.py", "changes": f"compute_{target:05d} skips negative values"},
            {"path": "tests/test_big.py", "changes": "one test for negative values"},
        ],
        "files_to_create": [],
        "dependency_changes": {"packages": [], "config": []},
        "steps": [
            {
                "order": 1,
                "description": f"In pkg/big.py make `compute_{target:05d}` skip negative values "
                "(they count as missing); add `test_negative_values_skipped` to tests/test_big.py.",
                "files_to_modify": ["pkg/big.py", "tests/test_big.py"],
                "files_to_create": [],
                "validation": ["true"],
            }
        ],
        "test_criteria": ["`true` passes"],
        "risks": ["other functions change by accident"],
        "assumptions": ["callers pass lists of floats"],
    }


def turns(target: int, big: str) -> list[dict[str, Any]]:
    line = (
        big.splitlines().index(
            f"def compute_{target:05d}(values: list[float], scale: float = 1.0) -> float:"
        )
        + 1
    )
    return [
        {"tool": "submit_plan", "input": plan_input(target)},
        {
            "tool": ED,
            "input": {"command": "view", "path": "pkg/big.py", "view_range": [line, line + 11]},
        },
        {
            "tools": [
                {
                    "name": ED,
                    "input": {
                        "command": "str_replace",
                        "path": "pkg/big.py",
                        "old_str": f'    """Weighted score number {target} of `values`."""\n    total = 0.0\n',
                        "new_str": f'    """Weighted score number {target} of `values`."""\n    total = 0.0\n    values = [v for v in values if v >= 0]  # negative: missing\n',
                    },
                },
                {
                    "name": ED,
                    "input": {
                        "command": "insert",
                        "path": "tests/test_big.py",
                        "insert_line": 2,
                        "insert_text": f"\ndef test_negative_values_skipped() -> None:\n    assert compute_{target:05d}([-5.0]) == 0.0  # noqa: F405\n",
                    },
                },
            ]
        },
        {"text": "Negative values are skipped; a test pins it."},
    ]


async def run(root: Path, n_lines: int) -> dict[str, Any]:
    from bench_step_overhead import InstantHost, ScriptedModels, settings

    from planfirst.core.workflow.session import Session
    from planfirst.llm.scripted.server import ScriptedServer

    big = module(n_lines)
    funcs = big.count("\ndef compute_")
    test = tests(int(n_lines * 1.2) if n_lines <= 5000 else 6000, funcs)
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "big.py").write_text(big)
    (root / "tests" / "test_big.py").write_text(test)
    (root / "pyproject.toml").write_text('[project]\nname = "bench"\nversion = "0"\n')
    target = funcs // 2
    with ScriptedServer(turns(target, big)) as srv:
        s = settings()
        models = ScriptedModels(s, srv.base_url)
        session = Session(root, s, models, InstantHost(root))
        plan = await session.generate("compute must ignore negative values")
        await session.approve(plan.id, force=True)
        out = await session.execute_next(plan.id)
        await models.planning().aclose()
        await models.execution().aclose()
        assert not srv.failures, srv.failures
        assert out.status == "done", out
        requests = [
            r for r in srv.requests if any(t.get("name") == ED for t in r.body.get("tools") or [])
        ]
        plan = session.store.load(plan.id)
        settings_used = s
    run1 = plan.state(1).runs[-1]
    assert "values = [v for v in values if v >= 0]" in (run1.after.get("pkg/big.py") or "")
    return {
        "lines": big.count("\n"),
        "test_lines": test.count("\n"),
        "big": big,
        "test": test,
        "requests": [len(json.dumps(r.body, ensure_ascii=False)) for r in requests],
        "usage": run1.usage,
        "sent": run1.sent,
        "model": settings_used.execution_model,
        "plan": plan,
        "prices": settings_used.prices,
    }


def tok(chars: int) -> int:
    return (chars + 3) // 4


def main() -> None:
    from planfirst.llm import prompts
    from planfirst.llm.catalog import cost, lookup
    from planfirst.plan.model import Usage
    from planfirst.plan.render import render

    t0 = time.perf_counter()
    sec = Section("large_files", "7. Large files: outline + windows vs whole files")
    rows, verdict_5k, verdict_20k = [], None, None
    for n in (5000, 20000):
        with tempfile.TemporaryDirectory(prefix="pf-bench-large-") as d:
            r = asyncio.run(run(Path(d) / "ws", n))
        info = lookup(r["model"], r["prices"])
        per_req = [tok(c) for c in r["requests"]]
        pf_cost = cost(r["model"], r["usage"], r["prices"])
        u = r["usage"]
        uncached = Usage(
            input_tokens=u.input_tokens + u.cache_creation_input_tokens + u.cache_read_input_tokens,
            output_tokens=u.output_tokens,
        )
        pf_uncached = cost(r["model"], uncached, r["prices"])
        naive_in = tok(
            len(prompts.EXECUTION_SYSTEM)
            + len(render(r["plan"]).text)
            + len(r["big"])
            + len(r["test"])
        )
        naive_out = tok(len(r["big"]) + len(r["test"]))  # both files' new text, whole
        naive_cost = cost(
            r["model"], Usage(input_tokens=naive_in, output_tokens=naive_out), r["prices"]
        )
        fits = max(per_req) <= info.context_window
        naive_fits = naive_in <= info.context_window and naive_out <= info.max_output_tokens
        rows.append(
            [
                f"{r['lines']:,} + {r['test_lines']:,} test lines",
                f"{len(per_req)}: " + ", ".join(f"{x:,}" for x in per_req),
                f"{max(per_req):,}",
                f"in {r['usage'].input_tokens:,} · cache write {r['usage'].cache_creation_input_tokens:,} · read {r['usage'].cache_read_input_tokens:,} · out {r['usage'].output_tokens:,}",
                f"${pf_cost:.4f} (${pf_uncached:.4f} without caching)",
                f"{naive_in:,} in + {naive_out:,} out" + ("" if naive_fits else " (does not fit)"),
                f"${naive_cost:.4f}",
                f"{pf_cost / naive_cost:.3f}",
            ]
        )
        if n == 5000:
            verdict_5k = (max(per_req), pf_cost / naive_cost)
        else:
            verdict_20k = (max(per_req), fits, info.context_window, naive_fits)
        sec.notes.append(f"{n:,}-line run: what the prompt carried per file: {r['sent']}")
    sec.table(
        f"One step (edit a function in the middle of the module + add a test), model {r['model']} at catalogue prices",
        [
            "files",
            "planfirst requests: input tokens each",
            "largest request",
            "planfirst usage (step)",
            "planfirst cost",
            "naive tokens",
            "naive cost",
            "cost ratio planfirst / naive",
        ],
        rows,
    )
    assert verdict_5k is not None and verdict_20k is not None
    sec.verdict(
        "≤ 12k input tokens per request on the 5k-line file",
        f"largest request {verdict_5k[0]:,} tokens",
        verdict_5k[0] <= 12_000,
    )
    sec.verdict(
        "cost per step ≤ 0.2 × naive (5k-line file)",
        f"{verdict_5k[1]:.3f} × naive",
        verdict_5k[1] <= 0.2,
    )
    sec.verdict(
        "the 20k-line step fits the window",
        f"largest request {verdict_20k[0]:,} of {verdict_20k[2]:,} tokens; naive {'fits' if verdict_20k[3] else 'does not fit (input or output over the limits)'}",
        verdict_20k[1],
    )
    sec.notes.append(
        "planfirst's requests per step: the first carries the outline and windows, the second the model's view of "
        "the function's range, the third the two edits' results; each later request reads the earlier prefix from "
        "the cache. Naive: one request with both files whole and an answer with both files whole."
    )
    sec.seconds = time.perf_counter() - t0
    finish(sec)


if __name__ == "__main__":
    main()
