"""Core objects → lsprotocol objects (and back). The only place that knows both vocabularies."""

from __future__ import annotations

from pathlib import Path

from lsprotocol import types

from planfirst.core.editing.edits import TextEdit, minimal_edits
from planfirst.core.editing.executor import ProposedChange
from planfirst.core.problems.base import Problem
from planfirst.core.workspace.path_syntax import PathError, from_uri
from planfirst.plan.visible import encode

ENCODINGS = {
    types.PositionEncodingKind.Utf16: "utf-16",
    types.PositionEncodingKind.Utf8: "utf-8",
    types.PositionEncodingKind.Utf32: "utf-32",
    "utf-16": "utf-16",
    "utf-8": "utf-8",
    "utf-32": "utf-32",
}

SEVERITY = {
    "error": types.DiagnosticSeverity.Error,
    "warning": types.DiagnosticSeverity.Warning,
    "info": types.DiagnosticSeverity.Information,
}


def path_to_uri(path: Path) -> str:
    """A file URI for a local path."""
    return path.resolve().as_uri()


def uri_to_path(uri: str) -> Path | None:
    """The local path of a file URI (None for other schemes, network hosts and drives): the
    guard's URI parser, so every layer reads a URI the same way."""
    try:
        return Path(from_uri(uri))
    except PathError:
        return None


def plan_uri(plan_id: str) -> str:
    """The virtual document URI of a plan."""
    return f"planfirst:/plans/{plan_id}.md"


def plan_id_from_uri(uri: str, plans_dir: Path | None = None) -> str | None:
    """The plan id in a `planfirst:` URI, or in the URI of a `.planfirst/plans/<id>/plan.md` file
    (or `<plans_dir>/<id>/plan.md`, the `plansDir` setting)."""
    if uri.startswith("planfirst:"):
        tail = uri.split(":", 1)[1].lstrip("/")
        if tail.startswith("plans/") and tail.endswith(".md"):
            return tail[len("plans/") : -3] or None
        return None
    path = uri_to_path(uri)
    if path is not None and path.name == "plan.md" and plans_dir is not None:
        if path.parent.parent == plans_dir:
            return path.parent.name
    if path is not None and path.name == "plan.md" and path.parent.parent.name == "plans":
        if path.parent.parent.parent.name == ".planfirst":
            return path.parent.name
    return None


def to_lsp_edit(e: TextEdit, annotation: str | None) -> types.TextEdit | types.AnnotatedTextEdit:
    """A core TextEdit as an (annotated) LSP TextEdit."""
    rng = types.Range(
        start=types.Position(line=e.start_line, character=e.start_char),
        end=types.Position(line=e.end_line, character=e.end_char),
    )
    if annotation:
        return types.AnnotatedTextEdit(range=rng, new_text=e.new_text, annotation_id=annotation)
    return types.TextEdit(range=rng, new_text=e.new_text)


def workspace_edit(
    change: ProposedChange,
    root: Path,
    *,
    label: str,
    description: str,
    versions: dict[str, int | None],
    encoding: str,
    annotations: bool,
    document_changes: bool,
    create_files: bool = True,
    delete_files: bool = True,
    implicit_final_newline: bool = False,
) -> types.WorkspaceEdit:
    """ONE WorkspaceEdit for a step: minimal edits per file, CreateFile for new files.

    Edits are computed against the text the editor holds (`change.files[i].old` was read from
    the open document when there is one) and sent with that document's version, so the editor
    refuses the edit rather than overwrite text the user typed since. A client without the
    `create` (`delete`) resource operation gets a plain edit of the new file, which the server
    created empty on disk (no DeleteFile: the server deletes the file itself). An editor whose
    buffers end with an implicit line break (Neovim: 'fixeol') gets a new file's text without its
    last one, or its buffer would end with an extra empty line.
    """
    ann_id = "planfirst-step" if annotations else None
    doc_changes: list[
        types.TextDocumentEdit | types.CreateFile | types.RenameFile | types.DeleteFile
    ] = []
    plain: dict[str, list[types.TextEdit]] = {}  # for clients without documentChanges
    for f in change.files:
        uri = path_to_uri(root / f.path)
        if f.new is None:
            if not delete_files:
                continue
            doc_changes.append(
                types.DeleteFile(
                    uri=uri,
                    options=types.DeleteFileOptions(ignore_if_not_exists=True),
                    annotation_id=ann_id,
                )
            )
            continue
        if f.old is None:
            if create_files:
                doc_changes.append(
                    types.CreateFile(
                        uri=uri,
                        options=types.CreateFileOptions(ignore_if_exists=True),
                        annotation_id=ann_id,
                    )
                )
            text = f.new[:-1] if implicit_final_newline and f.new.endswith("\n") else f.new
            edits = [TextEdit(0, 0, 0, 0, text)] if text else []
            version = None
        else:
            edits = minimal_edits(f.old, f.new, encoding)
            version = versions.get(f.path)
        lsp_edits = [to_lsp_edit(e, ann_id) for e in edits]
        if not lsp_edits:
            continue
        doc_changes.append(
            types.TextDocumentEdit(
                text_document=types.OptionalVersionedTextDocumentIdentifier(
                    uri=uri, version=version
                ),
                edits=lsp_edits,  # type: ignore[arg-type]
            )
        )
        plain[uri] = [types.TextEdit(range=x.range, new_text=x.new_text) for x in lsp_edits]
    if not document_changes:
        return types.WorkspaceEdit(changes=plain)
    return types.WorkspaceEdit(
        document_changes=doc_changes,
        change_annotations=(
            # model text shown for what it is: bidi and invisible characters escaped (case 34)
            {
                ann_id: types.ChangeAnnotation(
                    label=encode(label),
                    needs_confirmation=True,
                    description=encode(description[:500]),
                )
            }
            if ann_id
            else None
        ),
    )


def diagnostic(p: Problem) -> types.Diagnostic:
    """A parsed tool problem as an LSP diagnostic."""
    line = max(0, p.line - 1)
    col = max(0, p.column - 1)
    end_line = max(line, (p.end_line or p.line) - 1)
    end_col = (p.end_column - 1) if p.end_column else (col + 1 if end_line == line else 0)
    if end_line == line and end_col <= col:
        end_col = col + 1
    return types.Diagnostic(
        range=types.Range(
            start=types.Position(line=line, character=col),
            end=types.Position(line=end_line, character=end_col),
        ),
        message=p.message,
        severity=SEVERITY.get(p.severity, types.DiagnosticSeverity.Error),
        source=f"planfirst/{p.source}" if p.source else "planfirst",
        code=p.code,
    )
