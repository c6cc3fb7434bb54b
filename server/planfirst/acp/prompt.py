"""What an ACP request carries, as planfirst uses it: a prompt's text, files and embedded
resources (#30 item 5), and the MCP servers of session/new and session/load (#30 item 1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from acp.schema import (
    EmbeddedResourceContentBlock,
    McpServerStdio,
    ResourceContentBlock,
    TextContentBlock,
    TextResourceContents,
)

from planfirst.core.planning import mcp
from planfirst.plan.visible import encode

MAX_ATTACHMENT = 50_000  # characters of one embedded resource from outside the workspace
MAX_ATTACHMENTS = 200_000  # characters of all of them in one prompt


@dataclass
class Prompt:
    """What a session/prompt carries, as planfirst uses it."""

    text: str  # the user's words, then what was attached from outside the workspace
    files: list[str] = field(default_factory=list)  # workspace files it mentions
    docs: dict[str, str] = field(default_factory=dict)  # workspace file -> the client's text


def read_prompt(blocks: list[Any], root: Path) -> Prompt:
    """The prompt's text, the workspace files it mentions (resource links, embedded files) with
    the text the client embedded for them (what the user sees, unsaved edits included), and
    resources from outside the workspace (an `https:` page, a file elsewhere) attached to the
    text so they reach the planning request (bounded; binary contents are named, not sent)."""
    texts: list[str] = []
    files: list[str] = []
    docs: dict[str, str] = {}
    attached: list[str] = []
    room = MAX_ATTACHMENTS
    for b in blocks:
        uri: str | None = None
        body: str | None = None
        if isinstance(b, TextContentBlock):
            texts.append(b.text)
        elif isinstance(b, ResourceContentBlock):
            uri = b.uri
        elif isinstance(b, EmbeddedResourceContentBlock):
            uri = getattr(b.resource, "uri", None)
            body = b.resource.text if isinstance(b.resource, TextResourceContents) else None
        if not uri:
            continue
        rel = _workspace_file(uri, root)
        if rel is not None:
            files.append(rel)
            texts.append(f"@{rel}")
            if body is not None:
                docs[rel] = body
            continue
        if body is None:
            kind = (
                "binary content, not included"
                if isinstance(b, EmbeddedResourceContentBlock)
                else "a link"
            )
            attached.append(f'<attachment uri="{encode(uri[:500])}">({kind})</attachment>')
            continue
        cut = body[: min(MAX_ATTACHMENT, max(0, room))]
        room -= len(cut)
        more = "\n(… cut: the attachment is longer)" if len(cut) < len(body) else ""
        attached.append(f'<attachment uri="{encode(uri[:500])}">\n{cut}{more}\n</attachment>')
    text = " ".join(t for t in texts if t).strip()
    if attached:
        text += "\n\nAttached by the user:\n" + "\n".join(attached)
    return Prompt(text, files, docs)


def _workspace_file(uri: str, root: Path) -> str | None:
    """The workspace-relative path a `file:` URI names, or None (another scheme, elsewhere)."""
    if not uri.startswith("file://"):
        return None
    path = Path(unquote(urlparse(uri).path))
    try:
        return path.resolve().relative_to(root).as_posix()
    except (ValueError, OSError):
        return None


def mcp_servers(raw: Any) -> tuple[list[mcp.McpServer], list[str]]:
    """`mcpServers` of session/new or session/load: stdio servers are used; HTTP and SSE ones
    are not (planfirst does not declare `mcpCapabilities.http`/`sse`), and the user is told."""
    out: list[mcp.McpServer] = []
    problems: list[str] = []
    for s in raw or []:
        if isinstance(s, McpServerStdio):
            env = tuple((e.name, e.value) for e in s.env)
            out.append(mcp.McpServer(s.name, s.command, tuple(s.args), env))
        else:
            name = str(getattr(s, "name", "?"))[:60]
            problems.append(
                f"MCP server {name!r} was not started: planfirst connects stdio MCP servers only"
            )
    return out, problems
