"""`planfirst run` / `planfirst resume`: a terminal client of the planfirst language server.

It starts `planfirst serve` and speaks LSP to it, so it exercises exactly what editors use. The
terminal is the editor: it shows the plan, asks for approval, previews each step's edit as a
diff, writes the files the user accepts, and prints validation output as it streams.

Modules: app.py (the invocation: start the server, plan, approve, run the steps), handlers.py
(what the server asks the terminal: edits, questions, messages, progress), editor.py (the
terminal as an editor: previews and writes edits), report.py (the critique and the closing
summary), cost.py (estimates and the model choice), style.py (colours).
"""

from __future__ import annotations

from planfirst.terminal.app import run_main

__all__ = ["run_main"]
