"""Every LSP method and command planfirst serves: translate params, call the core, translate back."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar, cast

from lsprotocol import types
from pydantic import TypeAdapter, ValidationError
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

from planfirst.core.planning.context import Selection
from planfirst.core.workflow.budget import cost_preview
from planfirst.core.workflow.session import Session, SessionError
from planfirst.core.workspace.path_syntax import PathError
from planfirst.core.workspace.paths import WorkspaceGuard
from planfirst.errors import PlanfirstError
from planfirst.lsp import (
    convert,
    plan_docs,
    plans_view,
    preview,
    protocol,
    pygls_compat,
    revision_docs,
    watch,
)
from planfirst.lsp.host import LspProgress
from planfirst.lsp.results import changed, step_result
from planfirst.lsp.server import PlanfirstServer
from planfirst.plan.report import plan_report

if TYPE_CHECKING:
    from planfirst.lsp.app import Registry

log = logging.getLogger("planfirst")

REQUEST_CANCELLED = -32800  # LSP RequestCancelled
REQUEST_FAILED = -32803  # LSP RequestFailed: the request was valid but could not be carried out


def to_jsonrpc(e: PlanfirstError) -> JsonRpcException:
    """The one mapping of a planfirst error to the LSP face: the message for the user, the code in
    `data.reason` for the editor to branch on; a bad path is the caller's bad params."""
    if isinstance(e, PathError):
        return JsonRpcInvalidParams(message=f"planfirst: {e.message}", data={"reason": e.code})
    return JsonRpcException(
        message=f"planfirst: {e.message}", code=REQUEST_FAILED, data={"reason": e.code}
    )


P = TypeVar("P")
MAX_ERRORS_SHOWN = 5  # invalid arguments named in one error message


@functools.cache
def _adapter(params: Any) -> TypeAdapter[Any]:
    return TypeAdapter(params)


def parse_args(command: str, params: type[P], args: tuple[Any, ...]) -> P:
    """Commands take ONE JSON object argument; anything else is a clear InvalidParams error."""
    if len(args) > 1:
        raise JsonRpcInvalidParams(
            message=f"{command} takes one JSON object argument, got {len(args)} arguments"
        )
    raw = args[0] if args else None
    if raw is None or raw == []:
        raw = {}  # Lua's empty table {} arrives as [] from Neovim
    if not isinstance(raw, dict):
        raise JsonRpcInvalidParams(
            message=f"{command} takes one JSON object argument, got {type(raw).__name__}"
        )
    try:
        return cast(P, _adapter(cast(Any, params)).validate_python(raw))
    except ValidationError as e:
        # the client's own keys are echoed: at most a few, each cut short (a 3 MB unknown key,
        # or 50,000 of them, made an error message of megabytes; rt5)
        errors = e.errors(include_url=False, include_input=False)
        msgs = []
        for err in errors[:MAX_ERRORS_SHOWN]:
            loc = ".".join(str(x) for x in err["loc"]) or "argument"
            if len(loc) > 80:
                loc = loc[:80] + "…"
            msgs.append(f"{loc}: {err['msg'][:200]}")
        more = len(errors) - MAX_ERRORS_SHOWN
        raise JsonRpcInvalidParams(
            message=f"{command}: invalid arguments: "
            + "; ".join(msgs)
            + (f"; and {more} more" if more > 0 else "")
        ) from None


Handler = Callable[[PlanfirstServer, Session, Any, LspProgress | None], Awaitable[Any]]


def command(ls: Registry, name: str, title: str | None = None) -> Callable[[Handler], Handler]:
    """Register a command: validated params, progress, cancellation, errors as JSON-RPC errors."""

    def deco(fn: Handler) -> Handler:
        @ls.command(name)
        async def handler(server: PlanfirstServer, *args: Any) -> Any:
            params = parse_args(name, protocol.COMMANDS[name].params, args)
            session = server.session
            if session is None:
                raise JsonRpcException(
                    message="planfirst has no workspace folder; open a folder and try again",
                    code=REQUEST_FAILED,
                    data={"reason": "no_workspace"},
                )
            task = asyncio.current_task()
            fut = pygls_compat.request_future(server)
            if fut is not None and task is not None:
                fut.add_done_callback(lambda f: task.cancel() if f.cancelled() else None)
            progress = LspProgress(server, title) if title else None
            if progress is not None:
                await progress.begin(task)
            end = "done"
            try:
                return await fn(server, session, params, progress)
            except PlanfirstError as e:  # every planfirst failure, mapped once (errors.py)
                end = e.message
                raise to_jsonrpc(e) from None
            except JsonRpcException:
                end = "cancelled"
                raise
            except asyncio.CancelledError:
                # pygls sends nothing for a command task that ends cancelled (planfirst.cancel,
                # progress cancel): answer RequestCancelled so every request gets one answer
                end = "cancelled"
                raise JsonRpcException(
                    message=f"planfirst: {name} was cancelled", code=REQUEST_CANCELLED
                ) from None
            except Exception as e:
                log.exception("command %s failed", name)
                end = "failed"
                server.window_log_message(
                    types.LogMessageParams(
                        type=types.MessageType.Error,
                        message=f"{name} failed: {e!r} (traceback in the server log)",
                    )
                )
                raise JsonRpcException(
                    message=f"planfirst: {name} failed unexpectedly ({type(e).__name__}: {e}); see the planfirst log",
                    code=REQUEST_FAILED,
                ) from None
            finally:
                if progress is not None:
                    progress.end(end)

        return fn

    return deco


