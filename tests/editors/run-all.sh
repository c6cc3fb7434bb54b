#!/usr/bin/env bash
# Real-editor end-to-end tests (VS Code via code-server; Neovim 0.7 and 0.12, Emacs + eglot with
# planfirst's own preview; the acpx ACP client; the official ACP TypeScript SDK client). Each
# script installs what it needs.
set -euo pipefail
cd "$(dirname "$0")"
export PLANFIRST_E2E_DOCS="${PLANFIRST_E2E_DOCS:-0}"  # CI never rewrites the tracked screenshots
status=0
for t in run-vscode-e2e.sh run-nvim-e2e.sh run-create-retry-e2e.sh run-acpx-e2e.sh run-acp-sdk-e2e.sh; do
  if [ -x "$t" ] || [ -f "$t" ]; then
    echo "== $t =="
    bash "$t" || status=1
  fi
done
exit $status
