/**
 * The language client: starts `planfirst serve`, declares planfirst's experimental capability,
 * answers `planfirst/saveDocuments`, forwards `planfirst/status`, and restarts on demand.
 */
import * as os from 'os';
import * as readline from 'readline';
import type { Readable } from 'stream';
import * as vscode from 'vscode';
import {
    ApplyWorkspaceEditResult,
    CancellationToken,
    ClientCapabilities,
    ExecuteCommandRequest,
    FeatureState,
    LanguageClient,
    LanguageClientOptions,
    MessageType,
    ResponseError,
    RevealOutputChannelOn,
    ServerOptions,
    ShowMessageNotification,
    ShowMessageParams,
    StaticFeature,
    Trace,
    WorkDoneProgress,
    WorkDoneProgressCancelNotification,
    WorkDoneProgressCreateRequest,
} from 'vscode-languageclient/node';
import {
    buildServerSettings,
    declaredSettings,
    findOnPath,
    isPlanDocument,
    PlanStatus,
    resolveServerCommand,
    ServerCommand,
    SettingInspection,
    LogLevel,
    serverLogLevel,
    serverLogText,
} from './logic';
import { StepReview } from './review';
import { checkServer } from './serverCheck';
import {
    noticeNotification,
    NoticeParams,
    saveDocumentsRequest,
    SaveDocumentsParams,
    SaveDocumentsResult,
    ServerCommandId,
    ServerCommands,
    statusNotification,
} from './protocol';

export const SECRET_KEY = 'planfirst.anthropic.apiKey';

/**
 * Declares `experimental.planfirst`: `saveDocuments` (the server asks us to save instead of
 * writing files itself) and `notices` (what the user should act on arrives as `planfirst/notice`
 * with a reason, not as message text).
 */
class PlanfirstCapabilities implements StaticFeature {
    fillClientCapabilities(capabilities: ClientCapabilities): void {
        const experimental = (capabilities.experimental ?? {}) as Record<string, unknown>;
        experimental.planfirst = { saveDocuments: true, notices: true };
        capabilities.experimental = experimental;
    }
    initialize(): void {}
    getState(): FeatureState {
        return { kind: 'static' };
    }
    clear(): void {}
}

/** Read every `planfirst.*` setting the way the server should see it (user-only keys from user settings). */
export function readServerSettings(apiKey: string | undefined, scope?: vscode.Uri, userOnly = true): Record<string, unknown> {
    const config = vscode.workspace.getConfiguration('planfirst', scope);
    const manifest = vscode.extensions.getExtension('planfirst.planfirst')?.packageJSON as
        | { contributes?: { configuration?: unknown } }
        | undefined;
    const declared = declaredSettings(manifest?.contributes?.configuration);
    // only declared settings: an undeclared key (`planfirst.planfirst.anthropic.baseUrl` in a
    // workspace's settings.json) is never forwarded (docs/reliability.md case 23)
    const keys = new Set(declared);
    const inspections: SettingInspection[] = [];
    for (const key of keys) {
        const it = config.inspect(key);
        if (it) {
            inspections.push({
                key,
                globalValue: it.globalValue,
                defaultValue: it.defaultValue,
                workspaceValue: it.workspaceValue,
                workspaceFolderValue: it.workspaceFolderValue,
            });
        }
    }
    return buildServerSettings(inspections, apiKey, keys, userOnly);
}

/** The server command line from the settings (see `resolveServerCommand`). */
export function serverCommand(): ServerCommand {
    const config = vscode.workspace.getConfiguration('planfirst');
    const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    return resolveServerCommand(
        { command: config.get<string[]>('server.command') ?? [], python: config.get<string>('server.python') ?? '' },
        (name) => findOnPath(name),
        folder,
        os.homedir(),
    );
}

function readLines(input: Readable, each: (line: string) => void): void {
    readline.createInterface({ input, crlfDelay: Infinity, terminal: false, historySize: 0 }).on('line', each);
}

