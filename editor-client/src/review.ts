/**
 * The step review: planfirst's step edits (annotated `needsConfirmation`) open in VS Code's
 * multi-file diff editor with Apply / Some Files… / Discard in the editor title bar and in the
 * status bar. Closing the review's tab decides nothing: Show Step Review opens it again. Every
 * file shows as modified (or added), never renamed: the proposed side has the file's own path.
 * One click on Apply applies the whole step; Choose Files… applies only the files you
 * keep; Discard applies nothing (the server then offers the same edit again on the next Execute,
 * without a new model call). "Open in Refactor Preview" hands the edit to VS Code's own preview
 * for per-change choices (its entries start unticked).
 */
import * as vscode from 'vscode';
import type { ApplyWorkspaceEditParams, ApplyWorkspaceEditResult } from 'vscode-languageclient';
import { applyTextEdits, confirmedEdit, displayPath, needsReview, ReviewFile, reviewButtons, reviewFiles, undoStepOf } from './reviewLogic';

export const REVIEW_SCHEME = 'planfirst-review';
const CONTEXT_KEY = 'planfirst.reviewPending';
/** true while the pending review is an undo's (its title bar shows Undo Step, not Apply) */
const UNDO_KEY = 'planfirst.reviewIsUndo';

type Decision = { kind: 'apply'; keep?: ReadonlySet<string> } | { kind: 'discard'; why: string } | { kind: 'native' };

interface Pending {
    title: string;
    files: ReviewFile[];
    /** the multi-file diff's entries: [file, original (undefined: a new file), proposed text] */
    entries: [vscode.Uri, vscode.Uri | undefined, vscode.Uri][];
    decide: (d: Decision) => void;
}

type Next = (params: ApplyWorkspaceEditParams) => Promise<ApplyWorkspaceEditResult>;

export class StepReview implements vscode.Disposable {
    private readonly texts = new Map<string, string>();
    private current: Pending | undefined;
    private currentSerial = 0;
    private serial = 0;
    private readonly disposables: vscode.Disposable[];
    private readonly changed = new vscode.EventEmitter<boolean>();
    /** Fires true when a review opens and false when it is decided. */
    readonly onDidChange = this.changed.event;

    constructor(private readonly log: vscode.LogOutputChannel) {
        this.disposables = [
            this.changed,
            vscode.workspace.registerTextDocumentContentProvider(REVIEW_SCHEME, {
                provideTextDocumentContent: (uri) => this.texts.get(uri.toString()) ?? '',
            }),
            vscode.commands.registerCommand('planfirst.ui.applyReview', () => this.decide({ kind: 'apply' })),
            vscode.commands.registerCommand('planfirst.ui.applyUndoReview', () => this.decide({ kind: 'apply' })),
            vscode.commands.registerCommand('planfirst.ui.chooseReviewFiles', () => this.chooseFiles()),
            vscode.commands.registerCommand('planfirst.ui.discardReview', () =>
                this.decide({ kind: 'discard', why: 'discarded in the review' }),
            ),
            vscode.commands.registerCommand('planfirst.ui.reviewInRefactorPreview', () => this.decide({ kind: 'native' })),
            vscode.commands.registerCommand('planfirst.ui.showReview', () => this.show()),
        ];
    }

    /** Is a review waiting for the user? */
    get pending(): boolean {
        return this.current !== undefined;
    }

    /** How many reviews have opened so far (to tell the ones a command opened). */
    get opened(): number {
        return this.serial;
    }

    /** Discard the pending review if it opened after `opened` was `since`. */
    discardOpenedAfter(since: number, why: string): void {
        if (this.current && this.currentSerial > since) {
            this.discard(why);
        }
    }

    /** Close a pending review without applying anything (Cancel, a newer edit, shutdown). */
    discard(why: string): void {
        this.decide({ kind: 'discard', why });
    }

    /** The `workspace/applyEdit` middleware: review planfirst's step edits, pass everything else on. */
    async handle(params: ApplyWorkspaceEditParams, next: Next): Promise<ApplyWorkspaceEditResult> {
        const files = needsReview(params.edit) ? reviewFiles(params.edit) : undefined;
        if (!files || files.length === 0) {
            return next(params);
        }
        this.discard('a newer edit arrived');
        const serial = ++this.serial;
        const label = params.label ?? Object.values(params.edit.changeAnnotations ?? {})[0]?.label ?? 'planfirst edit';
        const title = `Review · ${label}`;
        const entries: [vscode.Uri, vscode.Uri | undefined, vscode.Uri][] = [];
        const shown: string[] = [];
        try {
            for (const f of files) {
                const uri = vscode.Uri.parse(f.uri);
                const old = f.created ? '' : await this.currentText(uri);
                // the same path as the file: VS Code's multi-file diff marks an entry whose two
                // sides have different paths as renamed ("R", the old name struck through)
                const modified = vscode.Uri.from({ scheme: REVIEW_SCHEME, path: uri.path, query: String(serial) });
                this.texts.set(modified.toString(), applyTextEdits(old, f.edits));
                shown.push(modified.toString());
                entries.push([uri, f.created ? undefined : uri, modified]);
            }
        } catch (e) {
            // cannot show it ourselves: VS Code's own preview still lets the user decide
            this.log.warn(`review: ${String(e)}; opening the Refactor Preview instead`);
            shown.forEach((u) => this.texts.delete(u));
            return next(params);
        }
        const decision = new Promise<Decision>((resolve) => {
            this.current = { title, files, entries, decide: resolve };
            this.currentSerial = serial;
        });
        await vscode.commands.executeCommand('setContext', UNDO_KEY, undoStepOf(label) !== undefined);
        await vscode.commands.executeCommand('setContext', CONTEXT_KEY, true);
        this.changed.fire(true);
        await this.show();
        this.log.info(`review: ${label}: opened (${files.length} file${files.length === 1 ? '' : 's'})`);
        const buttons = this.showButtons(label, files.length);
        const d = await decision;
        buttons.dispose();
        shown.forEach((u) => this.texts.delete(u));
        await this.closeTabs(title);
        switch (d.kind) {
            case 'native':
                this.log.info(`review: ${label}: opened in the Refactor Preview`);
                return next(params);
            case 'discard':
                this.log.info(`review: ${label}: ${d.why}`);
                return { applied: false, failureReason: d.why };
            case 'apply': {
                const keep = d.keep ?? new Set(files.map((f) => f.uri));
                this.log.info(`review: ${label}: applying ${keep.size} of ${files.length} file(s)`);
                return next({ ...params, edit: confirmedEdit(params.edit, keep) });
            }
        }
    }

