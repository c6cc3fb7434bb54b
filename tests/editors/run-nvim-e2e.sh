#!/usr/bin/env bash
# Real-editor test: headless Neovim (Debian's 0.7.2, vim.lsp.start_client) drives the real planfirst
# server with a scripted model: generate -> revise -> approve -> execute every step -> undo step 3,
# then the files on disk and the example's own tests are checked; the README snippet's commands
# (generate, revise, approve, execute, undo) on a second copy. Installs neovim via apt-get if missing.
# Last line: "N passed, M failed"; exit 1 on failure.
#
# Environment (all optional):
#   PLANFIRST_PYTHON      python that runs `-m planfirst serve` (default: .venv/bin/python, else python3)
#   PLANFIRST_E2E_SCRIPT  scripted model session (default: examples/scripts/demo.json, via editor_scripts.py)
#   PLANFIRST_E2E_WORKSPACE  workspace copied for the run (default examples/workspace)
#   NVIM                  the nvim binary (default: nvim on PATH)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PLANFIRST_PYTHON:-}
if [ -z "$PY" ]; then if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=$(command -v python3); fi; fi
WS_SRC=${PLANFIRST_E2E_WORKSPACE:-$ROOT/examples/workspace}
TASK="Add a \`--top N\` option to \`textkit count\` that prints only the N most frequent words (ties in alphabetical order), with a \`top_words(counts, n)\` helper in textkit/wordcount.py, tests, and a README line."
fail() { echo "run-nvim-e2e: FAIL: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
start=$(date +%s)

if [ -z "${NVIM:-}" ]; then
  command -v nvim >/dev/null || { apt-get install -y -qq neovim >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq neovim >/dev/null; }; } \
    || fail "could not install neovim"
  NVIM=$(command -v nvim)
fi
"$PY" -c 'import planfirst.lsp.server' 2>/dev/null || fail "$PY cannot import planfirst.lsp.server (pip install -e .)"

R=$(mktemp -d "${TMPDIR:-/tmp}/planfirst-nvim-e2e.XXXXXX")
cleanup() {
  # the server is Neovim's child; nvim runs in its own session, so kill that whole group
  if [ -n "${NVPID:-}" ]; then kill -KILL -- "-$NVPID" 2>/dev/null || true; fi
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$R"; else echo "run-nvim-e2e: kept $R" >&2; fi
}
trap cleanup EXIT
mkdir -p "$R/tmp"
# keep Neovim's shada/log/swap files out of $HOME and /tmp
export TMPDIR="$R/tmp" XDG_STATE_HOME="$R/xdg/state" XDG_DATA_HOME="$R/xdg/data" \
       XDG_CONFIG_HOME="$R/xdg/config" XDG_CACHE_HOME="$R/xdg/cache"
SCRIPT=${PLANFIRST_E2E_SCRIPT:-}
if [ -z "$SCRIPT" ]; then
  SCRIPT="$R/model-script.json"
  "$PY" "$HERE/scripts/editor_scripts.py" nvim "$ROOT/examples/scripts/demo.json" "$SCRIPT" || fail "could not derive the model script"
fi
# the revision feedback the scripted model expects (tests/editors/scripts/editor_scripts.py)
FEEDBACK=$("$PY" -c 'import runpy, sys; print(runpy.run_path(sys.argv[1])["REVISE_FEEDBACK"])' "$HERE/scripts/editor_scripts.py") \
  || fail "could not read the revision feedback"
MARK=$("$PY" -c 'import runpy, sys; print(runpy.run_path(sys.argv[1])["REVISED_MARK"])' "$HERE/scripts/editor_scripts.py")
cp -r "$WS_SRC" "$R/ws"
rm -rf "$R/ws/.planfirst" "$R/ws/.pytest_cache"; find "$R/ws" -name __pycache__ -prune -exec rm -rf {} +
cp -r "$R/ws" "$R/before"