/** A `planfirst/notice`: the way forward for its reason, in VS Code's words. */
function showNotice(n: NoticeParams, log: vscode.LogOutputChannel): void {
    log.warn(`notice (${n.reason}): ${n.message}`);
    if (n.reason === 'no_key') {
        void vscode.window
            .showWarningMessage('planfirst needs an Anthropic API key to plan and execute. Set it now? (kept in VS Code\'s SecretStorage)', 'Set API Key…')
            .then((c) => c && vscode.commands.executeCommand('planfirst.ui.setApiKey'));
        return;
    }
    void vscode.window.showWarningMessage(`planfirst: ${n.message.replace(/^planfirst:\s*/, '')}`);
}

/** The server's messages, at their level. */
function showServerMessage(m: ShowMessageParams): void {
    const show =
        m.type === MessageType.Error
            ? vscode.window.showErrorMessage
            : m.type === MessageType.Warning
              ? vscode.window.showWarningMessage
              : vscode.window.showInformationMessage;
    void show(m.message);
}

async function exists(uri: vscode.Uri): Promise<boolean> {
    try {
        await vscode.workspace.fs.stat(uri);
        return true;
    } catch {
        return false;
    }
}

/** Save the given documents (after the server's edit was applied) and report which now match the disk. */
export async function saveDocuments(params: SaveDocumentsParams, log: vscode.LogOutputChannel): Promise<SaveDocumentsResult> {
    const saved: string[] = [];
    for (const raw of params.uris ?? []) {
        try {
            const uri = vscode.Uri.parse(raw);
            const isOpen = vscode.workspace.textDocuments.some((d) => d.uri.toString() === uri.toString());
            if (!isOpen && !(await exists(uri))) {
                // a new file left out in the review: the disk holds what the user applied (nothing)
                saved.push(raw);
                continue;
            }
            const doc =
                vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()) ??
                (await vscode.workspace.openTextDocument(uri));
            const ok = doc.isDirty ? await doc.save() : true;
            if (ok && !doc.isDirty) {
                saved.push(raw);
            } else {
                log.warn(`planfirst/saveDocuments: could not save ${raw}`);
            }
        } catch (e) {
            log.error(`planfirst/saveDocuments: ${raw}: ${String(e)}`);
        }
    }
    return { saved };
}

/** What the server is doing, for the status bar. */
export interface ServerState {
    state: 'starting' | 'running' | 'failed' | 'stopped';
    detail?: string;
}

/** A command the server is working on (its work-done progress), for the plan view and its Cancel. */
export interface Work {
    token: string;
    title: string;
    message: string;
    percentage?: number;
    /** false once it ended */
    active: boolean;
}

/** Owns the running LanguageClient; `restart()` replaces it with one built from the current settings. */
/** Server commands that code lenses and code actions send without the text only a person can give. */
const ASK_FOR: Record<string, { key: string; title: string; prompt: string } | undefined> = {
    'planfirst.revisePlan': { key: 'feedback', title: 'planfirst: Revise Plan', prompt: 'What should change in the plan?' },
    'planfirst.generatePlan': { key: 'task', title: 'planfirst: Plan a change for this selection', prompt: 'What should change?' },
};

/** A server command id as a person reads it: `planfirst.executeNextStep` → "Execute Next Step". */
export function commandTitle(command: string): string {
    return command
        .replace(/^planfirst\./, '')
        .replace(/([a-z])([A-Z])/g, '$1 $2')
        .replace(/^./, (c) => c.toUpperCase());
}

/** Server commands that send a step's edit for review while they run. */
const STEP_COMMANDS: ReadonlySet<string> = new Set(['planfirst.executeNextStep', 'planfirst.retryStep', 'planfirst.undoStep']);