    /** Open (again) the pending review's multi-file diff: closing its tab decides nothing. */
    async show(): Promise<void> {
        const cur = this.current;
        if (!cur) {
            void vscode.window.showInformationMessage('planfirst: there is no step edit to review.');
            return;
        }
        try {
            await vscode.commands.executeCommand('vscode.changes', cur.title, cur.entries);
        } catch (e) {
            this.log.warn(`review: the multi-file diff editor did not open: ${String(e)}`);
        }
    }

    /** The pending review's title (`Review · <label>`), if one is waiting. */
    get pendingTitle(): string | undefined {
        return this.current?.title;
    }

    private decide(d: Decision): void {
        const cur = this.current;
        if (!cur) {
            if (d.kind !== 'discard') {
                void vscode.window.showInformationMessage('planfirst: there is no step edit to review.');
            }
            return;
        }
        this.current = undefined;
        void vscode.commands.executeCommand('setContext', CONTEXT_KEY, false);
        this.changed.fire(false);
        cur.decide(d);
    }

    /** Status bar buttons beside the diff: the same choices as the editor title bar, in words. */
    private showButtons(label: string, count: number): vscode.Disposable {
        const what = count === 1 ? '1 file' : `${count} files`;
        // an undo is reviewed like a step, but what Apply does is undo it: the buttons say so
        const b = reviewButtons(label, count);
        const make = (text: string, command: string, tooltip: string, priority: number, prominent = false) => {
            const item = vscode.window.createStatusBarItem(`planfirst.review.${command}`, vscode.StatusBarAlignment.Left, priority);
            item.name = 'planfirst review';
            item.text = text;
            item.tooltip = tooltip;
            item.command = command;
            if (prominent) {
                item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
            }
            item.show();
            return item;
        };
        const items = [
            make('$(diff) Show review', 'planfirst.ui.showReview', `Open the step review again (${what}): ${label}`, 10),
            make(b.apply, 'planfirst.ui.applyReview', b.applyTip, 9, true),
            make('$(checklist) Some files…', 'planfirst.ui.chooseReviewFiles', 'Apply only the files you keep', 8),
            make(b.discard, 'planfirst.ui.discardReview', b.discardTip, 7),
        ];
        return vscode.Disposable.from(...items);
    }

    /** Apply only the files the user keeps (all are ticked to start with). */
    private async chooseFiles(): Promise<void> {
        const cur = this.current;
        if (!cur) {
            void vscode.window.showInformationMessage('planfirst: there is no step edit to review.');
            return;
        }
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri.toString();
        const items = cur.files.map((f) => ({
            label: displayPath(f.uri, folder),
            description: f.created ? 'new file' : `${f.edits.length} change${f.edits.length === 1 ? '' : 's'}`,
            picked: true,
            uri: f.uri,
        }));
        const chosen = await vscode.window.showQuickPick(items, {
            canPickMany: true,
            title: `planfirst: apply which files? (${cur.title.replace(/^Review · /, '')})`,
            placeHolder: 'Untick the files to leave out, then press Enter (OK)',
            ignoreFocusOut: true,
        });
        if (!chosen || this.current !== cur) {
            return; // escaped: the review stays open
        }
        if (chosen.length === 0) {
            this.decide({ kind: 'discard', why: 'no file was chosen in the review' });
        } else {
            this.decide({ kind: 'apply', keep: new Set(chosen.map((c) => c.uri)) });
        }
    }

    private async currentText(uri: vscode.Uri): Promise<string> {
        const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
        if (open) {
            return open.getText();
        }
        return new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    }

    private async closeTabs(title: string): Promise<void> {
        // VS Code appends " (N files)" to the multi-file diff editor's title
        const tabs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.label.startsWith(title));
        if (tabs.length) {
            await Promise.resolve(vscode.window.tabGroups.close(tabs)).catch(() => undefined);
        }
    }

    dispose(): void {
        this.discard('the extension stopped');
        for (const d of this.disposables) {
            d.dispose();
        }
    }
}
