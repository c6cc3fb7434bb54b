"""Tables and goals of section 1 (per-step overhead) from the rows bench_step_overhead.py measured.

A row is one step: exclusive milliseconds per phase (bench/_instrument.py), the step's total
(`total` in-process, `wall` on the LSP client), and the counts `fsync calls` and `durable writes`.
"""

from __future__ import annotations

from typing import Any

from _common import Section, med, ms, pct
from _instrument import DURABLE_WRITES, EXCLUDED_PHASES, FSYNC_CALLS, FSYNC_MS, OVERHEAD_PHASES

Rows = list[dict[str, float]]
RATIO_GOAL = 0.25  # overhead through LSP / the step's zero-latency SDK round trips (#32)
RATIO_GOAL_STRESSED = 0.5  # the same with `stress --cpu 2` beside it
OUTSIDE = "LSP dispatch + response"  # server wall time outside Session.execute_next
DURABLE_GOAL = 2  # durable writes in a step that passes first time: applied, done


def overhead(row: dict[str, float], total_key: str) -> float:
    """Total minus the model call and validation."""
    return row[total_key] - sum(row.get(p, 0.0) for p in EXCLUDED_PHASES)


def _phase_rows(n: int, rows: Rows, e2e: Rows) -> list[list[Any]]:
    out = []
    for p in [*OVERHEAD_PHASES, "other", OUTSIDE, *EXCLUDED_PHASES, FSYNC_MS]:
        vals = [r.get(p, 0.0) for r in rows]
        vals_e = [
            r.get("server wall", 0.0) - r.get("server total", 0.0)
            if p == OUTSIDE
            else r.get(p, 0.0)
            for r in e2e
        ]
        name = (
            f"({p}: excluded)"
            if p in EXCLUDED_PHASES
            else "(of which: inside fsync, any thread)"
            if p == FSYNC_MS
            else p
        )
        out.append(
            [f"{n:,}", name, ms(med(vals)), ms(pct(vals, 95)), ms(med(vals_e)), ms(pct(vals_e, 95))]
        )
    return out


def _counts(rows: Rows) -> tuple[int, int, int, int]:
    """(most durable writes in a step but the last, in the last, fsync calls likewise)."""
    body, last = rows[:-1], rows[-1]
    return (
        int(max(r.get(DURABLE_WRITES, 0) for r in body)),
        int(last.get(DURABLE_WRITES, 0)),
        int(max(r.get(FSYNC_CALLS, 0) for r in body)),
        int(last.get(FSYNC_CALLS, 0)),
    )


