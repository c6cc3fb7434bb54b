"""The stdio transport for MCP servers, with a bounded, linear reader (docs/reliability.md case 54).

The SDK's `stdio_client` joins every chunk of the server's stdout to what it holds of the line
so far (`buffer + chunk`, then a split of the whole): a message of 30 MB took over a minute of
the event loop in steps of 0.7 s, and a line without end grew without limit. This transport is
the SDK's, process handling and shutdown included (its helpers), with one change: the reader
collects a line in a bytearray, looks for the newline only in the new chunk, and stops the server
when one message passes `max_line` bytes (the session then ends, and the call waiting on it fails
at once instead of at its timeout).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio
import anyio.lowlevel
from mcp.client import stdio as sdk
from mcp.client.stdio import StdioServerParameters

log = logging.getLogger("planfirst")

MAX_LINE = 8 * 1024 * 1024  # bytes of one message from an MCP server


class MessageTooLarge(Exception):
    """An MCP server sent a message over the cap; it was stopped."""


@asynccontextmanager
async def bounded_stdio(
    server: StdioServerParameters,
    max_line: int = MAX_LINE,
    on_too_large: Callable[[], None] | None = None,
) -> AsyncIterator[tuple[Any, Any]]:
    """Spawn `server` and yield (read stream, write stream) like the SDK's `stdio_client`;
    `on_too_large` is called when the server sent a message over `max_line` bytes."""
    command = await sdk._get_executable_command(server.command)
    process = await sdk._create_platform_compatible_process(
        command=command,
        args=server.args,
        env=sdk.get_default_environment() | (server.env or {}),
        errlog=sys.stderr,
        cwd=server.cwd,
    )
    read_writer, read_stream = anyio.create_memory_object_stream[Any](0)
    write_stream, write_reader = anyio.create_memory_object_stream[Any](0)
    shutting_down = False
    writer_done = anyio.Event()

    async def stdout_reader() -> None:
        assert process.stdout
        line = bytearray()
        try:
            async with read_writer:
                try:
                    async for chunk in process.stdout:
                        start = 0
                        while True:
                            end = chunk.find(b"\n", start)
                            line += chunk[start : len(chunk) if end < 0 else end]
                            if len(line) > max_line:
                                log.warning(
                                    "MCP server sent a message over %d bytes; stopping it", max_line
                                )
                                if on_too_large is not None:
                                    on_too_large()
                                await read_writer.send(
                                    MessageTooLarge(
                                        f"the MCP server sent a message over {max_line} bytes"
                                    )
                                )
                                return
                            if end < 0:
                                break
                            text = line.decode(server.encoding, server.encoding_error_handler)
                            line.clear()
                            start = end + 1
                            try:
                                await read_writer.send(sdk._parse_line(text))
                            except (anyio.ClosedResourceError, anyio.BrokenResourceError):
                                return
                finally:
                    await sdk._drain_stdout(process)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, ConnectionError):
            if not shutting_down:
                log.info("reading from an MCP server's stdout failed")

    async def stdin_writer() -> None:
        assert process.stdin
        try:
            async with write_reader:
                async for message in write_reader:
                    body = message.message.model_dump_json(by_alias=True, exclude_unset=True)
                    await process.stdin.send(
                        (body + "\n").encode(server.encoding, server.encoding_error_handler)
                    )
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, OSError):
            await read_writer.aclose()
        finally:
            writer_done.set()

    async def shutdown() -> None:
        read_stream.close()
        write_stream.close()
        with anyio.move_on_after(0.5):
            await writer_done.wait()
        await sdk._stop_server_process(process)
        for s in (read_stream, write_stream, read_writer, write_reader):
            await s.aclose()
        await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(stdout_reader)
        tg.start_soon(stdin_writer)
        try:
            yield read_stream, write_stream
        finally:
            shutting_down = True
            with anyio.CancelScope(shield=True):
                await shutdown()
            tg.cancel_scope.cancel()
