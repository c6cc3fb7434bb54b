"""`planfirst run` / `planfirst resume`: a terminal client of the planfirst language server.

It starts `planfirst serve` and speaks LSP to it, so it exercises exactly what editors use. The
terminal is the editor: it shows the plan, asks for approval, previews each step's edit as a
diff, writes the files the user accepts, and prints validation output as it streams.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import concurrent.futures
import contextlib
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.lsp.client import LanguageClient

from planfirst import __version__
from planfirst import terminal_cost as costs
from planfirst.core.editing.edits import TextEdit, apply_edits, unified_diff
from planfirst.core.workflow import driver
from planfirst.core.workspace.paths import PathError, WorkspaceGuard
from planfirst.plan.origin import UNTRUSTED_RULE
from planfirst.plan.render import critique_report
from planfirst.plan.store import PlanStore, StoreError
from planfirst.plan.visible import encode, for_terminal
from planfirst.settings import load_settings

BOLD, DIM, RED, GREEN, YELLOW, CYAN, RESET = (
    ("\033[1m", "\033[2m", "\033[31m", "\033[32m", "\033[33m", "\033[36m", "\033[0m")
    if sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    else ("",) * 7
)
COLOURS = (BOLD, DIM, RED, GREEN, YELLOW, CYAN, RESET)


def _path(guard: WorkspaceGuard, uri: str) -> Path:
    """The real path of a workspace file URI, through the guard (PathError outside)."""
    return guard.resolve(uri)


def colour_diff(diff: str) -> str:
    """A unified diff with terminal colours."""
    out = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---")):
            out.append(f"{BOLD}{line}{RESET}")
        elif line.startswith("+"):
            out.append(f"{GREEN}{line}{RESET}")
        elif line.startswith("-"):
            out.append(f"{RED}{line}{RESET}")
        elif line.startswith("@@"):
            out.append(f"{CYAN}{line}{RESET}")
        else:
            out.append(line)
    return "\n".join(out)


class TerminalEditor:
    """The terminal acting as an editor: asks, previews, writes accepted edits to disk."""

    def __init__(self, root: Path, yes: bool, out: Any = None) -> None:
        self.root = root
        self.yes = yes
        self.out = out or sys.stdout
        self.progress_line = ""
        self.last_log = ""
        self.server_log: collections.deque[str] = collections.deque(maxlen=200)
        self._guard: WorkspaceGuard | None = None

    @property
    def guard(self) -> WorkspaceGuard:
        """The path guard of the workspace (every edited path is resolved through it)."""
        if self._guard is None:
            self._guard = WorkspaceGuard(self.root)
        return self._guard

    def say(self, text: str = "") -> None:
        """Print a line (clearing a progress line first). Everything printed passes here: text
        from the repository, the model or a command never sends an escape sequence to the
        terminal; only planfirst's own colours stay (docs/reliability.md case 43)."""
        self.clear_progress()
        print(for_terminal(text, COLOURS), file=self.out, flush=True)

    def clear_progress(self) -> None:
        """Erase the live progress line, if one is shown."""
        if self.progress_line and self.out.isatty():
            print("\r\033[K", end="", file=self.out, flush=True)
        self.progress_line = ""

    def show_progress(self, message: str) -> None:
        """A live one-line progress display (plain lines when not a terminal)."""
        if message == self.progress_line:
            return
        if (
            not self.out.isatty()
            and self.last_log
            and message.endswith(self.last_log.strip()[:100])
        ):
            return  # the output line was just printed; do not echo it again
        if self.out.isatty():
            shown = for_terminal(message[:110])
            print(f"\r\033[K{DIM}… {shown}{RESET}", end="", file=self.out, flush=True)
        else:
            print(f"  … {for_terminal(message)}", file=self.out, flush=True)
        self.progress_line = message

    async def ask(self, question: str, *, always: bool = False) -> bool:
        """A yes/no question ('--yes' answers yes unless `always`; no terminal input answers no)."""
        if self.yes and not always:
            self.say(f"{question} [y/N] y (--yes)")
            return True
        self.clear_progress()
        try:
            answer = await asyncio.to_thread(input, f"{for_terminal(question)} [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    def preview(self, edit: types.WorkspaceEdit) -> tuple[str, dict[Path, str | None]]:
        """The diff an edit would make, and the resulting file texts (None: deleted)."""
        result: dict[Path, str | None] = {}
        for ch in edit.document_changes or []:
            if isinstance(ch, types.CreateFile):
                result.setdefault(_path(self.guard, ch.uri), "")
            elif isinstance(ch, types.DeleteFile):
                result[_path(self.guard, ch.uri)] = None
            elif isinstance(ch, types.TextDocumentEdit):
                p = _path(self.guard, ch.text_document.uri)
                base = result.get(p)
                if base is None:
                    base = p.read_text(encoding="utf-8") if p.exists() else ""
                edits = [
                    TextEdit(
                        e.range.start.line,
                        e.range.start.character,
                        e.range.end.line,
                        e.range.end.character,
                        e.new_text,
                    )
                    for e in ch.edits
                    if isinstance(e, (types.TextEdit, types.AnnotatedTextEdit))
                ]
                result[p] = apply_edits(base, edits, "utf-16")
        diff = ""
        for p, new in result.items():
            old = p.read_text(encoding="utf-8") if p.exists() else None
            rel = p.relative_to(self.root).as_posix() if p.is_relative_to(self.root) else str(p)
            diff += unified_diff(rel, old, new)
        return diff, result

    def write(self, result: dict[Path, str | None]) -> None:
        """Write the accepted texts (the terminal 'saves' right away)."""
        for p, text in result.items():
            if text is None:
                with contextlib.suppress(FileNotFoundError):
                    p.unlink()
                continue
            p.parent.mkdir(parents=True, exist_ok=True)
            with open(p, "w", encoding="utf-8", newline="") as f:
                f.write(text)


def _capabilities() -> types.ClientCapabilities:
    return types.ClientCapabilities(
        workspace=types.WorkspaceClientCapabilities(
            apply_edit=True,
            workspace_edit=types.WorkspaceEditClientCapabilities(
                document_changes=True,
                resource_operations=[
                    types.ResourceOperationKind.Create,
                    types.ResourceOperationKind.Delete,
                ],
                change_annotation_support=types.ChangeAnnotationsSupportOptions(
                    groups_on_label=True
                ),
            ),
            text_document_content=types.TextDocumentContentClientCapabilities(),
        ),
        window=types.WindowClientCapabilities(
            work_done_progress=True, show_message=types.ShowMessageRequestClientCapabilities()
        ),
    )


class Terminal:
    """One `planfirst run`/`resume` invocation."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.root = Path(args.workspace).resolve()
        self.ed = TerminalEditor(self.root, bool(args.yes))
        self.client = LanguageClient("planfirst-terminal", __version__)
        self.started = time.monotonic()
        self.plan_id: str | None = None  # the plan worked on, once it exists
        self._register()

    def _store(self) -> PlanStore:
        """The plans the server keeps (its settings come from the same environment)."""
        return PlanStore(self.root, load_settings()[0].plans_dir)

    def _register(self) -> None:
        c, ed = self.client, self.ed

        @c.feature(types.WORKSPACE_APPLY_EDIT)
        async def apply(
            ls: LanguageClient, params: types.ApplyWorkspaceEditParams
        ) -> types.ApplyWorkspaceEditResult:
            try:
                diff, result = ed.preview(params.edit)
            except PathError as e:
                ed.say(f"{RED}refused an edit: {e}{RESET}")
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason=str(e))
            ed.say(f"\n{BOLD}{params.label or 'Proposed edit'}{RESET}")
            # bidi and invisible characters in names and text shown as \u{XXXX} (case 34)
            ed.say(colour_diff(encode(diff)) if diff else "(no textual change)")
            if await ed.ask("Apply this edit?"):
                ed.write(result)
                return types.ApplyWorkspaceEditResult(applied=True)
            return types.ApplyWorkspaceEditResult(
                applied=False, failure_reason="declined in the terminal"
            )

        @c.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
        async def question(
            ls: LanguageClient, params: types.ShowMessageRequestParams
        ) -> types.MessageActionItem | None:
            titles = [a.title for a in params.actions or []]
            if titles[:2] == ["Yes", "No"]:
                # command confirmations are never auto-approved by --yes: they widen what runs
                if ed.yes:
                    ed.say(
                        f"{YELLOW}{params.message}{RESET} → No (--yes does not approve commands)"
                    )
                    return types.MessageActionItem(title="No")
                ok = await ed.ask(params.message)
                return types.MessageActionItem(title="Yes" if ok else "No")
            return None

        @c.feature(types.WINDOW_SHOW_MESSAGE)
        def message(ls: LanguageClient, params: types.ShowMessageParams) -> None:
            colour = {types.MessageType.Error: RED, types.MessageType.Warning: YELLOW}.get(
                params.type, CYAN
            )
            ed.say(f"{colour}{params.message}{RESET}")

        @c.feature(types.WINDOW_LOG_MESSAGE)
        def log(ls: LanguageClient, params: types.LogMessageParams) -> None:
            if params.type != types.MessageType.Log:
                return
            for line in params.message.splitlines() or [""]:
                if line.startswith("$ "):
                    ed.say(f"{BOLD}{line}{RESET}")
                else:
                    ed.say(f"{DIM}  │ {line}{RESET}")
                ed.last_log = line

        @c.feature(types.WINDOW_WORK_DONE_PROGRESS_CREATE)
        def create(ls: LanguageClient, params: types.WorkDoneProgressCreateParams) -> None:
            return None

        @c.feature(types.PROGRESS)
        def progress(ls: LanguageClient, params: types.ProgressParams) -> None:
            v = params.value
            msg = getattr(v, "message", None) or (v.get("message") if isinstance(v, dict) else None)
            kind = getattr(v, "kind", None) or (v.get("kind") if isinstance(v, dict) else None)
            if kind == "end":
                ed.clear_progress()
            elif msg:
                ed.show_progress(msg)

        @c.feature(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        def diagnostics(ls: LanguageClient, params: types.PublishDiagnosticsParams) -> None:
            if not params.uri.startswith("file:"):
                return  # plan-review findings are in the printed plan already
            try:
                rel = ed.guard.rel(params.uri)
            except PathError:
                rel = params.uri
            for d in params.diagnostics[:10]:
                ed.say(
                    f"{RED}  {rel}:{d.range.start.line + 1}: {d.message.splitlines()[0][:160]}{RESET}"
                )

        for method in (
            "planfirst/status",
            types.WORKSPACE_TEXT_DOCUMENT_CONTENT_REFRESH,
            types.WORKSPACE_CODE_LENS_REFRESH,
        ):

            @c.feature(method)
            def ignore(ls: LanguageClient, params: Any) -> None:
                return None

    async def _drain_stderr(self) -> None:
        server = getattr(self.client, "_server", None)
        if server is None or server.stderr is None:
            return
        while True:
            line = await server.stderr.readline()
            if not line:
                return
            self.ed.server_log.append(line.decode("utf-8", "replace").rstrip())

    async def cmd(self, name: str, args: dict[str, Any]) -> Any:
        """workspace/executeCommand with one object argument."""
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=[args])
        )

    async def show_plan(self, plan_id: str) -> None:
        """Print the plan document."""
        res = await self.client.workspace_text_document_content_async(
            types.TextDocumentContentParams(uri=f"planfirst:/plans/{plan_id}.md")
        )
        self.ed.say("")
        self.ed.say(res.text)

    async def run(self) -> int:
        """The whole interaction; returns the exit code."""
        env = dict(os.environ)
        script = getattr(self.args, "script", None)
        if script:
            env["PLANFIRST_SCRIPT"] = str(Path(script).resolve())
            self.ed.say(
                f"{YELLOW}Offline: answers come from the SCRIPTED model {Path(script).name}, not from Claude.{RESET}"
            )
        elif not env.get("ANTHROPIC_API_KEY"):
            self.ed.say(
                f"{RED}No ANTHROPIC_API_KEY is set.{RESET} Set it to plan with Claude, or pass --script FILE to "
                "run a scripted offline model (see 'make demo')."
            )
            return 2
        else:
            env.pop("PLANFIRST_SCRIPT", None)
        for flag, var in (
            ("max_cost_per_plan", "PLANFIRST_MAX_COST_PER_PLAN"),
            ("max_cost_per_step", "PLANFIRST_MAX_COST_PER_STEP"),
        ):
            if getattr(self.args, flag, None) is not None:
                env[var] = str(getattr(self.args, flag))
        if not self.root.is_dir():
            self.ed.say(f"{RED}workspace {self.root} is not a directory{RESET}")
            return 2
        # -I: the workspace (the cwd) is never on sys.path, so a `planfirst/` package the repository
        # ships cannot stand in for the server (docs/reliability.md case 26)
        await self.client.start_io(
            sys.executable, "-I", "-m", "planfirst", "serve", env=env, cwd=str(self.root)
        )
        drain = asyncio.create_task(self._drain_stderr())
        try:
            await self.client.initialize_async(
                types.InitializeParams(
                    capabilities=_capabilities(),
                    root_uri=self.root.as_uri(),
                    workspace_folders=[
                        types.WorkspaceFolder(uri=self.root.as_uri(), name=self.root.name)
                    ],
                    process_id=os.getpid(),
                    # names itself: it prints each edit as a diff and asks, so the server sends
                    # edits without its own preview (lsp/preview.py)
                    client_info=types.ClientInfo(name="planfirst-terminal", version=__version__),
                )
            )
            self.client.initialized(types.InitializedParams())
            return await self._flow()
        except JsonRpcException as e:
            self.ed.say(f"{RED}{e.message}{RESET}")
            return 1
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.shutdown_async(None), 5)
                self.client.exit(None)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.client.stop(), 5)
            drain.cancel()

    async def _flow(self) -> int:
        ed = self.ed
        if self.args.mode == "run":
            ed.say(f"{BOLD}planfirst{RESET} — planning: {self.args.task}")
            res = await self.cmd("planfirst.generatePlan", {"task": self.args.task})
            plan_id = self.plan_id = res["planId"]
            ed.clear_progress()
            await self.show_plan(plan_id)
            if self.args.plan_only:
                ed.say(
                    f"Plan saved as {plan_id} (draft). Approve and run it with: planfirst resume --plan {plan_id}"
                )
                return 0
        else:
            rows = await self.cmd("planfirst.listPlans", {})
            plan_id = self.args.plan_id or next((r["id"] for r in rows if r.get("active")), None)
            self.plan_id = plan_id
            if not plan_id:
                ed.say(f"{RED}no stored plan to resume in {self.root}{RESET}")
                return 2
            await self.show_plan(plan_id)
        rows = {r["id"]: r for r in await self.cmd("planfirst.listPlans", {})}
        if rows.get(plan_id, {}).get("status") == "draft":
            foreign = self._foreign(plan_id)
            if foreign:  # a plan planfirst did not write here: --yes does not approve it (case 24)
                ed.say(f"{YELLOW}{foreign}{RESET}")
            self.critique(plan_id)
            model = await costs.choose_model(self, plan_id, always=bool(foreign))
            if model is None:
                ed.say(
                    f"Plan {plan_id} kept as a draft. Revise it or run 'planfirst resume --plan {plan_id}'."
                )
                return 0
            await self.cmd(  # the revision printed above: one made meanwhile is refused
                "planfirst.approvePlan",
                {
                    "planId": plan_id,
                    "force": bool(self.args.yes),
                    "executionModel": model,
                    "revision": rows[plan_id].get("revision"),
                },
            )
        elif getattr(self.args, "execution_model", None):  # an approved plan goes on on it (#29)
            await costs.switch_model(self, plan_id, self.args.execution_model)
        end = await driver.run_remaining(
            lambda: self.cmd("planfirst.executeNextStep", {"planId": plan_id}),
            lambda res: driver.StepReport(res.get("step"), str(res.get("status"))),
            lambda: self._plan_status(plan_id),
            self._show_step,
        )
        code = 0
        if end.report.status == "rejected":
            ed.say(f"Nothing changed. Continue later with: planfirst resume --plan {plan_id}")
        elif end.report.status != "done" or end.plan_status == "failed":
            code = 1
        self.summary(plan_id)
        return code

    def _show_step(self, res: dict[str, Any], rep: driver.StepReport) -> None:
        """One line per executed step."""
        self.ed.clear_progress()
        step, status = rep.step, rep.status
        label = f"step {step}" if step else "test criteria"
        colour = GREEN if status == "done" else (YELLOW if status == "rejected" else RED)
        extra = str(res.get("message", "")).removeprefix(f"step {step} done").strip(" ;")
        self.ed.say(f"{colour}{BOLD}{label}: {status}{RESET}" + (f" — {extra}" if extra else ""))

    async def _plan_status(self, plan_id: str) -> str:
        rows = {r["id"]: r for r in await self.cmd("planfirst.listPlans", {})}
        return str(rows.get(plan_id, {}).get("status", ""))

    def _foreign(self, plan_id: str) -> str | None:
        """Why the plan is not one planfirst wrote on this machine, or None."""
        try:
            plan = self._store().load(plan_id)
        except StoreError:
            return None
        return next((f.message for f in plan.findings if f.rule == UNTRUSTED_RULE), None)

    def critique(self, plan_id: str) -> None:
        """The critic's findings (and what the tightening round fixed), before the approval."""
        try:
            plan = self._store().load(plan_id)
        except StoreError:
            return
        errors = any(f.source == "critique" and f.severity == "error" for f in plan.findings)
        for i, line in enumerate(critique_report(plan)):
            line = encode(line)  # the critic's words shown for what they are (case 34)
            self.ed.say(
                f"{BOLD}{line}{RESET}" if i == 0 else (f"{RED}{line}{RESET}" if errors else line)
            )

    def summary(self, plan_id: str) -> None:
        """The closing table: steps, attempts, validations, tokens, cost, wall time."""
        try:
            plan = self._store().load(plan_id)
        except StoreError as e:
            self.ed.say(str(e))
            return
        ed = self.ed
        ed.say("")
        ed.say(f"{BOLD}Summary — {plan.title}{RESET}  ({plan.status.value})")
        ed.say(
            f"{'step':>4}  {'status':<8} {'attempts':>8}  {'validation':<22} {'tokens in/out':>15} {'cost':>9}"
            + ("  estimated" if plan.estimate else "")
        )
        for s in plan.steps:
            runs = [r for r in s.runs if r.outcome not in ("undone",)]
            last = s.last_run
            val = "-"
            if last and last.validation:
                ok = sum(1 for v in last.validation if v.passed)
                val = f"{ok}/{len(last.validation)} passed"
            tin = sum(
                r.usage.input_tokens
                + r.usage.cache_read_input_tokens
                + r.usage.cache_creation_input_tokens
                for r in runs
            )
            tout = sum(r.usage.output_tokens for r in runs)
            cost = sum(r.usage.cost_usd for r in runs)
            ed.say(
                f"{s.order:>4}  {s.status.value:<8} {len(runs):>8}  {val:<22} {f'{tin:,}/{tout:,}':>15} {f'${cost:.4f}':>9}"
                + costs.estimated(plan, s.order)
            )
        if plan.final_validation:
            ok = sum(1 for v in plan.final_validation if v.passed)
            ed.say(f"test criteria: {ok}/{len(plan.final_validation)} passed")
        crit = plan.provenance.critique
        if crit is not None and crit.usage.calls:
            c = crit.usage
            ed.say(
                f"critique: {c.calls} model calls · {c.input_tokens + c.cache_read_input_tokens + c.cache_creation_input_tokens:,}"
                f" in / {c.output_tokens:,} out · est. ${c.cost_usd:.4f} (in the total)"
            )
        u = plan.usage
        ed.say(
            f"total: {u.calls} model calls · {u.input_tokens:,} input + {u.cache_creation_input_tokens:,} cache-write + "
            f"{u.cache_read_input_tokens:,} cache-read / {u.output_tokens:,} output tokens · est. ${u.cost_usd:.4f} · "
            f"wall {time.monotonic() - self.started:.1f} s"
        )
        vs = costs.compared(plan)
        if vs:
            ed.say(vs)
        ed.say(f"plan: {self._store().plan_md(plan_id)}")


class _LateAnswers(logging.Filter):
    """The server's answer to a request the terminal stopped waiting for (Ctrl-C cancelled it)
    is no error: pygls logged it with a traceback across the user's terminal."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(
            exc, (asyncio.InvalidStateError, concurrent.futures.InvalidStateError)
        )


def run_main(args: argparse.Namespace) -> int:
    """Entry for `planfirst run` and `planfirst resume`."""
    for name in ("pygls.client", "pygls.io_"):  # the client's reader logs with either
        late = logging.getLogger(name)
        if not any(isinstance(f, _LateAnswers) for f in late.filters):
            late.addFilter(_LateAnswers())
    term = Terminal(args)
    try:
        return asyncio.run(term.run())
    except KeyboardInterrupt:
        if term.plan_id:
            said = f"the plan is saved — continue with 'planfirst resume --plan {term.plan_id}'"
        else:  # interrupted while planning: no draft is saved before the model's answer
            said = "no plan was saved"
        print(f"\ninterrupted; {for_terminal(said)}", file=sys.stderr)
        return 130
