#!/usr/bin/env bash
# Real-editor test: the packaged planfirst extension in code-server 4.100.3 (VS Code 1.100.3),
# driven in headless Debian Chromium by playwright-core, against the real planfirst server with a
# scripted model (`planfirst scripted-server` behind planfirst.anthropic.baseUrl). Installs what it needs (Debian packages, npm), builds the
# .vsix, runs the flows in tests/editors/vscode/e2e.js, saves screenshots to tests/editors/artifacts/
# and kills its whole process group at the end. Last line: "N passed, M failed"; exit 1 on failure.
#
# Environment (all optional):
#   PLANFIRST_E2E_CACHE   where code-server/playwright are installed (default ~/.cache/planfirst-e2e)
#   PLANFIRST_PYTHON      python that runs `-m planfirst serve` (default: .venv/bin/python, else python3)
#   PLANFIRST_E2E_SCRIPT  scripted model session (default: derived from examples/scripts/demo.json
#                         by tests/editors/scripts/editor_scripts.py)
#   PLANFIRST_E2E_WORKSPACE  workspace copied for each run (default examples/workspace)
#   PLANFIRST_E2E_DOCS=0  do not copy the two README screenshots to docs/
#   PLANFIRST_E2E_SPEC    what the UI test does and expects (default tests/editors/vscode/demo.spec.json)
#   PLANFIRST_E2E_SERVER_CMD  server command line as a JSON array (default: [], a first run: the
#                         test chooses PLANFIRST_PYTHON in the "server cannot start" message)
#   PORT                  code-server port (default: a free one)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
CACHE=${PLANFIRST_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/planfirst-e2e}
PY=${PLANFIRST_PYTHON:-}
if [ -z "$PY" ]; then if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=$(command -v python3); fi; fi
SCRIPT=${PLANFIRST_E2E_SCRIPT:-}
WS_SRC=${PLANFIRST_E2E_WORKSPACE:-$ROOT/examples/workspace}
SPEC=${PLANFIRST_E2E_SPEC:-$HERE/vscode/demo.spec.json}
ART="$HERE/artifacts"
fail() { echo "run-vscode-e2e: FAIL: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
[ -d "$WS_SRC" ] || fail "no example workspace at $WS_SRC"
[ -f "$SPEC" ] || fail "no UI test spec at $SPEC"
"$PY" -c 'import planfirst.lsp' 2>/dev/null || fail "$PY cannot import planfirst.lsp (install the server: pip install -e .)"

R=$(mktemp -d "${TMPDIR:-/tmp}/planfirst-vscode-e2e.XXXXXX")
mkdir -p "$R/tmp" "$ART"
if [ -z "$SCRIPT" ]; then
  SCRIPT="$R/model-script.json"
  "$PY" "$HERE/scripts/editor_scripts.py" vscode "$ROOT/examples/scripts/demo.json" "$SCRIPT" || fail "could not derive the model script"
fi
[ -f "$SCRIPT" ] || fail "no model script at $SCRIPT"
rm -f "$ART"/vscode-*.png
# keep every editor/browser file inside $R: code-server writes ~/.config/code-server and
# ~/.local/share/code-server, VS Code puts IPC sockets in $TMPDIR, Chromium ~/.config/chromium
export TMPDIR="$R/tmp" XDG_CONFIG_HOME="$R/xdg/config" XDG_DATA_HOME="$R/xdg/data" XDG_STATE_HOME="$R/xdg/state"
start=$(date +%s)

# 1. tools: Debian chromium + build deps, code-server (npm, postinstall by hand), playwright-core
XDG_CACHE_HOME="$R/xdg/cache" "$HERE/install-code-server.sh" "$CACHE" || fail "could not install code-server"
CS_BIN="$CACHE/cs/node_modules/.bin/code-server"

# 2. the extension, built and packaged exactly as users get it
( cd "$ROOT/editor-client"
  [ -d node_modules ] || npm ci --no-audit --no-fund >/dev/null
  npm run -s package >/dev/null ) || fail "could not build editor-client/planfirst.vsix"

# 3. an isolated VS Code profile: our settings, the .vsix installed
mkdir -p "$R/data/user/User" "$R/data/ext"
CSPID=
MODEL_PID=
cleanup() {
  if [ -n "$CSPID" ]; then
    kill -TERM -- "-$CSPID" 2>/dev/null || true
    for _ in $(seq 30); do kill -0 -- "-$CSPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$CSPID" 2>/dev/null || true   # whatever ignored TERM (extension host, server)
  fi
  kill "$MODEL_PID" 2>/dev/null || true
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$R"; else echo "run-vscode-e2e: kept $R" >&2; fi
}
trap cleanup EXIT
# a first run as a new user has it: no server command configured and planfirst not on the PATH
# VS Code sees (the test chooses the interpreter from the extension's message), no API key (the
# test sets it when Generate Plan asks), the model behind planfirst.anthropic.baseUrl
SERVER_CMD=${PLANFIRST_E2E_SERVER_CMD:-"[]"}
CS_PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -v -x -F "$(dirname "$PY")" | paste -sd: -)
if [ "$SERVER_CMD" = "[]" ] && PATH="$CS_PATH" python3 -I -c 'import planfirst' 2>/dev/null; then
  fail "python3 on PATH has planfirst installed: the first-run test needs one without it"
