"""The language server under benchmark: started like an editor starts it, driven by the e2e
harness's client (real VS Code capabilities, applyEdit answered like an editor)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from _common import ROOT
from lsprotocol import types

from tests.support.lsp_harness import Editor, capabilities, make_client, server_env

TIMED_SERVER = str(ROOT / "bench" / "_timed_server.py")
STUCK_AT_EXIT: list[int] = []  # server pids that had to be killed after shutdown


@contextlib.asynccontextmanager
async def bench_session(
    root: Path,
    script: Path | None,
    *,
    timed: bool = False,
    init_options: dict[str, Any] | None = None,
    env: dict[str, str] | None = None,
    profile: str = "vscode",
) -> AsyncIterator[tuple[Any, Editor, float]]:
    """Start the server for `root` (the phase-timed wrapper when `timed`), initialise it.

    Yields (client, editor, seconds from process start to the initialize response).
    """
    client = make_client()
    editor = Editor(root, profile)

    @client.feature(types.WORKSPACE_APPLY_EDIT)
    def on_apply(ls: Any, params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
        editor.edits.append(params)
        editor.apply(params.edit)
        return types.ApplyWorkspaceEditResult(applied=True)

    @client.feature("planfirst/saveDocuments")
    def on_save(ls: Any, params: Any) -> dict[str, Any]:
        from tests.support.lsp_harness import _uri_path

        uris = params.uris if hasattr(params, "uris") else params["uris"]
        for uri in uris:
            p = _uri_path(uri)
            if p in editor.buffers:
                p.write_text(editor.buffers[p], encoding="utf-8")
        return {"saved": list(uris)}

    @client.feature(types.WINDOW_SHOW_MESSAGE_REQUEST)
    def on_question(ls: Any, params: types.ShowMessageRequestParams) -> types.MessageActionItem:
        # like the test editor: "Yes" when offered, else the first action (the affirmative one)
        titles = [a.title for a in params.actions or []]
        print(f"bench: question {params.message[:120]!r} {titles}", file=sys.stderr)
        return types.MessageActionItem(title="Yes" if "Yes" in titles or not titles else titles[0])

    @client.feature("planfirst/status")
    def on_status(ls: Any, params: Any) -> None:
        return None

    @client.feature(types.WORKSPACE_TEXT_DOCUMENT_CONTENT_REFRESH)
    def on_refresh(ls: Any, params: Any) -> None:
        return None

    @client.feature(types.WORKSPACE_CODE_LENS_REFRESH)
    def on_lens_refresh(ls: Any, params: Any) -> None:
        return None

    argv = [TIMED_SERVER] if timed else ["-m", "planfirst", "serve"]
    t0 = time.perf_counter()
    # the benchmarks' scripts have no critic turns: the critique pass is off (core/planning/critique.py)
    env = {"PLANFIRST_CRITIQUE_MODEL": "off", **(env or {})}
    await client.start_io(sys.executable, *argv, env=server_env(script, env), cwd=str(root))
    try:
        await client.initialize_session(
            types.InitializeParams(
                capabilities=capabilities(profile),
                # VS Code names itself: without it the server takes the bench for an editor
                # without a preview and shows its own (a question the user answers each step)
                client_info=types.ClientInfo(name="Visual Studio Code", version="1.100.3")
                if profile == "vscode"
                else None,
                root_uri=root.resolve().as_uri(),
                workspace_folders=[
                    types.WorkspaceFolder(uri=root.resolve().as_uri(), name=root.name)
                ],
                initialization_options=init_options or {},
            )
        )
        startup = time.perf_counter() - t0
        yield client, editor, startup
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.shutdown_session(), 10)
        proc = getattr(client, "_server", None)
        if proc is not None:
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                # Seen once: the server blocked writing to a stdout nobody reads any more after
                # shutdown. Kill it so the benchmark finishes, and say so.
                print(
                    f"bench: server pid {proc.pid} did not exit after shutdown; killed",
                    file=sys.stderr,
                )
                STUCK_AT_EXIT.append(proc.pid)
                proc.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.stop(), 10)


def server_pid(client: Any) -> int | None:
    """The server process id (pygls keeps the subprocess on the client)."""
    proc = getattr(client, "_server", None)
    return getattr(proc, "pid", None)


async def command(client: Any, name: str, args: dict[str, Any] | None = None) -> Any:
    """workspace/executeCommand with ONE object argument."""
    return await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command=name, arguments=[args or {}])
    )
