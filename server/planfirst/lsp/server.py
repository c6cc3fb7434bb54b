"""The language server: state, capabilities, and the plumbing shared by every feature.

Nothing here imports a feature, the session or pydantic at module level: the server must answer
`initialize` with only pygls and lsprotocol loaded (lsp/app.py builds it and wires the features).
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from concurrent.futures import InvalidStateError
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams, JsonRpcInvalidRequest
from pygls.lsp.server import LanguageServer
from pygls.protocol import (
    JsonRPCNotification,
    JsonRPCProtocol,
    LanguageServerProtocol,
    lsp_method,
)

from planfirst import __version__
from planfirst.lsp import pygls_compat
from planfirst.lsp.callbacks import logged
from planfirst.lsp.capabilities import ResolvedClientCapabilities

if TYPE_CHECKING:
    from planfirst.core.workflow.session import Session
    from planfirst.llm.factory import Models
    from planfirst.lsp.host import LspHost
    from planfirst.lsp.preview import Previews
    from planfirst.settings import Settings

log = logging.getLogger("planfirst")

PLAN_SCHEME = "planfirst"
IGNORED = "$/planfirst/invalidNotification"  # what an unparseable notification becomes


class PlanfirstProtocol(LanguageServerProtocol):
    """Adds what pygls does not advertise by itself: LSP 3.18 `workspace/textDocumentContent`."""

    def __init__(self, server: Any, converter: Any) -> None:
        self._sending = threading.local()
        self.owner: PlanfirstServer = server
        super().__init__(server, converter)

    @lsp_method(types.INITIALIZE)
    def lsp_initialize(self, params: types.InitializeParams) -> Any:
        result = yield from super().lsp_initialize(params)
        pygls_compat.fix_workspace(self._workspace)
        ws = result.capabilities.workspace or types.WorkspaceOptions()
        ws.text_document_content = types.TextDocumentContentOptions(schemes=[PLAN_SCHEME])
        result.capabilities.workspace = ws
        result.capabilities.experimental = {"planfirst": {"version": __version__}}
        return result

    @lsp_method(types.SHUTDOWN)
    def lsp_shutdown(self, *args: Any) -> Any:
        """pygls 2.1.1's shutdown cancels the other pending requests while iterating over the
        dictionary the cancellations change, and answers `shutdown` with an internal error
        whenever a request is still running (tests/test_exit.py)."""
        if (user_handler := self.fm.features.get(types.SHUTDOWN)) is not None:
            yield user_handler, args, None
        self.owner.prepare_to_exit()
        pygls_compat.cancel_pending_requests(self, keep=self.msg_id)
        return None

    def handle_message(self, message: Any) -> None:
        """pygls 2.1.1 drops every message after `shutdown` without a word, so a request sent
        then (a second `shutdown`, one racing it) was never answered and its client waited
        forever. LSP: such a request errors with InvalidRequest (one answer per id, case 33)."""
        if (
            self._shutdown
            and getattr(message, "jsonrpc", None) == JsonRPCProtocol.VERSION
            and isinstance(getattr(message, "method", None), str)
            and getattr(message, "id", None) is not None
            and message.method != types.EXIT
        ):
            self._send_response(
                message.id,
                error=JsonRpcInvalidRequest(
                    message=f"planfirst: the server is shutting down; {message.method[:100]} "
                    "was not handled"
                ).to_response_error(),
            )
            return
        super().handle_message(message)

    @lsp_method(types.EXIT)
    def lsp_exit(self, *args: Any) -> Any:
        """`exit` closes stdout: nothing may be left to send after it (a client may skip
        `shutdown`)."""
        self.owner.prepare_to_exit()
        yield from super().lsp_exit(*args)

    def _send_data(self, data: Any) -> None:
        """pygls reports a failed write by showing the error to the user, which is one more
        write; `sending` tells `report_server_error` that the failure is the write's own."""
        self._sending.active = True
        try:
            super()._send_data(data)
        finally:
            self._sending.active = False

    @property
    def sending(self) -> bool:
        """Whether this thread is inside a write to the client."""
        return getattr(self._sending, "active", False)

    def structure_message(self, data: Any) -> Any:
        """pygls drops a request whose params fail to deserialise (no answer at all): answer it
        with InvalidParams naming what is wrong, and hand pygls a no-op instead (case 20)."""
        try:
            return super().structure_message(data)
        except JsonRpcException as exc:
            if isinstance(data, dict) and "id" not in data and isinstance(data.get("method"), str):
                # a notification is never answered, and nothing in it is the user's to act on:
                # pygls showed "Error in server: Invalid Params" as an error popup (rt5)
                log.warning("ignoring a notification %s with invalid params", data["method"][:100])
                return JsonRPCNotification(method=IGNORED, jsonrpc="2.0", params=None)
            if not (
                isinstance(data, dict) and "id" in data and isinstance(data.get("method"), str)
            ):
                raise
            method = data["method"][:100]
            try:
                detail = (
                    "; ".join(cattrs.transform_error(exc.__cause__))[:500] if exc.__cause__ else ""
                )
            except Exception:
                detail = ""
            log.warning("invalid params for %s (id %r): %s", method, data["id"], detail)
            self._send_response(
                data["id"],
                error=JsonRpcInvalidParams(
                    message=f"planfirst: invalid params for {method}"
                    + (f": {detail}" if detail else "")
                ).to_response_error(),
            )
            return JsonRPCNotification(
                method="$/planfirst/invalidRequest", jsonrpc="2.0", params=None
            )

    def _handle_cancel_notification(self, msg_id: Any) -> None:
        """A `$/cancelRequest` whose id is no JSON-RPC id (an object, a list) cancels nothing;
        pygls showed "Error in server: unhashable type: 'dict'" as an error popup (rt5)."""
        if isinstance(msg_id, (str, int)) and not isinstance(msg_id, bool):
            super()._handle_cancel_notification(msg_id)
        else:
            log.warning("ignoring $/cancelRequest for id %r", str(msg_id)[:100])

    def _send_response(self, msg_id: Any, result: Any = None, error: Any = None) -> None:
        # tracebacks stay in the log (pygls puts them in error.data for unexpected exceptions)
        if error is not None and isinstance(error.data, dict) and "traceback" in error.data:
            error.data = None
        super()._send_response(msg_id, result, error)