export class PlanfirstClient implements vscode.Disposable {
    private client: LanguageClient | undefined;
    private starting: Promise<LanguageClient> | undefined;
    private readonly statusEmitter = new vscode.EventEmitter<PlanStatus>();
    /** Fires for each `planfirst/status` notification. */
    readonly onStatus = this.statusEmitter.event;
    private readonly stateEmitter = new vscode.EventEmitter<ServerState>();
    /** Fires when the server starts, runs, fails to start or stops. */
    readonly onServerState = this.stateEmitter.event;
    private readonly workEmitter = new vscode.EventEmitter<Work>();
    /** Fires when a server command's progress begins, reports and ends. */
    readonly onWork = this.workEmitter.event;
    private readonly works = new Map<string, Work>();
    /** The server commands in progress now (begun, not ended). */
    get working(): Work[] {
        return [...this.works.values()];
    }
    /** The API key the running server was started with (a restart is only needed when it changes). */
    startedWithKey: string | undefined;

    /** How a failed server command run from a code lens or code action is reported (commands.ts). */
    onCommandError: ((name: string, e: unknown, again: () => void) => void) | undefined;

    /** Called when the server shows a plan document (window/showDocument): true when the rendered
     * view showed it (the source is then not opened as a second tab). */
    onPlanShown: ((uri: string) => Promise<boolean>) | undefined;

    /** The step review that planfirst's previewed edits open in (see review.ts). */
    readonly review: StepReview;

    constructor(
        private readonly context: vscode.ExtensionContext,
        readonly log: vscode.LogOutputChannel,
    ) {
        this.review = new StepReview(log);
    }

    /** The running client, starting it if needed. */
    async ready(): Promise<LanguageClient> {
        if (this.client?.isRunning()) {
            return this.client;
        }
        if (!this.starting) {
            this.starting = this.start().finally(() => {
                this.starting = undefined;
            });
        }
        return this.starting;
    }

