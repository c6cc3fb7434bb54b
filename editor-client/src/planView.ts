/**
 * The rendered plan: a webview titled with the plan's title (not its file name) that shows the plan
 * document rendered by VS Code's markdown engine, reshaped to be scannable (planViewLogic.ts), with
 * the actions valid now as buttons (the same list as the status bar's quick pick) and "Open Source"
 * for the markdown with its code lenses, hovers and diagnostics. It follows the plan document:
 * every refresh of the document re-renders it. While the server works (planning, revising,
 * executing) it shows the live progress and Cancel, and the actions that would race are disabled;
 * Generate Plan opens it at once, before the plan exists. A finished plan shows the finish view:
 * per step attempts, tokens, cost and time, and "Review all changes" first.
 */
import * as vscode from 'vscode';
import type { PlanfirstClient, Work } from './client';
import { ActionItem, busyElsewhere, planIdFromUri, PlanStatus, renderedPlanTitle, validActions } from './logic';
import { decorateStatuses, finishTable, planRevision, revisionUri, scannablePlan } from './planViewLogic';
import type { PlanReport } from './protocol';

const RENDER_DELAY_MS = 150;

interface Panel {
    panel: vscode.WebviewPanel;
    uri: string;
    timer?: NodeJS.Timeout;
}

/** The webview panel type (the `activeWebviewPanelId` a keybinding's `when` compares with). */
export const PLAN_PANEL = 'planfirst.plan';

export class PlanViews implements vscode.Disposable {
    private readonly panels = new Map<string, Panel>();
    private readonly status = new Map<string, PlanStatus>();
    private readonly reports = new Map<string, PlanReport>();
    private readonly disposables: vscode.Disposable[];
    /** the view Generate Plan opened before its plan existed (adopted by the first plan shown) */
    private planning: { panel: vscode.WebviewPanel; task: string; adopted: boolean } | undefined;
    private focused: string | undefined;

    constructor(private readonly pf: PlanfirstClient) {
        this.disposables = [
            pf.onStatus((s) => {
                this.status.set(s.planId, s);
                if ((s.status || '').toLowerCase() !== 'done') {
                    this.reports.delete(s.planId);
                }
                this.schedule(s.planId);
            }),
            // the review's actions (Show Step Review, Apply…) appear and go with it
            pf.review.onDidChange(() => {
                for (const id of this.panels.keys()) {
                    this.schedule(id);
                }
            }),
            pf.onWork(() => {
                for (const id of this.panels.keys()) {
                    this.schedule(id);
                }
                this.renderPlanning();
            }),
            vscode.workspace.onDidChangeTextDocument((e) => {
                const id = planIdFromUri(e.document.uri.toString());
                if (id) {
                    this.schedule(id);
                }
            }),
            // two revisions side by side: VS Code's diff editor on the server's revision documents
            vscode.commands.registerCommand('planfirst.ui.compareRevisions', async (arg?: unknown) => {
                const planId = (arg as { planId?: string } | undefined)?.planId ?? this.focused;
                const p = planId ? this.panels.get(planId) : undefined;
                const text = p ? await this.text(p.uri) : undefined;
                const revision = text ? planRevision(text) : undefined;
                if (!planId || !revision || revision < 2) {
                    void vscode.window.showInformationMessage('planfirst: this plan has no earlier revision to compare with.');
                    return;
                }
                const title = `${renderedPlanTitle(text ?? '', this.status.get(planId))}: revision ${revision - 1} ↔ ${revision}`;
                await vscode.commands.executeCommand(
                    'vscode.diff',
                    vscode.Uri.parse(revisionUri(planId, revision - 1)),
                    vscode.Uri.parse(revisionUri(planId, revision)),
                    title,
                );
            }),
            vscode.commands.registerCommand('planfirst.ui.showRenderedPlan', async (arg?: unknown) => {
                const uri = (arg as { uri?: string } | undefined)?.uri ?? vscode.window.activeTextEditor?.document.uri.toString();
                if (uri && planIdFromUri(uri)) {
                    await this.show(uri);
                }
            }),
        ];
    }

