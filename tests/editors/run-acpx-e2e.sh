#!/usr/bin/env bash
# Real ACP client test: acpx 0.19.1 (npm; a headless ACP client on the official TypeScript SDK
# @agentclientprotocol/sdk) runs `python -I -m planfirst acp` on a copy of examples/workspace with
# the scripted model: plan -> approval -> three steps (step 1 fails validation once and is retried)
# -> test criteria. acpx declares fs read/write, so every edit goes through fs/write_text_file.
# Then the files on disk, the stored plan and the example's own tests are checked.
# Installs acpx with npm into a cache directory if missing. Last line: "N passed, M failed".
#
# Environment (all optional):
#   PLANFIRST_PYTHON   python that runs `-m planfirst acp` (default: .venv/bin/python, else python3)
#   ACPX               the acpx binary (default: installed under $ACPX_HOME)
#   ACPX_HOME          where acpx is installed (default: ~/.cache/planfirst-acpx)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PLANFIRST_PYTHON:-}
if [ -z "$PY" ]; then if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=$(command -v python3); fi; fi
fail() { echo "run-acpx-e2e: FAIL: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
start=$(date +%s)

if [ -z "${ACPX:-}" ]; then
  ACPX_HOME=${ACPX_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/planfirst-acpx}
  ACPX="$ACPX_HOME/node_modules/.bin/acpx"
  if [ ! -x "$ACPX" ]; then
    command -v npm >/dev/null || fail "npm is needed to install acpx"
    mkdir -p "$ACPX_HOME"
    npm install --prefix "$ACPX_HOME" --no-audit --no-fund --silent acpx@0.19.1 >/dev/null 2>&1 \
      || fail "could not install acpx@0.19.1 from npm"
  fi
fi
"$PY" -c 'import planfirst.acp.agent' 2>/dev/null || fail "$PY cannot import planfirst.acp.agent (pip install -e .)"

R=$(mktemp -d "${TMPDIR:-/tmp}/planfirst-acpx-e2e.XXXXXX")
cleanup() { if [ "${KEEP:-0}" != 1 ]; then rm -rf "$R"; else echo "run-acpx-e2e: kept $R" >&2; fi; }
trap cleanup EXIT
cp -r "$ROOT/examples/workspace" "$R/ws"
rm -rf "$R/ws/.planfirst"
mkdir -p "$R/home"

# acpx keeps its own session state under $HOME: give it a throwaway one
HOME="$R/home" PLANFIRST_SCRIPT="$ROOT/examples/scripts/demo.json" PLANFIRST_LOG_FILE="$R/agent.log" \
  timeout 300 "$ACPX" --agent "$PY -I -m planfirst acp" --cwd "$R/ws" --approve-all --format text \
  exec "Add a --top N option to textkit count" >"$R/out.txt" 2>"$R/err.txt" \
  || { tail -30 "$R/out.txt" "$R/err.txt" >&2; fail "acpx exited non-zero"; }

grep -q '^\[done\] end_turn' "$R/out.txt" || { tail -30 "$R/out.txt" >&2; fail "the prompt did not end with end_turn"; }
grep -q 'Approve the plan' "$R/out.txt" || fail "no approval question was shown"
grep -q '\[completed\] 3\.' "$R/out.txt" || fail "the plan entries never showed step 3 completed"
grep -q 'Validate step 1 (failed)' "$R/out.txt" || fail "step 1's failing validation was not shown"
grep -q 'fs/write_text_file' "$R/out.txt" || fail "edits did not go through fs/write_text_file"
grep -q 'def top_words' "$R/ws/textkit/wordcount.py" || fail "textkit/wordcount.py has no top_words"
grep -q -- '--top' "$R/ws/textkit/cli.py" || fail "textkit/cli.py has no --top"
(cd "$R/ws" && HOME="$R/home" "$PY" -m planfirst plans --workspace . | grep -q ' done ') || fail "the stored plan is not done"  # the same user (HOME) whose key sealed it
(cd "$R/ws" && "$PY" -m pytest -q -p no:cacheprovider >/dev/null) || fail "the example's tests fail after the run"
if grep -q 'canary-5f0d6c1e' "$R/out.txt" "$R/agent.log"; then fail "the .env canary was shown or logged"; fi

echo "run-acpx-e2e: acpx $("$ACPX" --version 2>/dev/null) drove plan -> approve -> 3 steps -> done in $(( $(date +%s) - start )) s"
echo "1 passed, 0 failed"
