/**
 * planfirst for VS Code: starts the planfirst language server and wires the palette commands, the
 * plan documents (`planfirst:` scheme, served by `workspace/textDocumentContent`), the status bar
 * and the API key in SecretStorage.
 */
import * as vscode from 'vscode';
import { PlanfirstClient, SECRET_KEY } from './client';
import { registerCommands } from './commands';
import { formatStatus } from './logic';

const RESTART_DELAY_MS = 1000;
let planfirst: PlanfirstClient | undefined;

/** Entry point: called once when VS Code activates the extension. */
export async function activate(context: vscode.ExtensionContext): Promise<void> {
    const log = vscode.window.createOutputChannel('planfirst', { log: true });
    const pf = new PlanfirstClient(context, log);
    planfirst = pf;

    const status = vscode.window.createStatusBarItem('planfirst.status', vscode.StatusBarAlignment.Left, 10);
    status.name = 'planfirst';
    status.command = 'planfirst.ui.showPlan';
    status.text = 'planfirst';
    status.tooltip = 'planfirst: no active plan';
    status.show();

    let restartTimer: NodeJS.Timeout | undefined;
    const scheduleRestart = (why: string): void => {
        clearTimeout(restartTimer);
        restartTimer = setTimeout(() => {
            log.info(`restarting the server: ${why}`);
            pf.restart().catch((e) => {
                log.error(`restart failed: ${String(e)}`);
                void vscode.window.showErrorMessage(`planfirst: the server did not restart: ${String(e)}`);
            });
        }, RESTART_DELAY_MS);
    };

    context.subscriptions.push(
        log,
        status,
        pf,
        ...registerCommands(pf, context),
        pf.onStatus((s) => {
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
        context.secrets.onDidChange((e) => {
            if (e.key === SECRET_KEY) {
                scheduleRestart('API key changed');
            }
        }),
        // plan documents are markdown (their URIs end in .md); make sure even if an association says otherwise
        vscode.workspace.onDidOpenTextDocument((doc) => {
            if (doc.uri.scheme === 'planfirst' && doc.languageId !== 'markdown') {
                void vscode.languages.setTextDocumentLanguage(doc, 'markdown');
            }
        }),
        { dispose: () => clearTimeout(restartTimer) },
    );

    try {
        await pf.ready();
    } catch (e) {
        // VS Code shows nothing when activation fails: say what happened and how to fix it
        log.error(`the server did not start: ${String(e)}`);
        void vscode.window
            .showErrorMessage(
                `planfirst: the language server did not start (${String(e)}). Install planfirst (pip install planfirst) or set "planfirst.server.command".`,
                'Show Log',
                'Open Settings',
            )
            .then((choice) => {
                if (choice === 'Show Log') {
                    log.show();
                } else if (choice === 'Open Settings') {
                    void vscode.commands.executeCommand('workbench.action.openSettings', 'planfirst.server');
                }
            });
    }
}

/** Called on shutdown: stop the server. */
export async function deactivate(): Promise<void> {
    await planfirst?.stop();
    planfirst = undefined;
}
