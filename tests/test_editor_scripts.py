"""The real-editor tests' model scripts, derived from the demo script, line up with the demo."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "scripts" / "demo.json"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "editor_scripts", ROOT / "tests" / "editors" / "scripts" / "editor_scripts.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_vscode_script_repeats_step_one_first_attempt() -> None:
    """VS Code discards step 1's first preview, so its turns come twice, then the demo goes on."""
    es = _load()
    demo = json.loads(DEMO.read_text())
    turns = demo["turns"] if isinstance(demo, dict) else demo
    derived = es.vscode_script(demo)
    attempt = es._step1_attempt1(turns)
    assert len(derived) == len(turns) + len(attempt)
    assert derived[:2] == turns[:2]
    assert [t.get("tool") or t.get("tools") for t in derived[2 : 2 + len(attempt)]] == [
        t.get("tool") or t.get("tools") for t in attempt
    ]
    assert derived[2 + len(attempt) :] == turns[2:]
    # the attempt ends with the model's closing text, the step's last turn
    assert "text" in attempt[-1] and "tool" not in attempt[-1]
    assert derived[2]["note"].startswith("step 1, first try")


def test_nvim_script_is_the_demo_and_main_writes_it(tmp_path: Path) -> None:
    """Neovim applies every edit, so its script is the demo unchanged; main() writes {"turns": ...}."""
    es = _load()
    out = tmp_path / "nvim.json"
    assert es.main(["editor_scripts.py", "nvim", str(DEMO), str(out)]) == 0
    demo = json.loads(DEMO.read_text())
    assert json.loads(out.read_text())["turns"] == (
        demo["turns"] if isinstance(demo, dict) else demo
    )
    assert es.main(["editor_scripts.py", "emacs", str(DEMO), str(out)]) == 2