def _file_arg(f: str) -> str:
    """A `files` entry: a path, or a file URI naming a local file by its absolute path (a URI
    with a host was planned about as a workspace file named "None", and `file:` alone as the
    whole workspace; rt5)."""
    if not f.startswith("file:"):
        return f
    path = convert.uri_to_path(f)
    if path is None or not path.is_absolute():
        raise JsonRpcInvalidParams(message=f"planfirst: {f[:200]} is not a file URI")
    return str(path)


def _selection(
    guard: WorkspaceGuard, p: protocol.GenerateParams
) -> tuple[Selection | None, list[str]]:
    """The editor selection and the files a generatePlan names, as workspace-relative paths
    (the guard refuses one outside the workspace)."""
    files = [guard.rel(_file_arg(f)) for f in p.get("files", [])]
    uri = p.get("uri")
    if not uri:
        return None, files
    path = convert.uri_to_path(uri)
    if path is None or not path.is_absolute():
        raise JsonRpcInvalidParams(message=f"planfirst: {uri[:200]} is not a file URI")
    rel = guard.rel(str(path))
    rng = p.get("range")
    if rng is None:
        return None, [rel, *files]
    if rng["end"]["line"] < rng["start"]["line"]:
        raise JsonRpcInvalidParams(message="planfirst: range end is before its start")
    return Selection(path=rel, start_line=rng["start"]["line"], end_line=rng["end"]["line"]), files


