#!/usr/bin/env bash
# ACP e2e with the official TypeScript SDK's client (@agentclientprotocol/sdk 2.4.0, validated
# with ajv against the schema.json the package ships): `python -I -m planfirst acp` on a copy of
# examples/workspace with the scripted model, as Zed would drive it (fs + terminal), with a stdio
# MCP server (tests/fixtures/mcp_tickets.py: one read-only tool the planner uses, one writing tool
# it must never see): plan -> approval -> step 1 fails in the client's terminal -> /retry 1 ->
# cancel at step 2 -> session/load in a fresh process (the whole conversation replayed) ->
# /continue to the end (tests/editors/acp-sdk/e2e.mjs). Installs the SDK and ajv with npm into a
# cache directory if missing. Last line: "N passed, M failed".
#
# Environment (all optional):
#   PLANFIRST_PYTHON    python that runs `-m planfirst acp` (default: .venv/bin/python, else python3)
#   ACP_SDK_HOME        where the SDK is installed (default: ~/.cache/planfirst-acp-sdk)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PLANFIRST_PYTHON:-}
if [ -z "$PY" ]; then if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=$(command -v python3); fi; fi
fail() { echo "run-acp-sdk-e2e: FAIL: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
start=$(date +%s)

if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
  echo "run-acp-sdk-e2e: SKIPPED — node and npm are needed to install @agentclientprotocol/sdk; the ACP e2e with the official SDK did NOT run" >&2
  echo "0 passed, 0 failed"
  exit 0
fi
SDK_HOME=${ACP_SDK_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/planfirst-acp-sdk}
if [ ! -f "$SDK_HOME/node_modules/@agentclientprotocol/sdk/schema/v1/schema.json" ] || [ ! -d "$SDK_HOME/node_modules/ajv" ]; then
  mkdir -p "$SDK_HOME"
  npm install --prefix "$SDK_HOME" --no-audit --no-fund --silent @agentclientprotocol/sdk@2.4.0 ajv@8.20.0 >/dev/null 2>&1 \
    || fail "could not install @agentclientprotocol/sdk@2.4.0 and ajv from npm"
fi
"$PY" -c 'import planfirst.acp.agent, mcp' 2>/dev/null || fail "$PY cannot import planfirst.acp.agent and mcp (pip install -e .)"

R=$(mktemp -d "${TMPDIR:-/tmp}/planfirst-acp-sdk-e2e.XXXXXX")
cleanup() { if [ "${KEEP:-0}" != 1 ]; then rm -rf "$R"; else echo "run-acp-sdk-e2e: kept $R" >&2; fi; }
trap cleanup EXIT
cp -r "$ROOT/examples/workspace" "$R/ws"
rm -rf "$R/ws/.planfirst"
mkdir -p "$R/home"
"$PY" "$HERE/scripts/editor_scripts.py" acp-sdk "$ROOT/examples/scripts/demo.json" "$R/script.json"
"$PY" "$HERE/scripts/editor_scripts.py" acp-sdk-resume "$ROOT/examples/scripts/demo.json" "$R/resume.json"
echo '{"execution": {"maxAttempts": 1}}' >"$R/settings.json"  # step 1's failure stops the run: /retry
cp "$HERE/acp-sdk/e2e.mjs" "$SDK_HOME/e2e.mjs"                # next to its node_modules

HOME="$R/home" PY="$PY" WS="$R/ws" SCRIPT="$R/script.json" SCRIPT_RESUME="$R/resume.json" SETTINGS="$R/settings.json" \
  MCP_SERVER="$ROOT/tests/fixtures/mcp_tickets.py" LOG="$R/agent.log" \
  timeout 300 node "$SDK_HOME/e2e.mjs" >"$R/out.txt" 2>"$R/err.txt" \
  || { tail -n 40 "$R/out.txt" "$R/err.txt" "$R/agent.log" >&2; fail "the SDK client's run failed"; }
cat "$R/out.txt" | head -n -1

grep -q 'def top_words' "$R/ws/textkit/wordcount.py" || fail "textkit/wordcount.py has no top_words"
grep -q -- '--top' "$R/ws/textkit/cli.py" || fail "textkit/cli.py has no --top"
grep -rq 'tickets/create_ticket' "$R/ws/.planfirst/plans" || fail "the plan's notes do not name the tool not offered"
ls "$R"/ws/.planfirst/plans/*/transcripts/*.json >/dev/null 2>&1 || fail "no session transcript in the plan's folder"
(cd "$R/ws" && "$PY" -m pytest -q -p no:cacheprovider >/dev/null) || fail "the example's tests fail after the run"
if grep -q 'canary-5f0d6c1e' "$R/out.txt" "$R/agent.log"; then fail "the .env canary was shown or logged"; fi

echo "run-acp-sdk-e2e: the official ACP SDK client drove plan -> fail -> retry -> cancel -> load -> done in $(( $(date +%s) - start )) s"
echo "1 passed, 0 failed"
