"""One `planfirst run` / `planfirst resume` invocation: start `planfirst serve`, plan (or pick
the stored plan), show it, approve it on the chosen model, and run its steps to a stop with the
core's driver (core/workflow/driver.py), printing one line per step and the summary."""

from __future__ import annotations

import argparse
import asyncio
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
from planfirst.core.workflow import driver
from planfirst.core.workspace.opening import environ_for_terminal, open_store
from planfirst.plan.store import PlanStore
from planfirst.plan.visible import for_terminal
from planfirst.settings import load_settings
from planfirst.terminal import cost as costs
from planfirst.terminal import handlers, report
from planfirst.terminal.editor import TerminalEditor
from planfirst.terminal.style import BOLD, GREEN, RED, RESET, YELLOW


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
        handlers.register(self.client, self.ed)

    def server_env(self) -> dict[str, str]:
        """The environment `planfirst serve` runs in: ours, with the script and the cost flags,
        and the plans folder the workspace's language server recorded when ours names none
        (it may come from the editor's workspace settings, which the terminal cannot read)."""
        env = environ_for_terminal(self.root, os.environ)
        script = getattr(self.args, "script", None)
        if script:
            env["PLANFIRST_SCRIPT"] = str(Path(script).resolve())
        else:
            env.pop("PLANFIRST_SCRIPT", None)
        for flag, var in (
            ("max_cost_per_plan", "PLANFIRST_MAX_COST_PER_PLAN"),
            ("max_cost_per_step", "PLANFIRST_MAX_COST_PER_STEP"),
        ):
            if getattr(self.args, flag, None) is not None:
                env[var] = str(getattr(self.args, flag))
        return env

    def _store(self) -> PlanStore:
        """The plans the server keeps, opened the way its Session opens them (core/workspace/
        opening.py) from the settings it reads: the terminal gives it no initializationOptions
        and answers no workspace/configuration, so they are the environment it runs in."""
        return open_store(self.root, load_settings(None, environ=self.server_env())[0])

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
        env = self.server_env()
        script = getattr(self.args, "script", None)
        if script:
            self.ed.say(
                f"{YELLOW}Offline: answers come from the SCRIPTED model {Path(script).name}, not from Claude.{RESET}"
            )
        elif not env.get("ANTHROPIC_API_KEY"):
            self.ed.say(
                f"{RED}No ANTHROPIC_API_KEY is set.{RESET} Set it to plan with Claude, or pass --script FILE to "
                "run a scripted offline model (see 'make demo')."
            )
            return 2
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
            foreign = report.foreign(self._store(), plan_id)
            if foreign:  # a plan planfirst did not write here: --yes does not approve it (case 24)
                ed.say(f"{YELLOW}{foreign}{RESET}")
            report.critique(self.ed, self._store(), plan_id)
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
        report.summary(self.ed, self._store(), plan_id, self.started)
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
