/**
 * The rendered plan: a webview titled with the plan's title (not its file name) that shows the plan
 * document rendered by VS Code's markdown engine, with the actions valid now as buttons (the same
 * list as the status bar's quick pick) and "Open Source" for the markdown with its code lenses,
 * hovers and diagnostics. It follows the plan document: every refresh of the document re-renders it.
 */
import * as vscode from 'vscode';
import type { PlanfirstClient } from './client';
import { ActionItem, planIdFromUri, PlanStatus, renderedPlanTitle, validActions } from './logic';

const RENDER_DELAY_MS = 150;

interface Panel {
    panel: vscode.WebviewPanel;
    uri: string;
    timer?: NodeJS.Timeout;
}

export class PlanViews implements vscode.Disposable {
    private readonly panels = new Map<string, Panel>();
    private readonly status = new Map<string, PlanStatus>();
    private readonly disposables: vscode.Disposable[];

    constructor(private readonly pf: PlanfirstClient) {
        this.disposables = [
            pf.onStatus((s) => {
                this.status.set(s.planId, s);
                this.schedule(s.planId);
            }),
            vscode.workspace.onDidChangeTextDocument((e) => {
                const id = planIdFromUri(e.document.uri.toString());
                if (id) {
                    this.schedule(id);
                }
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

    /** Open (or bring to the front) the rendered view of the plan document `uri`. */
    async show(uri: string, preserveFocus = false): Promise<void> {
        const planId = planIdFromUri(uri);
        if (!planId) {
            return;
        }
        let p = this.panels.get(planId);
        if (!p && !(await this.text(uri))) {
            return; // nothing to show (a plan that is not there, or not yet)
        }
        if (p) {
            p.panel.reveal(undefined, preserveFocus);
        } else {
            const panel = vscode.window.createWebviewPanel(
                'planfirst.plan',
                'planfirst plan',
                { viewColumn: vscode.ViewColumn.Active, preserveFocus },
                { enableScripts: true, enableFindWidget: true, localResourceRoots: [] },
            );
            const entry: Panel = { panel, uri };
            p = entry;
            this.panels.set(planId, entry);
            panel.onDidDispose(() => {
                clearTimeout(entry.timer);
                this.panels.delete(planId);
            });
            panel.webview.onDidReceiveMessage(async (m: { command?: string }) => {
                if (m.command === 'source') {
                    const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(entry.uri));
                    await vscode.window.showTextDocument(doc, { preview: false });
                } else if (typeof m.command === 'string' && m.command.startsWith('planfirst.ui.')) {
                    await vscode.commands.executeCommand(m.command, { planId });
                }
            });
        }
        p.uri = uri;
        await this.render(planId);
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
            return; // the plan is gone: keep what was shown
        }
        const body = await vscode.commands.executeCommand<string>('markdown.api.render', text).then(
            (html) => html,
            () => `<pre>${escapeHtml(text)}</pre>`, // no markdown extension: the text as it is
        );
        const s = this.status.get(planId);
        p.panel.title = renderedPlanTitle(text, s);
        const actions = s ? validActions(s).filter((a) => a.command.startsWith('planfirst.ui.') && !GENERAL.has(a.command)) : [];
        p.panel.webview.html = page(p.panel.webview, body, actions);
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

function page(webview: vscode.Webview, body: string, actions: ActionItem[]): string {
    const nonce = Array.from({ length: 24 }, () => Math.floor(Math.random() * 36).toString(36)).join('');
    const label = (a: ActionItem) => escapeHtml(a.label.replace(/\$\([a-z-]+\)\s*/g, ''));
    const buttons = [
        ...actions.map((a, i) => `<button class="${i === 0 ? 'primary' : ''}" data-command="${escapeHtml(a.command)}">${label(a)}</button>`),
        '<button data-command="source">Open Source</button>',
    ].join(' ');
    return `<!DOCTYPE html><html><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src ${webview.cspSource} https: data:; style-src 'unsafe-inline'; script-src 'nonce-${nonce}';">
<style>
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); line-height: 1.5; padding: 0 20px 40px; max-width: 980px; }
.toolbar { position: sticky; top: 0; background: var(--vscode-editor-background); padding: 10px 0; border-bottom: 1px solid var(--vscode-panel-border); z-index: 1; }
button { font: inherit; padding: 3px 10px; margin: 2px 4px 2px 0; border: 1px solid var(--vscode-button-border, transparent); color: var(--vscode-button-secondaryForeground); background: var(--vscode-button-secondaryBackground); cursor: pointer; }
button.primary { color: var(--vscode-button-foreground); background: var(--vscode-button-background); }
code { font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); padding: 0 3px; }
pre code { display: block; padding: 6px; overflow-x: auto; }
blockquote { margin: 0; padding: 2px 10px; border-left: 3px solid var(--vscode-textBlockQuote-border); background: var(--vscode-textBlockQuote-background); }
</style></head><body>
<div class="toolbar">${buttons}</div>
<main>${body}</main>
<script nonce="${nonce}">
const vscode = acquireVsCodeApi();
document.querySelectorAll('button[data-command]').forEach((b) => b.addEventListener('click', () => vscode.postMessage({ command: b.dataset.command })));
</script></body></html>`;
}