    /** Is the rendered view the default way to open a plan (`planfirst.planView`)? */
    static preferred(): boolean {
        return vscode.workspace.getConfiguration('planfirst').get<string>('planView', 'rendered') !== 'source';
    }

    /** The plan of the rendered view that has the focus, if one has. */
    activePlanId(): string | undefined {
        return this.focused;
    }

    private newPanel(title: string, preserveFocus: boolean): vscode.WebviewPanel {
        return vscode.window.createWebviewPanel(
            PLAN_PANEL,
            title,
            { viewColumn: vscode.ViewColumn.Active, preserveFocus },
            { enableScripts: true, enableFindWidget: true, localResourceRoots: [] },
        );
    }

    /**
     * Generate Plan: the view opens now with the task, the live progress and Cancel; the first plan
     * shown takes it over. Disposing the result closes it if no plan did (the command failed).
     */
    showPlanning(task: string): vscode.Disposable {
        const panel = this.newPanel('Planning…', false);
        const entry = { panel, task, adopted: false };
        this.planning = entry;
        panel.onDidDispose(() => {
            if (this.planning === entry) {
                this.planning = undefined;
            }
        });
        panel.webview.onDidReceiveMessage((m: { command?: string; token?: string }) => this.onMessage(undefined, m));
        this.renderPlanning();
        return {
            dispose: () => {
                if (this.planning === entry) {
                    this.planning = undefined;
                }
                if (!entry.adopted) {
                    panel.dispose(); // no plan took it (the command failed or was refused)
                }
            },
        };
    }

    private renderPlanning(): void {
        const p = this.planning;
        if (!p) {
            return;
        }
        const body = `<h1>Planning…</h1><p class="task">${escapeHtml(p.task)}</p>`;
        // Cancel from the first second, before the server has begun its progress
        const cancel: ActionItem[] = this.pf.working.length ? [] : [{ command: 'planfirst.ui.cancel', label: 'Cancel' }];
        p.panel.webview.html = page(p.panel.webview, body, cancel, this.pf.working, false); // no source yet
    }

    /** Show the finish view of a done plan (its figures and "Review all changes"). */
    async showFinish(report: PlanReport): Promise<void> {
        this.reports.set(report.planId, report);
        const p = this.panels.get(report.planId);
        if (p) {
            p.panel.reveal(undefined, true);
            await this.render(report.planId);
        } else {
            const shown = await this.pf.command('planfirst.showPlan', { planId: report.planId });
            if (shown?.uri) {
                await this.show(shown.uri, true);
            }
        }
    }