rc=0
( cd "$R/ws"
  # the server runs validation commands (pytest) from PATH: put the server's interpreter first
  PATH="$(dirname "$PY"):$PATH" PLANFIRST_SCRIPT="$SCRIPT" NVIM_RESULT="$R/result.json" \
  PLANFIRST_CMD="[\"$PY\", \"-I\", \"-m\", \"planfirst\", \"serve\"]" PLANFIRST_TASK="$TASK" PLANFIRST_FEEDBACK="$FEEDBACK" PLANFIRST_STEPS=3 \
  exec setsid timeout 240 "$NVIM" --headless -i NONE -n -u "$HERE/nvim/e2e.lua" textkit/wordcount.py
) > "$R/nvim.log" 2>&1 &
NVPID=$!
wait "$NVPID" || rc=$?
NVPID=

# the setup docs/editors.md shows (nvim/readme-snippet.lua) on a fresh copy: the user commands work as documented
rm -rf "$R/ws2"; cp -r "$R/before" "$R/ws2"
rc2=0
( cd "$R/ws2"
  PATH="$(dirname "$PY"):$PATH" PLANFIRST_SCRIPT="$SCRIPT" NVIM_RESULT="$R/snippet.json" SNIPPET="$HERE/nvim/readme-snippet.lua" \
  PLANFIRST_CMD="[\"$PY\", \"-I\", \"-m\", \"planfirst\", \"serve\"]" PLANFIRST_TASK="$TASK" PLANFIRST_FEEDBACK="$FEEDBACK" \
  exec setsid timeout 240 "$NVIM" --headless -i NONE -n -u "$HERE/nvim/snippet-smoke.lua" textkit/wordcount.py
) > "$R/nvim-snippet.log" 2>&1 &
NVPID=$!
wait "$NVPID" || rc2=$?
NVPID=

"$PY" - "$R" "$rc" "$PY" "$rc2" "$MARK" <<'PY'
import json, subprocess, sys
from pathlib import Path

root, nvim_rc, py, mark = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[5]
ws = root / "ws"
results: list[tuple[str, bool, str]] = []

def check(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, bool(ok), detail))
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f": {detail}"))

try:
    r = json.loads((root / "result.json").read_text())
except (OSError, ValueError) as e:
    r = {"error": f"no result from Neovim ({e}); exit code {nvim_rc}"}
check(f"Neovim {r.get('nvim', '?')} ran the flow without an error", nvim_rc == 0 and "error" not in r, r.get("error", f"exit {nvim_rc}"))
check("the server offers planfirst's commands", "planfirst.generatePlan" in (r.get("commands") or []), str(r.get("commands")))
plan = r.get("plan") or {}
check("generatePlan answers with a plan id and a file URI (0.7: no textDocumentContent)",
      bool(plan.get("planId")) and str(plan.get("uri", "")).startswith("file://"), json.dumps(plan))
check("the plan document opened from disk shows the plan", "--top" in r.get("plan_text", ""), r.get("plan_text", "")[:200])
revised = " ".join((r.get("revised_text") or "").split())
check("revisePlan with feedback on the fresh plan: revision 2, the revised plan in the plan file",
      (r.get("revise") or {}).get("revision") == 2 and "revision=2" in revised and mark in revised,
      json.dumps(r.get("revise")) + " " + revised[:200])
check("approvePlan approves", (r.get("approve") or {}).get("status") == "approved", json.dumps(r.get("approve")))
steps = r.get("steps") or []
check("executeNextStep x3: every step done", len(steps) == 3 and all(s.get("status") == "done" for s in steps), json.dumps(steps)[:400])
check("step 1 needed a second attempt after failed validation", bool(steps) and steps[0].get("attempts") == 2, json.dumps(steps[:1]))
diags = [d for d in r.get("diagnostics", []) if "test_top_words_ties" in d.get("message", "")]
check("the failed validation reached Neovim as diagnostics", bool(diags), json.dumps(r.get("diagnostics", []))[:300])