fi
"$PY" -I -m planfirst scripted-server --script "$SCRIPT" > "$R/model.url" 2> "$R/model.log" &
MODEL_PID=$!
for _ in $(seq 100); do [ -s "$R/model.url" ] && break; sleep 0.1; done
MODEL_URL=$(head -1 "$R/model.url")
[ -n "$MODEL_URL" ] || { kill "$MODEL_PID" 2>/dev/null; fail "the scripted model server did not start: $(tail -3 "$R/model.log")"; }
"$PY" - "$R/data/user/User/settings.json" "$SERVER_CMD" "$MODEL_URL" <<'PY'
import json, sys
json.dump({
    "workbench.startupEditor": "none", "security.workspace.trust.enabled": False,
    "telemetry.telemetryLevel": "off", "extensions.autoCheckUpdates": False,
    "extensions.autoUpdate": False, "workbench.tips.enabled": False,
    "workbench.enableExperiments": False, "chat.disableAIFeatures": True,
    "files.refactoring.autoSave": False,  # planfirst itself must get the applied text onto disk
    "git.enabled": False, "remote.autoForwardPorts": False,
    "planfirst.server.command": json.loads(sys.argv[2]),
    "planfirst.anthropic.baseUrl": sys.argv[3],
    "planfirst.trace.server": "messages",
    # a 429 reaches the editor at once (the test checks its Retry); no other turn fails
    "planfirst.anthropic.maxRetries": 0,
}, open(sys.argv[1], "w"), indent=2)
PY
CS=("$CS_BIN" --config "$R/data/config.yaml" --user-data-dir "$R/data/user" --extensions-dir "$R/data/ext")
PORT=${PORT:-$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" > "$R/data/config.yaml"
"${CS[@]}" --install-extension "$ROOT/editor-client/planfirst.vsix" >/dev/null || fail "code-server could not install the .vsix"

# 4. code-server in its own process group; the whole group is killed on exit
cp -r "$WS_SRC" "$R/ws"
rm -rf "$R/ws/.planfirst" "$R/ws/.pytest_cache"; find "$R/ws" -name __pycache__ -prune -exec rm -rf {} +
# validation finds pytest: the server puts its own interpreter's bin/ on the commands' PATH
env -u ANTHROPIC_API_KEY -u PLANFIRST_SCRIPT PATH="$CS_PATH" setsid "${CS[@]}" --bind-addr "127.0.0.1:$PORT" --auth none --disable-telemetry \
  --disable-update-check --disable-workspace-trust --disable-getting-started-override "$R/ws" \
  > "$R/code-server.log" 2>&1 &
CSPID=$!
disown "$CSPID"   # the group is killed in cleanup(); no job-control noise after the summary line
for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.2; done
curl -fs -o /dev/null "http://127.0.0.1:$PORT/healthz" || { tail -20 "$R/code-server.log" >&2; fail "code-server did not start"; }

# 5. the UI flows
rc=0
NODE_PATH="$CACHE/pw/node_modules" PORT="$PORT" WS="$R/ws" ART="$ART" DOCS="$ROOT/docs" SPEC="$SPEC" \
  E2E_DOCS="${PLANFIRST_E2E_DOCS:-1}" SUMMARY="$R/summary" SERVER_PYTHON="$PY" \
  timeout 300 node "$HERE/vscode/e2e.js" || rc=$?
if [ "$rc" != 0 ]; then
  echo "---- planfirst output channel (extension host log) ----" >&2
  find "$R/data/user/logs" -name '*planfirst*.log' -exec tail -n 60 {} \; >&2 2>/dev/null || true
  echo "---- code-server log ----" >&2; tail -n 20 "$R/code-server.log" >&2 || true
fi
echo "run-vscode-e2e: $(( $(date +%s) - start ))s, screenshots in $ART"
if [ -s "$R/summary" ]; then cat "$R/summary"; else echo "0 passed, 1 failed"; rc=1; fi
exit "$rc"