class PlanfirstServer(LanguageServer):
    """planfirst's language server: one Session per workspace root."""

    protocol: PlanfirstProtocol

    def __init__(self) -> None:
        super().__init__("planfirst", __version__, protocol_cls=PlanfirstProtocol, max_workers=4)
        self._settings: Settings | None = None  # the merged, validated settings in force
        self._said: set[str] = set()  # the settings problems the user was last told about
        self.init_options: Any = (
            None  # raw initializationOptions, re-merged on configuration change
        )
        self.root: Path | None = None  # workspace root from initialize
        self.session: Session | None = None  # created on `initialized`
        self.models: Models | None = None  # model factory (scripted in offline mode)
        self.host: LspHost | None = None
        self.client_info: types.ClientInfo | None = None  # name and version from initialize
        self._refresh_tasks: dict[str, asyncio.TimerHandle] = {}
        self._refreshed_at: dict[str, float] = {}  # plan id -> loop time of its last refresh
        # plan id -> the next look at whether the plan is still busy in another planfirst
        self._elsewhere_checks: dict[str, asyncio.TimerHandle] = {}
        self.mcp_task: asyncio.Task[None] | None = None  # connecting planfirst.mcp.servers
        self._background: set[asyncio.Task[Any]] = set()  # fire-and-forget tasks kept alive
        self.closing = False  # `shutdown` or `exit` came: nothing more is sent unasked
        # the client's capabilities, resolved once at `initialize` (lsp/app.py)
        self.caps = ResolvedClientCapabilities()
        # wired by the composition root (lsp/app.py), so that this module imports no feature:
        # the workspace's session and host, planfirst's own previews, and what a plan change
        # publishes (its diagnostics and the planfirst/status notification)
        self.build_session: Callable[[], None] = lambda: None
        self.build_previews: Callable[[], Previews] = _no_previews
        self.publish_plan: Callable[[str], None] = lambda plan_id: None

    @property
    def settings(self) -> Settings:
        """The settings in force (defaults until the client's are read on `initialized`)."""
        if self._settings is None:
            from planfirst.settings import Settings

            self._settings = Settings()
        return self._settings

    @cached_property
    def previews(self) -> Previews:
        """planfirst's own previews waiting for a choice."""
        return self.build_previews()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """pygls shows out-of-band errors to the user; a late answer to a request planfirst
        stopped waiting for (a withdrawn question, a timed-out configuration pull) is not one."""
        if isinstance(error, InvalidStateError) or "CANCELLED" in str(error)[:20]:
            log.info("late answer ignored: %s", error)
            return
        if self.protocol.sending or self.closing:
            # showing it would be one more write to a stream that just failed (tests/
            # test_send_failure.py): each failure reported the last, a thousand levels deep
            log.error("could not send to the client: %r", error)
            return
        super().report_server_error(error, source)

    def prepare_to_exit(self) -> None:
        """On `shutdown` and `exit`: drop the plan refreshes still waiting to be sent. `exit`
        closes stdout and the event loop runs what is pending once more while it closes; a
        refresh sent then failed (and was reported by more failing writes)."""
        self.closing = True
        for handle in self._refresh_tasks.values():
            handle.cancel()
        self._refresh_tasks.clear()
        for handle in self._elsewhere_checks.values():
            handle.cancel()
        self._elsewhere_checks.clear()
        if self.session is not None:
            self.session.flush_md()  # plan.md waiting for its debounce is written now

    # ------------------------------------------------------------------ capabilities

    def client_saves(self) -> bool:
        """Whether the client saves documents on `planfirst/saveDocuments` (the VS Code extension)."""
        return self.caps.saves_documents

    def encoding(self) -> str:
        """The negotiated position encoding, as core/editing/edits.py names it."""
        from planfirst.lsp import convert

        enc = self.workspace.position_encoding or types.PositionEncodingKind.Utf16
        return convert.ENCODINGS.get(enc, "utf-16")

    # ------------------------------------------------------------------ settings

    def remember_plans_dir(self) -> None:
        """Record the plans folder in `.planfirst/plans-dir` for `planfirst run`, `plans` and
        `diff` (core/workspace/opening.py) — not in the server `planfirst run` starts: its
        folder comes from the terminal's environment (or the record itself), and a one-off
        `PLANFIRST_PLANS_DIR` must not move the record an editor's server wrote (QA rt2)."""
        from planfirst.core.workspace.opening import remember_plans_dir

        info = self.client_info
        if self.session is None or (info is not None and info.name == TERMINAL_CLIENT):
            return
        remember_plans_dir(self.session.store)

    def apply_settings(self, *layers: Any) -> list[str]:
        """Merge settings layers; report problems to the user; push into the session."""
        from planfirst.settings import load_settings

        settings, problems = load_settings(self.init_options, *layers)
        self._settings = settings
        if self.session is not None:
            self.session.update_settings(settings)
            self.remember_plans_dir()
        if self.models is not None:
            self.models.update(settings)
        # a change pushes the settings and the same are pulled: each layer reported the same
        # ignored workspace setting, and every later change said it again (QA qa9). A problem is
        # said when it appears, again only after it went away.
        fresh = list(dict.fromkeys(problems))
        said, self._said = self._said, set(fresh)
        for p in (p for p in fresh if p not in said):
            self.window_show_message(
                types.ShowMessageParams(
                    type=types.MessageType.Warning, message=f"planfirst settings: {p}"
                )
            )
        return problems

    def warn(self, message: str) -> None:
        """A model-layer warning the user must see (e.g. a deprecated model)."""
        self.window_show_message(
            types.ShowMessageParams(type=types.MessageType.Warning, message=f"planfirst: {message}")
        )

    def notice(self, reason: str, message: str) -> None:
        """Something the user should act on: a `planfirst/notice` with its reason for a client
        that takes them (the VS Code extension offers the action, e.g. Set API Key…), else a
        warning in words."""
        if self.caps.notices:
            self.protocol.notify("planfirst/notice", {"reason": reason, "message": message})
        else:
            self.warn(message)

    def start_session(self) -> None:
        """Create the workspace session (once the root and settings are known)."""
        if self.root is not None:
            self.build_session()

    async def connect_mcp(self) -> None:
        """Connect the user's `planfirst.mcp.servers`; their read-only tools join planning."""
        from planfirst.core.planning import mcp

        if self.session is None or self.root is None:
            return
        servers, problems = mcp.servers_from_setting(self.settings.mcp.servers)
        tools = mcp.McpTools()
        await tools.connect(servers, self.root)
        self.session.mcp = tools
        for p in problems + tools.problems:
            self.window_show_message(
                types.ShowMessageParams(type=types.MessageType.Warning, message=f"planfirst: {p}")
            )

    # ------------------------------------------------------------------ plan documents

    def plan_id_from_uri(self, uri: str) -> str | None:
        """The plan a document URI shows (a `planfirst:` URI or a plan.md in the plans folder)."""
        from planfirst.lsp import convert

        plans = self.session.store.plans_dir if self.session is not None else None
        return convert.plan_id_from_uri(uri, plans)

    def plan_doc_uri(self, plan_id: str) -> str:
        """The URI the client uses for a plan: virtual when supported, else the markdown file."""
        from planfirst.lsp import convert

        if self.caps.content_documents or self.session is None:
            return convert.plan_uri(plan_id)
        return convert.path_to_uri(self.session.store.plan_md(plan_id))

    def plan_changed(self, plan_id: str) -> None:
        """Coalesce refreshes (a streaming plan changes many times a second)."""
        if self.closing or plan_id in self._refresh_tasks:
            return
        loop = asyncio.get_event_loop()
        self._refresh_tasks[plan_id] = loop.call_later(REFRESH_S, self._do_refresh, plan_id)

    def _do_refresh(self, plan_id: str) -> None:
        """Refresh the plan's document, lenses, diagnostics and status. While an operation runs
        on the plan (a step saves it four times in a fraction of a second) at most every
        BUSY_REFRESH_S, and at once when the operation ends: every refresh renders that version
        of the plan and has the editor fetch it again (#32)."""
        from planfirst.lsp import convert

        self._refresh_tasks.pop(plan_id, None)
        loop = asyncio.get_event_loop()
        busy = self.session is not None and plan_id in self.session.busy()
        if busy and loop.time() - self._refreshed_at.get(plan_id, -1e9) < BUSY_REFRESH_S:
            if not self.closing:  # look again soon: the operation may have ended by then
                self._refresh_tasks[plan_id] = loop.call_later(REFRESH_S, self._do_refresh, plan_id)
            return
        self._refreshed_at[plan_id] = loop.time()
        if self.caps.content_documents:
            logged(
                "refreshing the plan document",
                lambda: self.workspace_text_document_content_refresh(
                    types.TextDocumentContentRefreshParams(uri=convert.plan_uri(plan_id))
                ),
            )
        if self.caps.code_lens_refresh:
            logged("refreshing code lenses", lambda: self.workspace_code_lens_refresh(None))
        if self.session is not None:
            self.publish_plan(plan_id)
            self.watch_elsewhere(plan_id)

    def watch_elsewhere(self, plan_id: str) -> None:
        """While another planfirst process works on the plan, look every ELSEWHERE_CHECK_S
        whether it still does, and refresh the plan when it stopped. A process that ends
        normally removes its claim (a file event the client reports), but one that is killed
        (kill -9, out of memory) leaves the file behind with no lock on it: no file changes,
        and the Plans view and the status bar said "in another planfirst" with no action
        offered until something else refreshed the plan (QA rt2)."""
        if self.closing or self.session is None or plan_id in self._elsewhere_checks:
            return
        if not self._busy_elsewhere(plan_id):
            return
        loop = asyncio.get_event_loop()

        def look() -> None:
            self._elsewhere_checks.pop(plan_id, None)
            if self.closing:
                return
            if self._busy_elsewhere(plan_id):
                self._elsewhere_checks[plan_id] = loop.call_later(ELSEWHERE_CHECK_S, look)
            else:
                self.plan_changed(plan_id)

        self._elsewhere_checks[plan_id] = loop.call_later(ELSEWHERE_CHECK_S, look)

    def _busy_elsewhere(self, plan_id: str) -> bool:
        session = self.session
        if session is None:
            return False
        try:
            held = session.store.claimed(plan_id)
        except Exception:  # an unreadable claim is nobody's: nothing to watch
            return False
        return held is not None and held[0] != session.owner

    def open_plan_soon(self, plan_id: str) -> None:
        """Show a plan document that is still being written (virtual documents only)."""
        if self.caps.content_documents and self.caps.show_document:
            task = asyncio.ensure_future(self.show_plan(plan_id))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def show_plan(self, plan_id: str) -> str:
        """Open the plan document in the editor; returns its URI."""
        uri = self.plan_doc_uri(plan_id)
        if self.caps.show_document:
            try:
                await asyncio.wait_for(
                    self.window_show_document_async(
                        types.ShowDocumentParams(uri=uri, take_focus=True)
                    ),
                    10,
                )
            except Exception as e:  # the plan is ready either way; the caller returns its URI
                log.warning("window/showDocument %s failed: %r", uri, e)
        return uri


TERMINAL_CLIENT = "planfirst-terminal"  # the clientInfo name of `planfirst run`'s client
REFRESH_S = 0.05  # plan changes closer than this make one refresh
BUSY_REFRESH_S = 0.25  # while an operation runs on the plan: at most one refresh this often
ELSEWHERE_CHECK_S = 2.0  # how often a plan busy in another planfirst is looked at again


def _no_previews() -> Previews:
    raise RuntimeError("planfirst: previews are wired by lsp/app.py create_server()")
