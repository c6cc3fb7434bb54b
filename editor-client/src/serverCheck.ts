/**
 * Before the language client starts: does the server command run at all? If not, one message
 * names the command and its error, with "Install planfirst…" (pip install into a Python you
 * choose, see install.ts), "Choose Python Interpreter…" (the Python extension's
 * environments when it is installed, the workspace's virtual environments, or a path you give),
 * "Open Settings" (remote settings in a remote window: the server settings are machine-scoped)
 * and "Show Log", instead of the client's crash loop of generic errors.
 */
import { execFile } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { commandLine, explainProbeFailure, findOnPath, isExecutable, probeCommand, ServerCommand } from './logic';

const PROBE_TIMEOUT_MS = 20000;

/** The server command cannot start; `detail` says why in one line. */
export class ServerNotStarted extends Error {
    constructor(
        readonly cmd: ServerCommand,
        readonly detail: string,
    ) {
        super(`\`${commandLine(cmd)}\`: ${detail}`);
        this.name = 'ServerNotStarted';
    }
}

/** Run a probe command; undefined when it worked, else why not. */
export function runProbe(cmd: ServerCommand, cwd: string | undefined): Promise<string | undefined> {
    return new Promise((resolve) => {
        execFile(cmd.command, cmd.args, { cwd, timeout: PROBE_TIMEOUT_MS, env: process.env }, (err, _stdout, stderr) => {
            if (!err) {
                resolve(undefined);
                return;
            }
            const e = err as NodeJS.ErrnoException & { killed?: boolean; code?: string | number };
            const errno = e.killed ? 'ETIMEDOUT' : typeof e.code === 'string' ? e.code : undefined;
            resolve(explainProbeFailure(errno, typeof e.code === 'number' ? e.code : null, String(stderr ?? '')));
        });
    });
}

/** Throws ServerNotStarted when the server command cannot run (see `probeCommand`). */
export async function checkServer(cmd: ServerCommand, cwd: string | undefined): Promise<void> {
    const probe = probeCommand(cmd);
    if (!probe) {
        return;
    }
    const why = await runProbe(probe, cwd);
    if (why) {
        throw new ServerNotStarted(cmd, why);
    }
}

interface PythonEnvironmentsApi {
    environments?: {
        known?: readonly { path: string }[];
        getActiveEnvironmentPath?: (resource?: vscode.Uri) => { path: string } | undefined;
    };
}

/** Interpreters worth offering: the Python extension's, the workspace's venvs, python3 on PATH. */
export async function candidateInterpreters(folder: string | undefined, log: vscode.LogOutputChannel): Promise<string[]> {
    const found: string[] = [];
    const ext = vscode.extensions.getExtension<PythonEnvironmentsApi>('ms-python.python');
    if (ext) {
        try {
            const api = ext.isActive ? ext.exports : await ext.activate();
            const active = api?.environments?.getActiveEnvironmentPath?.(vscode.workspace.workspaceFolders?.[0]?.uri);
            if (active?.path) {
                found.push(active.path);
            }
            for (const env of api?.environments?.known ?? []) {
                found.push(env.path);
            }
        } catch (e) {
            log.warn(`the Python extension's environments are not available: ${String(e)}`);
        }
    }
    if (folder) {
        for (const venv of ['.venv', 'venv', 'env', '.env']) {
            const py = path.join(folder, venv, 'bin', 'python');
            if (isExecutable(py)) {
                found.push(py);
            }
        }
    }
    for (const name of ['python3', 'python']) {
        const py = findOnPath(name);
        if (py) {
            found.push(py);
        }
    }
    // an environment path from the Python extension may be the environment's folder
    const interpreters = found.map((p) => (fs.existsSync(p) && fs.statSync(p).isDirectory() ? path.join(p, 'bin', 'python') : p));
    return [...new Set(interpreters)];
}

/**
 * "Choose Python Interpreter…": pick (or type) the Python that has planfirst installed; it is saved
 * as `planfirst.server.python` (which restarts the server). Returns the chosen path.
 */