def report(
    runs: dict[int, tuple[Rows, Rows]], cpus: int, load: str, steps: int, warmup: int
) -> Section:
    """Section 1 (or 1b under load) from the measured rows, by workspace size."""
    stressed = cpus > 0
    sec = (
        Section(
            "step_overhead_stress",
            f"1b. Per-step overhead with {load} beside it",
        )
        if stressed
        else Section("step_overhead", "1. Per-step overhead (excluding model and validation time)")
    )
    summary, breakdown, ratios, fsyncs = [], [], [], []
    medians: dict[tuple[str, int], float] = {}
    worst_ratio = 0.0
    worst_durable = 0
    for n, (rows, e2e) in runs.items():
        ov = [overhead(r, "total") for r in rows]
        ov_e = [overhead(r, "server wall") for r in e2e]
        ov_c = [overhead(r, "wall") for r in e2e]
        medians[("in", n)], medians[("e2e", n)] = med(ov), med(ov_e)
        summary.append(
            [
                f"{n:,}",
                len(rows),
                ms(med(ov)),
                ms(pct(ov, 95)),
                f"{ms(min(ov))}–{ms(max(ov))}",
                ms(med(ov_e)),
                ms(pct(ov_e, 95)),
                f"{ms(min(ov_e))}–{ms(max(ov_e))}",
                ms(med(ov_c)),
            ]
        )
        breakdown += _phase_rows(n, rows, e2e)
        model_in = med([r.get("model call", 0.0) for r in rows])
        model_e = med([r.get("model call", 0.0) for r in e2e])
        ratio = med(ov_e) / model_e if model_e else float("inf")
        worst_ratio = max(worst_ratio, ratio)
        ratios.append(
            [
                f"{n:,}",
                ms(med(ov_e)),
                ms(model_e),
                f"{ratio:.2f}",
                ms(med(ov)),
                ms(model_in),
                f"{med(ov) / model_in:.2f}" if model_in else "–",
            ]
        )
        for where, rs in (("in-process", rows), ("LSP", e2e)):
            d_body, d_last, f_body, f_last = _counts(rs)
            worst_durable = max(worst_durable, d_body)
            fsyncs.append([f"{n:,}", where, d_body, f_body, d_last, f_last])
    goal = RATIO_GOAL_STRESSED if stressed else RATIO_GOAL
    sec.table(
        "Overhead per step (ms): in-process Session, and through LSP (the server's time from reading executeNextStep to writing its response − model call − validation − the editor's answers); last column: the same from the test client's wall time",
        [
            "files",
            "steps",
            "in-process median",
            "p95",
            "min–max",
            "LSP median",
            "p95",
            "min–max",
            "client-side median",
        ],
        summary,
    )
    sec.table(
        "Overhead against the step's zero-latency SDK round trips (its model call: two requests to the scripted server, same run, medians in ms)",
        [
            "files",
            "LSP overhead",
            "LSP model call",
            "ratio",
            "in-process overhead",
            "in-process model call",
            "ratio",
        ],
        ratios,
    )
    sec.table(
        "Durable writes per step (an fsync of a file; each also fsyncs its directory, so the rename survives a power loss)",
        [
            "files",
            "where",
            "durable writes, steps passing first time (max)",
            "fsync calls (max)",
            "last step (+ plan done)",
            "fsync calls",
        ],
        fsyncs,
    )
    sec.table(
        "Breakdown (ms, exclusive time per phase; each step edits 2 files: a module and its test)",
        ["files", "phase", "in-process median", "p95", "LSP server median", "p95"],
        breakdown,
    )
    sec.verdict(
        f"per-step overhead through LSP ≤ {goal}× the zero-latency SDK round trips of the step (same run), on every size",
        f"worst ×{worst_ratio:.2f} ({', '.join(f'{r[0]} files ×{r[3]}' for r in ratios)})",
        worst_ratio <= goal,
        ""
        if worst_ratio <= goal
        else "the goal was set against round trips that were mostly the scripted server's 40 ms "
        "delayed-ACK stall, fixed in this run (see the notes); see the breakdown",
    )
    if not stressed:
        sec.verdict(
            f"durable writes (fsync) ≤ {DURABLE_GOAL} for a step that passes first time",
            f"at most {worst_durable} per step (applied, done); the plan's last step also records the plan done",
            worst_durable <= DURABLE_GOAL,
        )
        if ("e2e", 2_000) in medians:
            m_in, m_e = medians[("in", 2_000)], medians[("e2e", 2_000)]
            sec.verdict(
                "median overhead < 25 ms on 2,000 files",
                f"{ms(m_in)} ms in-process, {ms(m_e)} ms end to end",
                max(m_in, m_e) < 25,
            )
        lo, hi = min(runs), max(runs)
        g_in = medians[("in", hi)] / medians[("in", lo)]
        g_e = medians[("e2e", hi)] / medians[("e2e", lo)]
        flat = max(g_in, g_e) < 1.5
        sec.verdict(
            "growth with workspace size no worse than linear in the files the step touches",
            f"median {lo:,} → {hi:,} files: ×{g_in:.2f} in-process, ×{g_e:.2f} end to end (same 2 files touched per step)",
            flat,
            "" if flat else "overhead grows with repository size",
        )
    sec.notes.append(
        f"{steps - warmup} measured steps per workspace after {warmup} warm-up steps; the model is the "
        "real SDK against the scripted loopback server with zero delay, validation is `true`."
        + (
            f" Run with {load} for the whole section (bench_step_overhead.py --stress {cpus})."
            if stressed
            else ""
        )
    )
    sec.notes.append(
        "'other' is the rest of the step not inside a named phase: session bookkeeping, progress, "
        "staleness hashes. Through LSP, 'editor answers' is the time the server waits for the "
        "client to answer its requests (applyEdit, saveDocuments, progress creation; in a real "
        "editor the user's review): not planfirst's, like the model call. Sending those requests "
        "stays in the phase that sends them. 'model call' includes whatever else the event loop "
        "ran meanwhile (plan refreshes), so the LSP overhead slightly under-counts that work."
    )
    sec.notes.append(
        "Measurement fixed in this run (#32): the scripted server wrote each streamed event as "
        "its own small TCP segment with Nagle's algorithm on, so every answer after the first "
        "segment waited for the SDK's delayed ACK: about 40 ms per request on loopback, which "
        "the real API's servers (TCP_NODELAY) do not add. The 'zero-latency' model call of a "
        "step was 58–96 ms, of which 45–83 ms was that wait; it now sets TCP_NODELAY and a "
        "step's two requests take the SDK about 13 ms. The ratio goal (≤ 0.25×, set against "
        "the stalled figure) would now mean about 3 ms per step, less than the two fsyncs a "
        "step must make; the absolute figures and section 9 (a realistic model) are the measure."
    )
    sec.notes.append(
        "Measurement fixed earlier (#32): the ratio used to be taken from the test client's "
        "wall time, which charged planfirst with the bench's own client (a second Python process "
        "on the same two cores, answering applyEdit and saveDocuments and reading every "
        "notification), and the client did not name itself VS Code, so the server took it for an "
        "editor without a preview and went through planfirst's own preview: a document, "
        "showDocument and a question answered every step. The client-side column keeps that "
        "figure visible."
    )
    sec.notes.append(
        "Persistence: plan.json written atomically at each transition: running (on the "
        "background writer while the model is asked), proposed (in place, not fsynced), applied "
        "(fsynced; for an editor that saves, on the background writer while it saves and the "
        "validation runs; in place where the server writes the files: the in-process Host), "
        "done (fsynced in place, its directory's fsync on the background writer, waited for "
        "before the step answers; plan.md rendered and written by the writer after it); each "
        "sealed over its text; the current-state record rewritten in place; the step history "
        "appended as a line on the background writer. Waiting for the background writer counts "
        "here."
    )
    return sec
