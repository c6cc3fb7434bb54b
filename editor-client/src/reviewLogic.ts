/**
 * The step review's logic without VS Code: which server edits need a review, the files they touch
 * with their new text, and the edit that applies only the files the user kept. VS Code opens
 * `needsConfirmation` edits in its Refactor Preview with every entry UNticked, so pressing Apply
 * there applies nothing; planfirst reviews its step edits itself (see review.ts) and hands VS Code
 * an edit without `needsConfirmation` once the user said Apply.
 */
import type { ChangeAnnotation, CreateFile, TextDocumentEdit, TextEdit, WorkspaceEdit } from 'vscode-languageclient';

/** One file of a reviewed edit. */
export interface ReviewFile {
    uri: string;
    /** the edit creates the file */
    created: boolean;
    edits: TextEdit[];
}

type DocumentChange = NonNullable<WorkspaceEdit['documentChanges']>[number];

function isTextDocumentEdit(c: DocumentChange): c is TextDocumentEdit {
    return 'textDocument' in c && 'edits' in c;
}

function isCreateFile(c: DocumentChange): c is CreateFile {
    return (c as { kind?: string }).kind === 'create';
}

/** Does the edit ask for a confirmation (any change annotation with `needsConfirmation`)? */
export function needsReview(edit: WorkspaceEdit | undefined): boolean {
    return Object.values(edit?.changeAnnotations ?? {}).some((a: ChangeAnnotation) => a.needsConfirmation === true);
}

/**
 * The files the edit touches, in order, with their text edits; undefined when it renames or deletes
 * files (those go to VS Code's own preview).
 */
export function reviewFiles(edit: WorkspaceEdit): ReviewFile[] | undefined {
    const byUri = new Map<string, ReviewFile>();
    const file = (uri: string): ReviewFile => {
        let f = byUri.get(uri);
        if (!f) {
            f = { uri, created: false, edits: [] };
            byUri.set(uri, f);
        }
        return f;
    };
    if (edit.documentChanges) {
        for (const change of edit.documentChanges) {
            if (isTextDocumentEdit(change)) {
                file(change.textDocument.uri).edits.push(...(change.edits as TextEdit[]));
            } else if (isCreateFile(change)) {
                file(change.uri).created = true;
            } else {
                return undefined;
            }
        }
    } else {
        for (const [uri, edits] of Object.entries(edit.changes ?? {})) {
            file(uri).edits.push(...edits);
        }
    }
    return [...byUri.values()];
}

/** Offset of an LSP position (UTF-16 code units, like JS strings) in `text`; clamped to the text. */
function offsetAt(text: string, line: number, character: number): number {
    let offset = 0;
    for (let l = 0; l < line; l++) {
        const nl = text.indexOf('\n', offset);
        if (nl < 0) {
            return text.length;
        }
        offset = nl + 1;
    }
    const end = text.indexOf('\n', offset);
    const lineEnd = end < 0 ? text.length : end;
    return Math.min(offset + character, lineEnd);
}

/** Apply LSP text edits (non-overlapping, positions in the original text) to `text`. */
export function applyTextEdits(text: string, edits: TextEdit[]): string {
    const spans = edits
        .map((e, i) => ({
            start: offsetAt(text, e.range.start.line, e.range.start.character),
            end: offsetAt(text, e.range.end.line, e.range.end.character),
            newText: e.newText,
            i,
        }))
        .sort((a, b) => a.start - b.start || a.i - b.i);
    let out = '';
    let at = 0;
    for (const s of spans) {
        if (s.start < at) {
            throw new Error('overlapping edits');
        }
        out += text.slice(at, s.start) + s.newText;
        at = s.end;
    }
    return out + text.slice(at);
}

/**
 * The edit restricted to the files in `keep`, with no confirmation asked (the user reviewed it):
 * VS Code applies it as it is.
 */
export function confirmedEdit(edit: WorkspaceEdit, keep: ReadonlySet<string>): WorkspaceEdit {
    const annotations: Record<string, ChangeAnnotation> = {};
    for (const [id, a] of Object.entries(edit.changeAnnotations ?? {})) {
        annotations[id] = { ...a, needsConfirmation: false };
    }
    const out: WorkspaceEdit = {};
    if (edit.documentChanges) {
        out.documentChanges = edit.documentChanges.filter((c) =>
            isTextDocumentEdit(c) ? keep.has(c.textDocument.uri) : keep.has((c as { uri: string }).uri),
        );
    }
    if (edit.changes) {
        out.changes = Object.fromEntries(Object.entries(edit.changes).filter(([uri]) => keep.has(uri)));
    }
    if (edit.changeAnnotations) {
        out.changeAnnotations = annotations;
    }
    return out;
}

/** A path for display: relative to the workspace folder when inside it. */
export function displayPath(uri: string, folderUri: string | undefined): string {
    const decoded = decodeURIComponent(uri.replace(/^file:\/\//, ''));
    if (folderUri) {
        const folder = decodeURIComponent(folderUri.replace(/^file:\/\//, '')).replace(/\/$/, '');
        if (decoded.startsWith(folder + '/')) {
            return decoded.slice(folder.length + 1);
        }
    }
    return decoded;
}

/** The step an undo's review undoes (its label is "planfirst: undo step N"), else undefined. */
export function undoStepOf(label: string | undefined): number | undefined {
    const m = /^(?:Review · )?planfirst: undo step (\d+)\b/.exec(label ?? '');
    return m ? Number(m[1]) : undefined;
}

/** What the review's buttons say: an undo's Apply undoes the step, its Discard keeps it (#33). */
export function reviewButtons(label: string, count: number): { apply: string; applyTip: string; discard: string; discardTip: string } {
    const what = count === 1 ? '1 file' : `${count} files`;
    const undo = undoStepOf(label);
    if (undo !== undefined) {
        return {
            apply: `$(discard) Undo step ${undo}`,
            applyTip: `Restore the text from before step ${undo} (${what})`,
            discard: `$(close) Keep step ${undo}`,
            discardTip: `Do not undo: step ${undo}'s edit stays on disk`,
        };
    }
    return {
        apply: '$(check) Apply step edit',
        applyTip: `Apply the whole edit (${what}): ${label}`,
        discard: '$(discard) Discard',
        discardTip: 'Apply nothing; Execute offers the same edit again',
    };
}