    private async onMessage(planId: string | undefined, m: { command?: string; token?: string }): Promise<void> {
        if (m.command === 'cancelWork' && typeof m.token === 'string') {
            this.pf.cancelWork(m.token);
        } else if (m.command === 'source' && planId) {
            const entry = this.panels.get(planId);
            if (entry) {
                const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(entry.uri));
                await vscode.window.showTextDocument(doc, { preview: false });
            }
        } else if (typeof m.command === 'string' && m.command.startsWith('planfirst.ui.')) {
            await vscode.commands.executeCommand(m.command, planId ? { planId } : undefined);
        }
    }

    /** Open (or bring to the front) the rendered view of the plan document `uri`; false when
     * there is nothing to show (not a plan document, or a plan that is not there). */
    async show(uri: string, preserveFocus = false): Promise<boolean> {
        const planId = planIdFromUri(uri);
        if (!planId) {
            return false;
        }
        let p = this.panels.get(planId);
        if (!p && !this.planning && !(await this.text(uri))) {
            return false; // nothing to show (a plan that is not there, or not yet)
        }
        if (p) {
            p.panel.reveal(undefined, preserveFocus);
        } else {
            // the view Generate Plan opened becomes this plan's
            const planning = this.planning;
            if (planning) {
                planning.adopted = true;
            }
            const panel = planning?.panel ?? this.newPanel('planfirst plan', preserveFocus);
            this.planning = undefined;
            const entry: Panel = { panel, uri };
            p = entry;
            this.panels.set(planId, entry);
            const track = (): void => {
                if (panel.active) {
                    this.focused = planId;
                } else if (this.focused === planId) {
                    this.focused = undefined;
                }
            };
            track();
            panel.onDidChangeViewState(track);
            panel.onDidDispose(() => {
                clearTimeout(entry.timer);
                this.panels.delete(planId);
                if (this.focused === planId) {
                    this.focused = undefined;
                }
            });
            panel.webview.onDidReceiveMessage((m: { command?: string; token?: string }) => this.onMessage(planId, m));
        }
        p.uri = uri;
        await this.render(planId);
        return true;
    }

    private schedule(planId: string): void {
        const p = this.panels.get(planId);
        if (!p) {
            return;
        }
        clearTimeout(p.timer);
        p.timer = setTimeout(() => void this.render(planId), RENDER_DELAY_MS);
    }

    private async render(planId: string): Promise<void> {
        const p = this.panels.get(planId);
        if (!p) {
            return;
        }
        const text = await this.text(p.uri);
        if (text === undefined) {
            return; // the plan is gone (or not written yet): keep what was shown
        }
        const s = this.status.get(planId);
        const report = this.reports.get(planId);
        const md = (markdown: string, fallback: string): Thenable<string> =>
            vscode.commands.executeCommand<string>('markdown.api.render', markdown).then(
                (html) => decorateStatuses(html),
                () => `<pre>${escapeHtml(fallback)}</pre>`, // no markdown extension: the text as it is
            );
        const finish = report
            ? `<section class="finish"><h2>Finish</h2>${await md(finishTable(report), finishTable(report))}<hr></section>`
            : '';
        // run by another planfirst process: said here, with no Cancel (this server cannot) (#33)
        const away = busyElsewhere(s);
        const note = away ? `<div class="progress" role="status"><b>${escapeHtml(away)}</b></div>` : '';
        const body = `${note}${finish}<div class="plan">${await md(scannablePlan(text), text)}</div>`;
        p.panel.title = renderedPlanTitle(text, s);
        const actions = s
            ? validActions(s, this.pf.review.pending, this.pf.review.pendingTitle).filter((a) => a.command.startsWith('planfirst.ui.') && !GENERAL.has(a.command))
            : [];
        const revision = planRevision(text);
        if (revision !== undefined && revision > 1) {
            actions.push({ command: 'planfirst.ui.compareRevisions', label: `Compare with revision ${revision - 1}` });
        }
        p.panel.webview.html = page(p.panel.webview, body, actions, this.pf.working);
    }

    /** The plan document's text, or undefined when it cannot be read. */
    private async text(uri: string): Promise<string | undefined> {
        try {
            const text = (await vscode.workspace.openTextDocument(vscode.Uri.parse(uri))).getText();
            return text.trim() ? text : undefined;
        } catch (e) {
            this.pf.log.info(`rendered plan: ${uri}: ${e instanceof Error ? e.message : String(e)}`);
            return undefined;
        }
    }

    dispose(): void {
        for (const p of this.panels.values()) {
            p.panel.dispose();
        }
        for (const d of this.disposables) {
            d.dispose();
        }
    }
}

/** Actions about planfirst in general, not about this plan: not on the plan's toolbar. */
const GENERAL = new Set(['planfirst.ui.generatePlan', 'planfirst.ui.setApiKey', 'planfirst.ui.showLog', 'planfirst.ui.restartServer', 'planfirst.ui.showPlan']);