def register(ls: Registry) -> None:
    """Register every feature (lsp/app.py wires them to the server; its lists name them)."""

    @ls.feature(types.INITIALIZED)
    async def on_initialized(server: PlanfirstServer, params: types.InitializedParams) -> None:
        server.apply_settings()  # initializationOptions (and the environment) first
        server.start_session()
        await _pull_configuration(server)
        if server.session is not None:
            active = server.session.store.active()
            if active:
                server.plan_changed(active)  # the status bar starts with the active plan
            watch.register(server)  # plans another planfirst process changes
        if server.session is None:
            server.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning,
                    message="planfirst: no workspace folder was given; open a folder to plan changes in it",
                )
            )

    @ls.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def on_config(
        server: PlanfirstServer, params: types.DidChangeConfigurationParams
    ) -> None:
        await _pull_configuration(server, params.settings)

    @ls.feature(types.WORKSPACE_DID_CHANGE_WATCHED_FILES)
    def on_watched(server: PlanfirstServer, params: types.DidChangeWatchedFilesParams) -> None:
        watch.changed(server, params)

    @ls.feature(types.SHUTDOWN)
    def on_shutdown(server: PlanfirstServer, params: Any) -> None:
        if server.session is not None:
            server.session.cancel()
        if server.models is not None:
            server.models.close()

    # ------------------------------------------------------------------ commands

    @command(ls, "planfirst.generatePlan", "planfirst: planning")
    async def generate(
        server: PlanfirstServer, session: Session, p: protocol.GenerateParams, progress: Any
    ) -> Any:
        selection, files = _selection(session.guard, p)
        task = p.get("task", "").strip() or await _ask_task(server, selection is not None)
        plan = await session.generate(task, selection=selection, files=files, progress=progress)
        uri = await server.show_plan(plan.id)
        return {
            "planId": plan.id,
            "uri": uri,
            "revision": plan.revision,
            "findings": len(plan.findings),
        }

    @command(ls, "planfirst.revisePlan", "planfirst: revising the plan")
    async def revise(
        server: PlanfirstServer, session: Session, p: protocol.ReviseParams, progress: Any
    ) -> Any:
        plan = await session.revise(
            p["planId"], p.get("feedback", ""), progress, p.get("steps", [])
        )
        uri = await server.show_plan(plan.id)
        return {"planId": plan.id, "uri": uri, "revision": plan.revision, **changed(plan)}

    @command(ls, revision_docs.DIFF_COMMAND)
    async def diff_plan(
        server: PlanfirstServer, session: Session, p: protocol.DiffParams, progress: Any
    ) -> Any:
        return await revision_docs.open_diff(
            server, session, p.get("planId"), p.get("from"), p.get("to")
        )

    @command(ls, "planfirst.approvePlan")
    async def approve(
        server: PlanfirstServer, session: Session, p: protocol.ApproveParams, progress: Any
    ) -> Any:
        if p.get("preview", False):
            est = cost_preview(session, p.get("planId"), p.get("executionModel"))
            return {**est, "preview": True}
        plan = await session.approve(
            p.get("planId"),
            force=p.get("force", False),
            execution_model=p.get("executionModel"),
            revision=p.get("revision"),
        )
        return {
            "planId": plan.id,
            "status": plan.status.value,
            "executionModel": plan.execution_model or session.settings.execution_model,
            "estimate": plan.estimate.model_dump(mode="json") if plan.estimate else None,
        }

    @command(ls, "planfirst.executeNextStep", "planfirst: executing")
    async def execute(
        server: PlanfirstServer, session: Session, p: protocol.PlanParams, progress: Any
    ) -> Any:
        return step_result(await session.execute_next(p.get("planId"), progress))

    @command(ls, "planfirst.retryStep", "planfirst: retrying the step")
    async def retry(
        server: PlanfirstServer, session: Session, p: protocol.StepParams, progress: Any
    ) -> Any:
        return step_result(await session.retry(p.get("planId"), p.get("step"), progress))

    @command(ls, "planfirst.undoStep", "planfirst: undoing the step")
    async def undo(
        server: PlanfirstServer, session: Session, p: protocol.StepParams, progress: Any
    ) -> Any:
        return step_result(await session.undo(p.get("planId"), p.get("step"), progress))

    @command(ls, "planfirst.showPlan")
    async def show(
        server: PlanfirstServer, session: Session, p: protocol.PlanParams, progress: Any
    ) -> Any:
        plan = session.load(p.get("planId"))
        if not server.caps.content_documents:
            session.store.show_md(plan)  # plan.md exists and shows it (a hand edit stays)
        uri = await server.show_plan(plan.id)
        return {"planId": plan.id, "uri": uri}

    @command(ls, "planfirst.listPlans")
    async def list_plans(
        server: PlanfirstServer, session: Session, p: protocol.NoParams, progress: Any
    ) -> Any:
        rows, problems = session.list_plans()
        for msg in problems:
            server.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=f"planfirst: {msg}")
            )
        active = session.store.active()
        for r in rows:
            r["active"] = r["id"] == active
            r["uri"] = server.plan_doc_uri(r["id"])
        plans_view.add_step_lists(session, rows)
        for r in rows:
            if r.get("elsewhere"):
                server.watch_elsewhere(r["id"])  # refreshed when that process ends or dies
        return rows

    @command(ls, "planfirst.planReport")
    async def report(server: PlanfirstServer, session: Session, p: Any, progress: Any) -> Any:
        plan = session.load(p.get("planId"))

        def read(rel: str) -> str | None:
            try:
                return session.read_current(rel)
            except PlanfirstError as e:  # a folder now, not text: shown as absent, said in the log
                log.info("planReport: %s: %s", rel, e)
                return None

        def uri(rel: str) -> str | None:
            # only files planfirst itself may touch: a plan.json from elsewhere can name any path
            try:
                guarded = session.guard.rel(rel)
                if session.guard.excluded(guarded):
                    return None
                return convert.path_to_uri(session.guard.resolve(guarded))
            except PlanfirstError:
                return None

        return plan_report(plan, read, uri)

    @command(ls, preview.APPLY_COMMAND)
    async def apply_preview(
        server: PlanfirstServer, session: Session, p: protocol.PreviewParams, progress: Any
    ) -> Any:
        return _decide_preview(server, True, p)

    @command(ls, preview.DISCARD_COMMAND)
    async def discard_preview(
        server: PlanfirstServer, session: Session, p: protocol.PreviewParams, progress: Any
    ) -> Any:
        return _decide_preview(server, False, p)

    @command(ls, "planfirst.reloadPlan")
    async def reload(
        server: PlanfirstServer, session: Session, p: protocol.PlanParams, progress: Any
    ) -> Any:
        plan = session.reload(p.get("planId"))
        return {
            "planId": plan.id,
            "revision": plan.revision,
            "status": plan.status.value,
            **changed(plan),
        }

    @command(ls, "planfirst.cancel")
    async def cancel(
        server: PlanfirstServer, session: Session, p: protocol.PlanParams, progress: Any
    ) -> Any:
        plan_id = p.get("planId")
        if plan_id and plan_id not in session.busy():
            session.load(plan_id)  # an unknown plan id is an error, not an empty answer
            session.refuse_if_elsewhere(plan_id)  # it runs in another planfirst: cancel it there
        return {"cancelled": session.cancel(plan_id)}

    # ------------------------------------------------------------------ documents

    @ls.feature(types.WORKSPACE_TEXT_DOCUMENT_CONTENT)
    def content(
        server: PlanfirstServer, params: types.TextDocumentContentParams
    ) -> types.TextDocumentContentResult:
        try:
            shown = server.previews.content(params.uri) or revision_docs.content(server, params.uri)
        except PlanfirstError as e:
            raise to_jsonrpc(e) from None
        if shown is not None:
            return types.TextDocumentContentResult(text=shown)
        plan_id = server.plan_id_from_uri(params.uri)
        if plan_id is None or server.session is None:
            raise JsonRpcInvalidParams(message=f"planfirst: no plan document at {params.uri[:200]}")
        try:
            text = server.session.document(plan_id)
        except PlanfirstError as e:
            raise to_jsonrpc(e) from None
        return types.TextDocumentContentResult(text=text)

    @ls.feature(types.TEXT_DOCUMENT_CODE_LENS)
    def code_lens(server: PlanfirstServer, params: types.CodeLensParams) -> list[types.CodeLens]:
        return plan_docs.code_lenses(server, params.text_document.uri) or server.previews.lenses(
            params.text_document.uri
        )

    @ls.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    def symbols(
        server: PlanfirstServer, params: types.DocumentSymbolParams
    ) -> list[types.DocumentSymbol]:
        return plan_docs.document_symbols(server, params.text_document.uri)

    @ls.feature(types.TEXT_DOCUMENT_HOVER)
    def hover(server: PlanfirstServer, params: types.HoverParams) -> types.Hover | None:
        return plan_docs.hover(server, params.text_document.uri, params.position)

    @ls.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(
            code_action_kinds=[types.CodeActionKind.Refactor, types.CodeActionKind.QuickFix],
            resolve_provider=False,
        ),
    )
    def code_action(
        server: PlanfirstServer, params: types.CodeActionParams
    ) -> list[types.CodeAction]:
        return plan_docs.code_actions(server, params)

    # open/change/close are kept by pygls' workspace; nothing else to do for them