    private async start(): Promise<LanguageClient> {
        const apiKey = await this.context.secrets.get(SECRET_KEY);
        const settings = readServerSettings(apiKey);
        const cmd = serverCommand();
        const folder = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
        this.log.info(`starting server: ${cmd.command} ${cmd.args.join(' ')}${folder ? ` (cwd ${folder})` : ''}`);
        this.stateEmitter.fire({ state: 'starting' });
        try {
            // a missing server gives one clear message, not the client's crash loop
            await checkServer(cmd, folder);
        } catch (e) {
            this.stateEmitter.fire({ state: 'failed', detail: e instanceof Error ? e.message : String(e) });
            throw e;
        }
        const serverOptions: ServerOptions = {
            command: cmd.command,
            args: cmd.args,
            options: { cwd: folder, env: { ...process.env } },
        };
        const clientOptions: LanguageClientOptions = {
            documentSelector: [{ scheme: 'file' }, { scheme: 'untitled' }, { scheme: 'planfirst' }],
            outputChannel: this.log,
            traceOutputChannel: this.log,
            revealOutputChannelOn: RevealOutputChannelOn.Never,
            initializationOptions: { planfirst: settings },
            // server log lines at their real level (the client would show all of stderr as [error])
            stdioOptions: {
                stdout: (input, channel) => readLines(input, (line) => channel.info(line)),
                stderr: (input, channel) => {
                    let level: LogLevel = 'info';
                    readLines(input, (line) => {
                        level = serverLogLevel(line, level);
                        channel[level](serverLogText(line)); // one timestamp: the channel's
                    });
                },
            },
            middleware: {
                window: {
                    // a plan document the server shows opens rendered only (planfirst.planView): one
                    // tab per plan, its "Open Source" button opens the markdown (#33)
                    showDocument: async (params, token, next) => {
                        if (isPlanDocument(params.uri) && this.onPlanShown) {
                            const shown = await this.onPlanShown(params.uri).catch((e) => {
                                this.log.warn(`rendered plan: ${String(e)}`);
                                return false;
                            });
                            if (shown) {
                                return { success: true };
                            }
                        }
                        return next(params, token);
                    },
                },
                // a plan's info notes are already in the plan (its step and its review findings):
                // no squiggle on every step heading and no second copy in Problems for them
                handleDiagnostics: (uri, diagnostics, next) =>
                    next(
                        uri,
                        uri.scheme === 'planfirst'
                            ? diagnostics.filter((d) => d.severity !== vscode.DiagnosticSeverity.Information && d.severity !== vscode.DiagnosticSeverity.Hint)
                            : diagnostics,
                    ),
                // "Plan a change for this selection…" only when asked for (Ctrl+., the lightbulb
                // menu), not as a lightbulb on every selection in every file, unless the setting says so
                provideCodeActions: async (document, range, context, token, next) => {
                    const always = vscode.workspace.getConfiguration('planfirst').get<boolean>('codeActions.onSelection');
                    if (!always && context.triggerKind === vscode.CodeActionTriggerKind.Automatic && document.uri.scheme !== 'planfirst') {
                        return [];
                    }
                    return next(document, range, context, token);
                },
                // Code lenses and the selection code action carry the server's commands without
                // the free text only a person can give: ask for it here with an input box.
                // A failure is answered like a palette command's (by data.reason: Set API Key…,
                // Retry), not with the client's generic "Request … failed".
                executeCommand: async (command, args, next) => {
                    const arg = (args[0] ?? {}) as Record<string, unknown>;
                    const ask = ASK_FOR[command];
                    let sent = args;
                    if (ask && !arg[ask.key]) {
                        const text = await vscode.window.showInputBox({ title: ask.title, prompt: ask.prompt, ignoreFocusOut: true });
                        if (!text?.trim()) {
                            return undefined;
                        }
                        sent = [{ ...arg, [ask.key]: text.trim() }];
                    }
                    const once = (): Promise<unknown> => this.closingReview(command, () => Promise.resolve(next(command, sent) as unknown));
                    const attempt = async (): Promise<unknown> => {
                        try {
                            return await once();
                        } catch (e) {
                            if (!this.onCommandError) {
                                throw e;
                            }
                            this.onCommandError(commandTitle(command), e, () => void attempt());
                            return undefined;
                        }
                    };
                    return attempt();
                },
                workspace: {
                    // step edits open in planfirst's review (Apply applies the whole step), not in
                    // the Refactor Preview, where needsConfirmation edits start unticked
                    handleApplyEdit: (params, next) =>
                        this.review.handle(params, async (p) => (await next(p, CancellationToken.None)) as ApplyWorkspaceEditResult),
                    // the server reads section `planfirst`: answer with the same filtered view
                    // (user-only keys from user settings, no key), never the raw workspace values
                    configuration: async (params, token, next) => {
                        const result: unknown = await next(params, token);
                        if (!Array.isArray(result)) {
                            return result as ResponseError<void>;
                        }
                        const values = result as unknown[];
                        return params.items.map((item, i): unknown =>
                            item.section === 'planfirst'
                                ? readServerSettings(undefined, item.scopeUri ? vscode.Uri.parse(item.scopeUri) : undefined, false)
                                : values[i],
                        );
                    },
                },
            },
        };
        const client = new LanguageClient('planfirst', 'planfirst', serverOptions, clientOptions);
        client.registerFeature(new PlanfirstCapabilities());
        client.onRequest(saveDocumentsRequest, (params) => saveDocuments(params, this.log));
        client.onNotification(statusNotification, (params) => this.statusEmitter.fire(params));
        client.onNotification(ShowMessageNotification.type, (params) => showServerMessage(params));
        client.onNotification(noticeNotification, (params) => showNotice(params, this.log));
        this.client = client;
        try {
            await client.start();
        } catch (e) {
            this.stateEmitter.fire({ state: 'failed', detail: e instanceof Error ? e.message : String(e) });
            throw e;
        }
        // the server's progress: in the status bar as before, and to the plan view (live progress
        // and its Cancel button) through onWork; replaces the client's own handler
        client.onRequest(WorkDoneProgressCreateRequest.type, ({ token }) => this.track(client, String(token)));
        this.startedWithKey = apiKey;
        this.stateEmitter.fire({ state: 'running' });
        const trace = vscode.workspace.getConfiguration('planfirst').get<string>('trace.server') ?? 'off';
        await client.setTrace(Trace.fromString(trace));
        const advertised = client.initializeResult?.capabilities.workspace as { textDocumentContent?: unknown } | undefined;
        if (!advertised?.textDocumentContent) {
            this.log.warn('the server does not advertise workspace/textDocumentContent: plan documents will not open');
        }
        this.log.info('server started');
        return client;
    }

