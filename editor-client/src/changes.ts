/**
 * "Review all changes": the whole plan against its start, as one multi-file diff. The start side
 * of each file is the text the plan found before its first edit (from `planfirst.planReport`),
 * served read-only under the `planfirst-start` scheme with the file's own path, so VS Code shows
 * each entry as modified (or added, or deleted), never as renamed; the other side is the file.
 */
import * as vscode from 'vscode';
import type { PlanReport } from './protocol';
import { changeKind } from './planViewLogic';

export const START_SCHEME = 'planfirst-start';

export class PlanChanges implements vscode.Disposable {
    private readonly texts = new Map<string, string>();
    private readonly provider: vscode.Disposable;

    constructor() {
        this.provider = vscode.workspace.registerTextDocumentContentProvider(START_SCHEME, {
            provideTextDocumentContent: (uri) => this.texts.get(uri.toString()) ?? '',
        });
    }

    /** Open the plan's changes; false when it changed nothing (nothing is opened). */
    async show(report: PlanReport): Promise<boolean> {
        if (report.files.length === 0) {
            return false;
        }
        const entries: [vscode.Uri, vscode.Uri | undefined, vscode.Uri | undefined][] = [];
        for (const f of report.files) {
            const file = vscode.Uri.parse(f.uri);
            const kind = changeKind(f);
            let start: vscode.Uri | undefined;
            if (kind !== 'added') {
                start = vscode.Uri.from({ scheme: START_SCHEME, path: file.path, query: report.planId });
                this.texts.set(start.toString(), f.before ?? '');
            }
            entries.push([file, start, kind === 'deleted' ? undefined : file]);
        }
        await vscode.commands.executeCommand('vscode.changes', `All changes · ${report.title || report.planId}`, entries);
        return true;
    }

    dispose(): void {
        this.provider.dispose();
        this.texts.clear();
    }
}
