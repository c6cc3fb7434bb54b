#!/usr/bin/env bash
# Refresh the client capability profiles in this folder from the real editors (what the
# e2e suite's "nvim-0.7", "nvim-0.12" and "eglot-1.9" profiles declare). VS Code's comes from
# the code-server test with capture_proxy.py in front of the server: run tests/editors/run-vscode-e2e.sh
# with PLANFIRST_E2E_SERVER_CMD='["python3", "<abs>/capture_proxy.py", "<abs>/vscode-1.100.json", "--",
# "<abs>/.venv/bin/python", "-I", "-m", "planfirst", "serve"]' and PLANFIRST_E2E_SPEC=<a spec
# file: {"openFile": "textkit/wordcount.py", "actions": [{"name": "server runs", "do": "restart"}]}>
# (the demo spec starts with the server missing, which a configured command is not).
# Usage: capture.sh [NVIM_0_12_BINARY]   (Debian's nvim and emacs+elpa-eglot must be installed)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
NVIM12=${1:-}
R=$(mktemp -d); trap 'rm -rf "$R"' EXIT
mkdir -p "$R/ws" && (cd "$R/ws" && git init -q . && echo 'x = 1' > a.py)
export XDG_STATE_HOME="$R/xdg" XDG_DATA_HOME="$R/xdg" XDG_CONFIG_HOME="$R/xdg" XDG_CACHE_HOME="$R/xdg"
cap() { # name nvim-binary
  CAPTURE_OUT="$HERE/$1.json" "$2" --headless -i NONE -n -u NONE \
    -c "lua local id = vim.lsp.start_client({name='capture', cmd={'python3', '$HERE/capture_server.py'}, root_dir=vim.fn.getcwd()}); vim.lsp.buf_attach_client(0, id); vim.wait(5000, function() local c = vim.lsp.get_client_by_id(id); return c and c.initialized end, 50); vim.cmd('qall!')" \
    "$R/ws/a.py" </dev/null
}
cd "$R/ws"
cap nvim-0.7 nvim
[ -n "$NVIM12" ] && cap nvim-0.12 "$NVIM12"
CAPTURE_OUT="$HERE/eglot-1.9.json" emacs --batch --eval "(progn (package-initialize) (require 'eglot)
  (setq eglot-sync-connect t)
  (add-to-list 'eglot-server-programs '(python-mode . (\"python3\" \"$HERE/capture_server.py\")))
  (find-file \"$R/ws/a.py\") (python-mode) (apply #'eglot (eglot--guess-contact)) (kill-emacs 0))"
ls -l "$HERE"/*.json
