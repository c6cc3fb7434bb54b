#!/usr/bin/env bash
# Install code-server 4.100.3 (VS Code 1.100.3, the newest line on Node 20), Debian Chromium and
# playwright-core into a cache directory, without any download beyond npm and Debian.
# Usage: install-code-server.sh CACHE_DIR   (idempotent: a finished install is reused)
# Recipe and pitfalls: docs/editors.md and tests/editors/run-vscode-e2e.sh (postinstall done by hand, because the
# packaged one downloads ripgrep and an argon2 prebuild from GitHub).
set -euo pipefail
CACHE=${1:?usage: install-code-server.sh CACHE_DIR}
CS_VERSION=${CS_VERSION:-4.100.3}
STAMP="$CACHE/.installed-code-server-$CS_VERSION"
export npm_config_yes=true          # ~/.npmrc may say yes=false; node-pty's install runs `npx node-gyp`
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
for h in /usr/include/krb5.h /usr/include/X11/extensions/XKBfile.h /usr/include/libsecret-1/libsecret/secret.h; do
  [ -e "$h" ] || { need_apt+=(libkrb5-dev libxkbfile-dev libsecret-1-dev); break; }
done
command -v g++ >/dev/null || need_apt+=(build-essential)
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-code-server: apt-get install ${need_apt[*]}" >&2
  { apt-get install -y -qq "${need_apt[@]}" || { apt-get update -qq && apt-get install -y -qq "${need_apt[@]}"; }; } >/dev/null
fi

if [ -f "$STAMP" ]; then exit 0; fi
rm -rf "$CACHE/cs" "$CACHE/pw"; mkdir -p "$CACHE/cs" "$CACHE/pw"
echo "install-code-server: npm code-server@$CS_VERSION (about a minute)" >&2
npm install --prefix "$CACHE/cs" --ignore-scripts "code-server@$CS_VERSION" >/dev/null
CSP="$CACHE/cs/node_modules/code-server"
( cd "$CACHE/cs" && npm rebuild argon2 --build-from-source >/dev/null )   # node-pre-gyp would fetch from GitHub
( cd "$CSP/lib/vscode"
  npm install --omit=dev --ignore-scripts >/dev/null
  # an existing bin/ makes @vscode/ripgrep's postinstall skip its GitHub download
  mkdir -p node_modules/@vscode/ripgrep/bin && cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  npm rebuild >/dev/null                                                  # node-pty, spdlog, kerberos, watcher
  ln -sfn node_modules node_modules.asar
  (cd bin/remote-cli && ln -sfn code-linux.sh code-server)
  (cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
  cd extensions && npm install --omit=dev >/dev/null )
( cd "$CACHE/pw" && echo '{"name":"pw","private":true}' > package.json && npm install playwright-core@1 >/dev/null )
"$CACHE/cs/node_modules/.bin/code-server" --version >/dev/null
touch "$STAMP"