function escapeHtml(s: string): string {
    return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Actions that stay clickable while the server works (they do not start a plan operation). */
const SAFE_WHILE_WORKING = new Set([
    'planfirst.ui.cancel',
    'planfirst.ui.showReview',
    'planfirst.ui.applyReview',
    'planfirst.ui.chooseReviewFiles',
    'planfirst.ui.discardReview',
    'planfirst.ui.editPlan',
    'planfirst.ui.reviewPlanChanges',
    'planfirst.ui.compareRevisions',
]);

function page(webview: vscode.Webview, body: string, actions: ActionItem[], working: Work[] = [], source = true): string {
    const nonce = Array.from({ length: 24 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
    const label = (a: ActionItem) => escapeHtml(a.label.replace(/\$\([a-z-]+\)\s*/g, ''));
    const busy = working.length > 0;
    // while the server works, its Cancel is the primary action and what would race is disabled
    const shown = busy ? actions.filter((a) => a.command !== 'planfirst.ui.cancel') : actions;
    const buttons = [
        ...shown.map((a, i) => {
            const off = busy && !SAFE_WHILE_WORKING.has(a.command);
            const cls = i === 0 && !busy ? 'primary' : '';
            return `<button class="${cls}" data-command="${escapeHtml(a.command)}"${off ? ' disabled title="planfirst is working: wait, or Cancel"' : ''}>${label(a)}</button>`;
        }),
        ...(source ? ['<button data-command="source">Open Source</button>'] : []),
    ].join(' ');
    const progress = working
        .map(
            (w) =>
                `<div class="progress" role="status"><span class="spinner"></span> <b>${escapeHtml(w.title.replace(/^planfirst:\s*/, ''))}</b>` +
                `${w.message ? ` · ${escapeHtml(w.message)}` : ''}` +
                ` <button class="primary cancel" data-command="cancelWork" data-token="${escapeHtml(w.token)}">Cancel</button></div>`,
        )
        .join('');
    return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource} https: data:; style-src 'unsafe-inline'; script-src 'nonce-${nonce}';">
<style>
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); line-height: 1.5; padding: 0 20px 40px; max-width: 980px; }
.toolbar { position: sticky; top: 0; background: var(--vscode-editor-background); padding: 10px 0; border-bottom: 1px solid var(--vscode-panel-border); z-index: 1; }
button { font: inherit; padding: 3px 10px; margin: 2px 4px 2px 0; border: 1px solid var(--vscode-button-border, transparent); color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); cursor: pointer; }
button.primary { color: var(--vscode-button-foreground); background: var(--vscode-button-background); }
button[disabled] { opacity: 0.5; cursor: default; }
.progress { margin: 6px 0 0; padding: 4px 8px; border-left: 3px solid var(--vscode-progressBar-background); background: var(--vscode-editorWidget-background); }
.spinner { display: inline-block; width: 10px; height: 10px; border: 2px solid var(--vscode-progressBar-background); border-right-color: transparent; border-radius: 50%; animation: spin 1s linear infinite; vertical-align: -1px; }
@keyframes spin { to { transform: rotate(360deg); } }
.task { font-size: 1.1em; }
table { border-collapse: collapse; margin: 6px 0; }
th, td { padding: 2px 10px 2px 0; text-align: left; vertical-align: top; }
.plan > table:first-of-type thead { display: none; }
.status { font-weight: 600; }
.status-done { color: var(--vscode-testing-iconPassed, #3fb950); }
.status-failed { color: var(--vscode-testing-iconFailed, #f85149); }
.status-running, .status-applied { color: var(--vscode-charts-yellow, #d29922); }
.status-pending, .status-undone { color: var(--vscode-descriptionForeground); }
code { font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); padding: 0 3px; }
pre code { display: block; padding: 6px; overflow-x: auto; }
blockquote { margin: 0; padding: 2px 10px; border-left: 3px solid var(--vscode-textBlockQuote-border); background: var(--vscode-textBlockQuote-background); }
</style></head><body>
<div class="toolbar">${buttons}${progress}</div>
<main>${body}</main>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
document.querySelectorAll('button[data-command]').forEach((b) => b.addEventListener('click', () => { if (!b.disabled) vscode.postMessage({ command: b.dataset.command, token: b.dataset.token }); }));
</script></body></html>`;
}