export async function chooseInterpreter(log: vscode.LogOutputChannel): Promise<string | undefined> {
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    const candidates = await candidateInterpreters(folder, log);
    const probes = await Promise.all(
        candidates.map(async (py) => ({ py, why: await runProbe({ command: py, args: ['-I', '-m', 'planfirst', '--version'] }, folder) })),
    );
    const ENTER = 'Enter interpreter path…';
    const BROWSE = 'Browse…';
    type Item = vscode.QuickPickItem & { py?: string };
    const items: Item[] = [
        ...probes
            .sort((a, b) => Number(a.why !== undefined) - Number(b.why !== undefined))
            .map((p) => ({
                label: p.py,
                description: p.why === undefined ? '$(check) planfirst installed' : `planfirst not usable: ${p.why}`,
                py: p.py,
            })),
        { label: ENTER, alwaysShow: true },
        { label: BROWSE, alwaysShow: true },
    ];
    const pick = await vscode.window.showQuickPick(items, {
        title: 'planfirst: the Python interpreter that has planfirst installed',
        placeHolder: 'e.g. the .venv of this project after `pip install -e .`, or a venv with `pip install planfirst`',
        ignoreFocusOut: true,
    });
    if (!pick) {
        return undefined;
    }
    let py = pick.py;
    if (pick.label === ENTER) {
        py = (
            await vscode.window.showInputBox({
                title: 'planfirst: Python interpreter',
                prompt: 'Full path of the python executable of the environment where planfirst is installed',
                placeHolder: '/home/me/project/.venv/bin/python',
                ignoreFocusOut: true,
            })
        )?.trim();
    } else if (pick.label === BROWSE) {
        const uris = await vscode.window.showOpenDialog({ canSelectMany: false, openLabel: 'Use this Python', title: 'planfirst: Python interpreter' });
        py = uris?.[0]?.fsPath;
    }
    if (!py) {
        return undefined;
    }
    const config = vscode.workspace.getConfiguration('planfirst');
    await config.update('server.python', py, vscode.ConfigurationTarget.Global);
    if ((config.get<string[]>('server.command') ?? []).length > 0) {
        void vscode.window.showWarningMessage(
            'planfirst: "planfirst.server.command" is set and wins over the interpreter; clear it to use the chosen Python.',
            'Open Settings',
        ).then((c) => c && openServerSettings());
    }
    return py;
}

/** The settings editor at planfirst's server settings (the remote machine's in a remote window). */
export function openServerSettings(): void {
    const command = vscode.env.remoteName ? 'workbench.action.openRemoteSettings' : 'workbench.action.openSettings';
    void vscode.commands.executeCommand(command, 'planfirst.server');
}

/** The one message shown when the server cannot start, with the ways forward. */
let reporting: string | undefined;

/**
 * One message for a server that does not start, with the ways to fix it. The same message is not
 * shown twice at once (the first command activates the extension, which starts the server too).
 */
export async function reportServerNotStarted(e: unknown, log: vscode.LogOutputChannel): Promise<void> {
    const text =
        e instanceof ServerNotStarted
            ? `planfirst: the language server cannot start: ${e.message}. Choose the Python interpreter where planfirst is installed.`
            : `planfirst: the language server did not start: ${e instanceof Error ? e.message : String(e)}`;
    if (reporting === text) {
        return;
    }
    log.error(text);
    const CHOOSE = 'Choose Python Interpreter…';
    const INSTALL = 'Install planfirst…';
    reporting = text;
    let choice: string | undefined;
    try {
        choice = await vscode.window.showErrorMessage(text, INSTALL, CHOOSE, 'Open Settings', 'Show Log');
    } finally {
        reporting = undefined;
    }
    if (choice === INSTALL) {
        // pip install into a Python you choose (a new .venv, say): no checkout needed
        await vscode.commands.executeCommand('planfirst.ui.installServer');
    } else if (choice === CHOOSE) {
        // a new planfirst.server.python restarts the server (settings change)
        await chooseInterpreter(log);
    } else if (choice === 'Open Settings') {
        openServerSettings();
    } else if (choice === 'Show Log') {
        log.show();
    }
}