def disk(rel: str) -> str:
    p = ws / rel
    return p.read_text() if p.exists() else ""

check("textkit/wordcount.py on disk holds the fixed top_words",
      "def top_words" in disk("textkit/wordcount.py") and "key=lambda kv: (-kv[1], kv[0])" in disk("textkit/wordcount.py"))
check("textkit/cli.py on disk has --top", "--top" in disk("textkit/cli.py"))
# step 3 is undone at the end: README.md as step 3 left it was read from disk by Neovim before that
check("README.md on disk documents --top", "--top" in (r.get("readme_before_undo") or ""))
undo = r.get("undo") or {}
check("undoStep step 3: README.md on disk is byte-identical to before step 3, the plan shows it undone",
      undo.get("status") == "undone" and (ws / "README.md").read_bytes() == (root / "before" / "README.md").read_bytes()
      and "### Step 3 · [ ] undone" in (r.get("plan_after_undo") or ""),
      json.dumps(undo) + " " + (r.get("plan_after_undo") or "")[-300:])
unchanged = [rel for rel in ("textkit/slug.py", "tests/test_slug.py", ".env")
             if disk(rel) != (root / "before" / rel).read_text()]
check("files outside the plan are untouched", not unchanged, ", ".join(unchanged))
t = subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ws, capture_output=True, text=True, timeout=120)
check("the example's tests, the new ones included, pass on the result",
      t.returncode == 0 and "def test_top_words_ties" in disk("tests/test_wordcount.py") and "def test_count_top" in disk("tests/test_cli.py"), (t.stdout + t.stderr).strip().splitlines()[-1:][0] if (t.stdout + t.stderr).strip() else "")
try:
    sn = json.loads((root / "snippet.json").read_text())
except (OSError, ValueError) as e:
    sn = {"error": f"no result ({e}); exit code {sys.argv[4]}"}
check("README snippet: :PlanfirstGenerate opens the plan, :PlanfirstApprove, :PlanfirstExecute runs step 1",
      int(sys.argv[4]) == 0 and "error" not in sn and str(sn.get("plan_file", "")).endswith("plan.md"),
      sn.get("error", "") + " " + " | ".join(sn.get("notes", []))[:300])
check("README snippet: :PlanfirstRevise writes revision 2 with the revised plan",
      mark in " ".join(str(sn.get("revised_text", "")).split()), str(sn.get("revised_text", ""))[:200])
# :PlanfirstUndo runs after step 1: Neovim read step 1's result from disk before that
check("README snippet: step 1 is on disk", "key=lambda kv: (-kv[1], kv[0])" in str(sn.get("step1_on_disk", "")))
check("README snippet: :PlanfirstUndo restores textkit/wordcount.py byte for byte",
      "error" not in sn and (root / "ws2" / "textkit" / "wordcount.py").read_bytes() == (root / "before" / "textkit" / "wordcount.py").read_bytes()
      and (root / "ws2" / "tests" / "test_wordcount.py").read_bytes() == (root / "before" / "tests" / "test_wordcount.py").read_bytes())
plans = r.get("plans") or []
check("listPlans reports the plan done", bool(plans) and plans[0].get("status") == "done" and plans[0]["steps"]["done"] == 3, json.dumps(plans)[:300])
failed = sum(1 for _, ok, _ in results if not ok)
if failed:
    for name in ("nvim.log", "nvim-snippet.log"):
        p = root / name
        log = p.read_text(errors="replace")[-3000:] if p.exists() else ""
        print(f"---- {name} ----\n{log}", file=sys.stderr)
(root / "summary").write_text(f"{len(results) - failed} passed, {failed} failed\n")
PY
echo "run-nvim-e2e: $(( $(date +%s) - start ))s"
cat "$R/summary" 2>/dev/null || { echo "0 passed, 1 failed"; exit 1; }
grep -q ' 0 failed$' "$R/summary"
