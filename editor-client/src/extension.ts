/**
 * planfirst for VS Code: starts the planfirst language server and wires the palette commands, the
 * plan documents (`planfirst:` scheme, served by `workspace/textDocumentContent`), the status bar
 * and the API key in SecretStorage.
 */
import * as vscode from 'vscode';
import { PlanfirstClient, SECRET_KEY } from './client';
import { registerCommands } from './commands';
import { formatStatus, planContext } from './logic';
import { PlansView } from './plansView';
import { PlanViews } from './planView';
import { reportServerNotStarted } from './serverCheck';

const RESTART_DELAY_MS = 1000;
let planfirst: PlanfirstClient | undefined;

/** Entry point: called once when VS Code activates the extension. */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const log = vscode.window.createOutputChannel('planfirst', { log: true });
    const pf = new PlanfirstClient(context, log);
    planfirst = pf;

    const views = new PlanViews(pf);
    pf.onPlanShown = async (uri) => PlanViews.preferred() && (await views.show(uri));

    const status = vscode.window.createStatusBarItem('planfirst.status', vscode.StatusBarAlignment.Left, 10);
    status.name = 'planfirst';
    status.command = 'planfirst.ui.actions';
    status.text = 'planfirst';
    status.tooltip = 'planfirst: no active plan';
    status.show();

    let restartTimer: NodeJS.Timeout | undefined;
    let afterReview: vscode.Disposable | undefined;
    const scheduleRestart = (why: string): void => {
        clearTimeout(restartTimer);
        if (pf.review.pending) {
            // a restart would discard the open step review unseen: restart once it is decided
            log.info(`restart (${why}) waits for the open step review`);
            afterReview?.dispose();
            afterReview = pf.review.onDidChange((open) => {
                if (!open) {
                    afterReview?.dispose();
                    afterReview = undefined;
                    scheduleRestart(why);
                }
            });
            return;
        }
        restartTimer = setTimeout(() => {
            log.info(`restarting the server: ${why}`);
            pf.restart().catch((e) => reportServerNotStarted(e, log));
        }, RESTART_DELAY_MS);
    };

    context.subscriptions.push(
        log,
        status,
        pf,
        views,
        ...registerCommands(pf, context, views),
        new PlansView(pf),
        pf.onStatus((s) => {
            // the palette shows the commands that apply, the plan's title bar its next action
            // (package.json `when` clauses)
            for (const [key, value] of Object.entries(planContext(s))) {
                void vscode.commands.executeCommand('setContext', key, value);
            }
            const view = formatStatus(s);
            status.text = view.text;
            status.tooltip = view.tooltip;
            status.backgroundColor =
                view.severity === 'error'
                    ? new vscode.ThemeColor('statusBarItem.errorBackground')
                    : view.severity === 'warning'
                      ? new vscode.ThemeColor('statusBarItem.warningBackground')
                      : undefined;
        }),
        vscode.workspace.onDidChangeConfiguration((e) => {
            if (e.affectsConfiguration('planfirst')) {
                scheduleRestart('settings changed');
            }
        }),
        context.secrets.onDidChange(async (e) => {
            // "Set API key" restarts the server itself; a key changed elsewhere (another window) restarts here
            if (e.key === SECRET_KEY && (await context.secrets.get(SECRET_KEY)) !== pf.startedWithKey) {
                scheduleRestart('API key changed');
            }
        }),
        pf.onWork(() => void vscode.commands.executeCommand('setContext', 'planfirst.working', pf.working.length > 0)),
        pf.onServerState((s) => {
            // the Plans view's welcome: "not running yet" only while it is not
            void vscode.commands.executeCommand('setContext', 'planfirst.serverRunning', s.state === 'running');
            if (s.state === 'failed') {
                status.text = '$(error) planfirst: server not started';
                status.tooltip = `planfirst: the language server did not start\n${s.detail ?? ''}\nClick for the ways to fix it.`;
                status.backgroundColor = new vscode.ThemeColor('statusBarItem.errorBackground');
                status.command = { title: 'planfirst: fix the server', command: 'planfirst.ui.serverProblem', arguments: [s.detail] };
            } else if (s.state === 'starting') {
                status.text = '$(sync~spin) planfirst: starting';
                status.tooltip = 'planfirst: starting the language server';
                status.backgroundColor = undefined;
            } else if (s.state === 'running') {
                status.text = 'planfirst';
                status.tooltip = 'planfirst: ready. Click for the actions.';
                status.backgroundColor = undefined;
                status.command = 'planfirst.ui.actions';
            }
        }),
        // plan documents are markdown (their URIs end in .md); make sure even if an association says otherwise
        // (a revision diff, planfirst:/plans/<id>/revision-1-2.diff, stays a diff)
        vscode.workspace.onDidOpenTextDocument((doc) => {
            if (doc.uri.scheme === 'planfirst' && doc.uri.path.endsWith('.md') && doc.languageId !== 'markdown') {
                void vscode.languages.setTextDocumentLanguage(doc, 'markdown');
            }
        }),
        {
            dispose: () => {
                clearTimeout(restartTimer);
                afterReview?.dispose();
            },
        },
    );

    // the walkthrough's steps tick from the real state (package.json completionEvents)
    const keyState = async (): Promise<void> => {
        // a key in VS Code's SecretStorage, or one the server inherits from VS Code's environment
        const key = (await context.secrets.get(SECRET_KEY)) || process.env.ANTHROPIC_API_KEY?.trim();
        await vscode.commands.executeCommand('setContext', 'planfirst.hasApiKey', !!key);
    };
    void keyState();
    context.subscriptions.push(context.secrets.onDidChange(() => void keyState()));

    try {
        await pf.ready();
    } catch (e) {
        // VS Code shows nothing when activation fails: one message with the ways forward
        void reportServerNotStarted(e, log);
    }
}

/** Called on shutdown: stop the server. */
export async function deactivate(): Promise<void> {
    await planfirst?.stop();
    planfirst = undefined;
}