    /** Follow one server-created progress token until it ends. */
    private track(client: LanguageClient, token: string): void {
        let finish: (() => void) | undefined;
        const ended = new Promise<void>((resolve) => (finish = resolve));
        const work: Work = { token, title: '', message: '', active: true };
        const end = (): void => {
            work.active = false;
            this.works.delete(token);
            sub.dispose();
            finish?.();
            this.workEmitter.fire({ ...work });
        };
        const sub = client.onProgress(WorkDoneProgress.type, token, (v) => {
            if (v.kind === 'begin') {
                work.title = v.title;
                work.message = v.message ?? '';
                work.percentage = v.percentage;
                this.works.set(token, work);
                void vscode.window.withProgress(
                    { location: vscode.ProgressLocation.Window, title: v.title, cancellable: v.cancellable },
                    (progress, cancel) => {
                        cancel.onCancellationRequested(() => this.cancelWork(token));
                        progress.report({ message: work.message });
                        const each = this.onWork((w) => {
                            if (w.token === token && w.active) {
                                progress.report({ message: w.message });
                            }
                        });
                        return ended.finally(() => {
                            each.dispose();
                        });
                    },
                );
            } else if (v.kind === 'report') {
                work.message = v.message ?? work.message;
                work.percentage = v.percentage ?? work.percentage;
            } else {
                end();
                return;
            }
            this.workEmitter.fire({ ...work });
        });
        this.trackedEnds.add(end);
        void ended.then(() => this.trackedEnds.delete(end));
    }

    private readonly trackedEnds = new Set<() => void>();

    /** Cancel a server command through its progress token (what the progress's Cancel does). */
    cancelWork(token: string): void {
        void this.client?.sendNotification(WorkDoneProgressCancelNotification.type, { token });
    }

    /** Run one of the server's commands with its single object argument. */
    async command<K extends ServerCommandId>(id: K, arg: ServerCommands[K][0], token?: vscode.CancellationToken): Promise<ServerCommands[K][1]> {
        const client = await this.ready();
        this.log.debug(`-> ${id} ${JSON.stringify(arg).slice(0, 500)}`);
        const result = await this.closingReview(
            id,
            async () => (await client.sendRequest(ExecuteCommandRequest.type, { command: id, arguments: [arg] }, token)) as ServerCommands[K][1],
        );
        this.log.debug(`<- ${id} ${JSON.stringify(result)?.slice(0, 500)}`);
        return result;
    }

    /**
     * Run a step command; when it ends (done, failed, cancelled from its progress notification)
     * a review it opened can no longer be applied: close it, so nothing lands unrecorded.
     */
    private async closingReview<T>(command: string, run: () => Promise<T>): Promise<T> {
        if (!STEP_COMMANDS.has(command)) {
            return run();
        }
        const since = this.review.opened;
        try {
            return await run();
        } finally {
            this.review.discardOpenedAfter(since, 'the step ended before the review was decided');
        }
    }

    /** Stop the current server (if any) and start a new one with the current settings and key. */
    async restart(): Promise<void> {
        await this.stop();
        await this.ready();
    }

    /** Stop the server; a later `ready()` starts a new one. */
    async stop(): Promise<void> {
        this.review.discard('the server stopped');
        for (const end of [...this.trackedEnds]) {
            end(); // no answer will come from a stopped server: the plan view stops showing it
        }
        await this.starting?.catch(() => undefined);
        const client = this.client;
        this.client = undefined;
        if (client) {
            this.stateEmitter.fire({ state: 'stopped' });
            try {
                await client.stop(5000);
            } catch (e) {
                this.log.warn(`stopping the server: ${String(e)}`);
            }
        }
    }

    dispose(): void {
        this.review.dispose();
        void this.stop();
        this.statusEmitter.dispose();
        this.stateEmitter.dispose();
        this.workEmitter.dispose();
    }
}
