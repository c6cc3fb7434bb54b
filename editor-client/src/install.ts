/**
 * "Install planfirst…" (the walkthrough's first step, and the server-missing message): `pip install`
 * the server into a Python you choose — a new `.venv` of the workspace, an interpreter found, or a
 * path — with no planfirst checkout, then use that interpreter (`planfirst.server.python`, which
 * restarts the server). pip's output goes to the log; a failure says why in one line.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { commandLine, findOnPath, ServerCommand } from './logic';
import { DEFAULT_SPEC, installCommands, pipFailure, pipSpecProblem } from './installLogic';
import { candidateInterpreters } from './serverCheck';

const INSTALL_TIMEOUT_MS = 10 * 60 * 1000;

/** Run one install command, its output to the log; undefined when it worked, else why not. */
function run(cmd: ServerCommand, cwd: string | undefined, log: vscode.LogOutputChannel, token: vscode.CancellationToken): Promise<string | undefined> {
    return new Promise((resolve) => {
        log.info(`install: ${commandLine(cmd)}`);
        const child = execFile(cmd.command, cmd.args, { cwd, timeout: INSTALL_TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
            for (const line of `${stdout}${stderr}`.split(/\r?\n/).filter(Boolean).slice(-40)) {
                log.info(`install: ${line}`);
            }
            if (!err) {
                resolve(undefined);
            } else if (token.isCancellationRequested) {
                resolve('cancelled');
            } else {
                const e = err as NodeJS.ErrnoException;
                resolve(e.code === 'ENOENT' ? `${cmd.command} was not found` : pipFailure(String(stderr || stdout || err.message)));
            }
        });
        token.onCancellationRequested(() => child.kill());
    });
}

/** Ask where to install; undefined when the user backed out. */
async function pickTarget(folder: string | undefined, log: vscode.LogOutputChannel): Promise<{ python: string; venv?: string } | undefined> {
    type Item = vscode.QuickPickItem & { python?: string; venv?: string; enter?: boolean };
    const items: Item[] = [];
    const base = findOnPath('python3') ?? findOnPath('python');
    const venv = folder ? path.join(folder, '.venv') : undefined;
    if (base && venv && !fs.existsSync(venv)) {
        items.push({ label: '$(add) New .venv in this workspace', description: `made with ${base}`, python: base, venv });
    }
    for (const py of await candidateInterpreters(folder, log)) {
        items.push({ label: py, description: 'install into this interpreter', python: py });
    }
    items.push({ label: 'Enter interpreter path…', alwaysShow: true, enter: true });
    const pick = await vscode.window.showQuickPick(items, {
        title: 'planfirst: install the server into which Python?',
        placeHolder: 'A virtual environment is best (a system Python may refuse pip: PEP 668)',
        ignoreFocusOut: true,
    });
    if (!pick) {
        return undefined;
    }
    if (pick.enter) {
        const py = (await vscode.window.showInputBox({ title: 'planfirst: Python interpreter', prompt: 'Full path of the python executable', ignoreFocusOut: true }))?.trim();
        return py ? { python: py } : undefined;
    }
    return pick.python ? { python: pick.python, venv: pick.venv } : undefined;
}

/** The whole command: where, what, install, then use it. True when the server was installed. */
export async function installServer(log: vscode.LogOutputChannel): Promise<boolean> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const target = await pickTarget(folder, log);
    if (!target) {
        return false;
    }
    const spec = await vscode.window.showInputBox({
        title: 'planfirst: what to install',
        prompt: 'A package (planfirst from your package index), a wheel file or a folder with planfirst',
        value: DEFAULT_SPEC,
        validateInput: pipSpecProblem,
        ignoreFocusOut: true,
    });
    if (spec === undefined || pipSpecProblem(spec)) {
        return false;
    }
    const plan = installCommands(target.python, spec, target.venv);
    const why = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `planfirst: installing ${spec.trim()}`, cancellable: true },
        async (progress, token) => {
            for (const step of plan.steps) {
                progress.report({ message: commandLine(step) });
                const failed = await run(step, folder, log, token);
                if (failed) {
                    return `\`${commandLine(step)}\`: ${failed}`;
                }
            }
            return undefined;
        },
    );
    if (why) {
        log.error(`install: ${why}`);
        void vscode.window.showErrorMessage(`planfirst: the server was not installed: ${why}`, 'Show Log').then((c) => c && log.show());
        return false;
    }
    // the server runs with this interpreter from now on (a settings change restarts it)
    await vscode.workspace.getConfiguration('planfirst').update('server.python', plan.python, vscode.ConfigurationTarget.Global);
    vscode.window.setStatusBarMessage(`planfirst: installed into ${plan.python}`, 8000);
    return true;
}