def _decide_preview(
    server: PlanfirstServer, apply: bool, p: protocol.PreviewParams
) -> dict[str, Any]:
    """Apply or discard a waiting planfirst preview (the newest one when none is named)."""
    got = server.previews.decide(apply, p.get("planId"), p.get("step"), p.get("attempt"))
    if got is None:
        raise SessionError("no planfirst preview is waiting for a choice", "no_preview")
    return {"planId": got.plan_id, "step": got.step, "attempt": got.attempt, "applied": apply}


CANNED_TASKS = [
    "Refactor the selected code for clarity without changing behaviour",
    "Add tests for the selected code",
    "Add docstrings and type hints to the selected code",
    "Find and fix bugs in the selected code",
]


async def _ask_task(server: PlanfirstServer, has_selection: bool) -> str:
    """A client that cannot prompt for text gets common tasks to choose from (showMessageRequest
    is a base request: sent to every client, an error answer means it cannot ask)."""
    if not has_selection:
        raise SessionError('the task is empty; say what you want changed ({"task": "..."})')
    try:
        answer = await server.window_show_message_request_async(
            types.ShowMessageRequestParams(
                type=types.MessageType.Info,
                message="planfirst: what should the plan for this selection do?",
                actions=[types.MessageActionItem(title=t) for t in CANNED_TASKS],
            )
        )
    except JsonRpcException:
        raise SessionError(
            'the task is empty and this editor cannot offer choices; pass {"task": "..."}'
        ) from None
    if answer is None:
        raise SessionError("no task chosen; nothing was planned", "cancelled")
    return answer.title


async def _pull_configuration(server: PlanfirstServer, pushed: Any = None) -> None:
    layers: list[Any] = []
    if isinstance(pushed, dict) and pushed:
        layers.append(pushed)  # a workspace layer: load_settings drops trust keys from it
    if server.caps.configuration:
        try:
            result = await asyncio.wait_for(
                server.workspace_configuration_async(
                    types.ConfigurationParams(items=[types.ConfigurationItem(section="planfirst")])
                ),
                5,
            )
            if result and isinstance(result[0], dict):
                # workspace/configuration merges workspace files: never let them decide trust
                layers.append(result[0])
        except Exception as e:  # a client that cannot answer keeps the settings it has
            log.info("workspace/configuration failed: %r", e)
    server.apply_settings(*layers)
