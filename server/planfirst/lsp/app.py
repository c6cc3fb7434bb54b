"""The composition root: builds the language server and wires every feature to it.

Answering `initialize` needs only the features' names and options, so that is all this module
knows: `FEATURES` and `COMMANDS` below. The features themselves (lsp/features.py, and through it
pydantic, the plan models, the session and the SDK) are imported when the first of them runs,
which is `initialized`, after the client already has its answer (issue #17: start-up as fast as
bare pygls). tests/test_app.py checks that the two lists match what lsp/features.py registers,
so a new command that is missing here fails a test instead of silently not being advertised.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.uris import to_fs_path

from planfirst.lsp import protocol
from planfirst.lsp.capabilities import ResolvedClientCapabilities
from planfirst.lsp.server import PlanfirstServer

if TYPE_CHECKING:
    from planfirst.lsp.preview import Previews

log = logging.getLogger("planfirst")

# LSP methods lsp/features.py handles, with the options the server advertises for them.
FEATURES: dict[str, Any] = {
    types.INITIALIZED: None,
    types.WORKSPACE_DID_CHANGE_CONFIGURATION: None,
    types.WORKSPACE_DID_CHANGE_WATCHED_FILES: None,
    types.SHUTDOWN: None,
    types.WORKSPACE_TEXT_DOCUMENT_CONTENT: None,
    types.TEXT_DOCUMENT_CODE_LENS: None,
    types.TEXT_DOCUMENT_DOCUMENT_SYMBOL: None,
    types.TEXT_DOCUMENT_HOVER: None,
    types.TEXT_DOCUMENT_CODE_ACTION: types.CodeActionOptions(
        code_action_kinds=[types.CodeActionKind.Refactor, types.CodeActionKind.QuickFix],
        resolve_provider=False,
    ),
}

# `workspace/executeCommand` commands lsp/features.py registers (advertised in initialize): the
# names of lsp/protocol.py, the one source of the commands, their params and their results
COMMANDS: tuple[str, ...] = tuple(protocol.COMMANDS)

Handler = Callable[..., Any]


class Registry:
    """What lsp/features.py registers into: the `feature`/`command` decorators of a pygls server,
    recording the handlers instead of installing them."""

    def __init__(self) -> None:
        self.features: dict[str, Handler] = {}
        self.options: dict[str, Any] = {}
        self.commands: dict[str, Handler] = {}

    def feature(self, method: str, options: Any = None) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.features[method] = fn
            self.options[method] = options
            return fn

        return deco

    def command(self, name: str) -> Callable[[Handler], Handler]:
        def deco(fn: Handler) -> Handler:
            self.commands[name] = fn
            return fn

        return deco


def load_features() -> Registry:
    """Import lsp/features.py and record what it registers."""
    from planfirst.lsp import features

    registry = Registry()
    features.register(registry)
    return registry


def _root_of(params: types.InitializeParams) -> Path | None:
    if params.workspace_folders:
        path = to_fs_path(params.workspace_folders[0].uri)
    elif params.root_uri:
        path = to_fs_path(params.root_uri)
    else:
        path = params.root_path
    return Path(path).resolve() if path else None


def wire(server: PlanfirstServer) -> None:
    """Give the server what it builds and publishes through, from the feature modules (imported
    when first used: none of them is needed to answer `initialize`)."""

    def build_previews() -> Previews:
        from planfirst.lsp.preview import Previews

        return Previews(server)

    def publish_plan(plan_id: str) -> None:
        from planfirst.lsp import plan_docs

        plan_docs.publish(server, plan_id)

    server.build_previews = build_previews
    server.build_session = lambda: start_session(server)
    server.publish_plan = publish_plan


def start_session(server: PlanfirstServer) -> None:
    """Create the workspace session (once the root and settings are known)."""
    from planfirst.core.workflow.session import Session
    from planfirst.llm.factory import NO_KEY, Models
    from planfirst.lsp.host import LspHost

    assert server.root is not None
    server.models = Models(server.settings, warn=server.warn)
    server.host = LspHost(server, server.root)
    server.session = Session(server.root, server.settings, server.models, server.host)
    server.remember_plans_dir()  # for `planfirst run` (core/workspace/opening.py)
    if not server.models.offline and server.settings.anthropic.api_key is None:
        server.notice("no_key", NO_KEY)
    if server.settings.mcp.servers:  # user-level only (settings.TRUST)
        server.mcp_task = asyncio.get_event_loop().create_task(server.connect_mcp())
    _plans, problems = server.session.store.list()
    for pr in problems:
        server.window_show_message(
            types.ShowMessageParams(
                type=types.MessageType.Warning, message=f"planfirst: {pr.error}"
            )
        )


def create_server() -> PlanfirstServer:
    """A server that answers `initialize` at once and loads its features on first use."""
    server = PlanfirstServer()
    loaded: list[Registry] = []

    def registry() -> Registry:
        if not loaded:
            loaded.append(load_features())
            missing = set(loaded[0].commands) - set(COMMANDS)
            for name in sorted(missing):  # still callable; tests/test_app.py flags the omission
                log.error("planfirst: %s is not in lsp/app.py COMMANDS (not advertised)", name)
                server.command(name)(command_proxy(name))
        return loaded[0]

    async def run(table: str, name: str, ls: PlanfirstServer, *args: Any) -> Any:
        handler = getattr(registry(), table)[name]
        result = handler(ls, *args)
        return await result if inspect.isawaitable(result) else result

    @server.feature(types.INITIALIZE)
    def on_initialize(ls: PlanfirstServer, params: types.InitializeParams) -> None:
        # only what later steps need; settings are read on `initialized` (they import pydantic)
        ls.init_options = params.initialization_options
        ls.client_info = params.client_info
        ls.caps = ResolvedClientCapabilities.resolve(params.capabilities, params.client_info)
        ls.root = _root_of(params)

    def feature_proxy(method: str) -> Handler:
        async def feature(ls: PlanfirstServer, params: Any) -> Any:
            return await run("features", method, ls, params)

        return feature

    def command_proxy(name: str) -> Handler:
        # no parameter after *args: pygls structures every declared parameter from the arguments
        async def command(ls: PlanfirstServer, *args: Any) -> Any:
            return await run("commands", name, ls, *args)

        return command

    wire(server)
    for method, options in FEATURES.items():
        server.feature(method, options)(feature_proxy(method))
    for name in COMMANDS:
        server.command(name)(command_proxy(name))
    return server
