/**
 * Client-side logic that does not need VS Code: server command resolution, the settings sent to
 * the server, plan ids from plan URIs, and the status bar text. Kept free of `vscode` imports so
 * that it can be unit-tested with node's test runner.
 */
import * as fs from 'fs';
import * as path from 'path';
import type { PlanSummary, StepRow } from './protocol';
import { undoStepOf } from './reviewLogic';

/** How the language server is started. */
export interface ServerCommand {
    command: string;
    args: string[];
}

/** The `planfirst.server.*` settings that decide how the server is started. */
export interface ServerSettings {
    command: string[];
    python: string;
}

/** Is `file` an executable regular file? */
export function isExecutable(file: string): boolean {
    try {
        fs.accessSync(file, fs.constants.X_OK);
        return fs.statSync(file).isFile();
    } catch {
        return false;
    }
}

/** The first executable `name` on `PATH`, or undefined. */
export function findOnPath(
    name: string,
    envPath: string | undefined = process.env.PATH,
    exists: (file: string) => boolean = isExecutable,
): string | undefined {
    for (const dir of (envPath ?? '').split(path.delimiter)) {
        if (!dir) {
            continue;
        }
        const candidate = path.join(dir, name);
        if (exists(candidate)) {
            return candidate;
        }
    }
    return undefined;
}

/** Replace `${workspaceFolder}`, `${userHome}` and a leading `~/` in one command-line word. */
export function expandVariables(word: string, workspaceFolder: string | undefined, home: string): string {
    let out = word.replace(/\$\{userHome\}/g, home);
    if (workspaceFolder !== undefined) {
        out = out.replace(/\$\{workspaceFolder\}/g, workspaceFolder);
    }
    if (out === '~' || out.startsWith('~/')) {
        out = home + out.slice(1);
    }
    return out;
}

/**
 * The server command line: the configured `planfirst.server.command` if set, else `planfirst serve`
 * when `planfirst` is on PATH, else `<python> -I -m planfirst serve` (python: the setting or `python3`).
 * `-I` keeps the workspace (the server's cwd) off `sys.path`: a repository that ships its own
 * `planfirst/` package cannot stand in for the server (docs/reliability.md case 26).
 */
export function resolveServerCommand(
    settings: ServerSettings,
    which: (name: string) => string | undefined,
    workspaceFolder: string | undefined,
    home: string,
): ServerCommand {
    const configured = settings.command
        .filter((w) => typeof w === 'string' && w.trim() !== '')
        .map((w) => expandVariables(w, workspaceFolder, home));
    if (configured.length > 0) {
        return { command: configured[0], args: configured.slice(1) };
    }
    const onPath = which('planfirst');
    if (onPath) {
        return { command: onPath, args: ['serve'] };
    }
    const python = settings.python.trim() ? expandVariables(settings.python.trim(), workspaceFolder, home) : 'python3';
    return { command: python, args: ['-I', '-m', 'planfirst', 'serve'] };
}

/** What `WorkspaceConfiguration.inspect` reports for one `planfirst.*` key (the parts we use). */
export interface SettingInspection {
    key: string;
    globalValue?: unknown;
    defaultValue?: unknown;
    workspaceValue?: unknown;
    workspaceFolderValue?: unknown;
}

/** Settings the extension itself uses; the server never sees them. */
export const CLIENT_ONLY_KEYS: ReadonlySet<string> = new Set(['server.command', 'server.python', 'trace.server', 'codeActions.onSelection', 'planView']);

/**
 * Settings that decide trust (where requests go, what may run): taken from the user's own settings
 * only, never from a workspace, because workspace files are untrusted (docs/reliability.md cases 15
 * and 23). Matched loosely (any casing, any nesting) so that no spelling slips through.
 */
export const USER_ONLY_KEYS: ReadonlySet<string> = new Set([
    'anthropic',
    'validation.allow',
    'anthropic.baseUrl',
    'anthropic.apiKey',
    // a cloned repository must not raise the user's spending limit, nor make models free
    'budget',
    'prices',
    // nor start processes (docs/reliability.md case 47)
    'mcp.servers',
]);

function isUserOnly(key: string): boolean {
    const k = key.toLowerCase();
    return (
        USER_ONLY_KEYS.has(key) ||
        /(^|\.)anthropic(\.|$)/.test(k) ||
        /(^|\.)(budget|prices|mcp)(\.|$)/.test(k) ||
        k.includes('allow') ||
        k.includes('approv')
    );
}

/**
 * A workspace setting can only narrow what the user set (docs/reliability.md case 37; the server
 * applies the same rule, settings.py `_narrow_only`, to the layers it can tell apart). Lists that
 * keep things from the model are the union of every scope, never replaced or emptied by a
 * workspace; the review rules that guard safety are turned off only in user settings; numbers
 * that spend money or widen what the model may do are lowered by a workspace, never raised.
 */
export const UNION_KEYS: ReadonlySet<string> = new Set(['context.exclude', 'lint.disabled']);
export const SAFETY_LINT_RULES: ReadonlySet<string> = new Set([
    'protected-file',
    'edits-validation-script',
    'validation-not-allowed',
    'validation-shell-syntax',
    'validation-unparseable',
    'misleading-name',
]);
export const CEILING_KEYS: ReadonlySet<string> = new Set([
    'context.tokenBudget',
    'context.maxFileBytes',
    'execution.maxAttempts',
    'execution.maxToolTurns',
    'planning.maxExploreTurns',
    'planning.maxReasks',
    'critique.maxTurns',
]);

/**
 * Settings the server narrows itself (settings.py `_narrow_models`, `_narrow_thinking`): a model
 * no dearer than the user's, spending switches off not on, thinking lowered not raised. In
 * `initializationOptions` (the user's layer) only the user's own value goes: a repository's
 * `"planfirst.planningModel"` sent there was taken as the user's choice. The workspace's value
 * reaches the server in the `workspace/configuration` answer, where it is narrowed and reported.
 */
export function narrowedByServer(key: string): boolean {
    return (
        ['planningModel', 'executionModel', 'critique.model', 'critique.enabled', 'critique.tighten', 'planning.lintFeedback'].includes(key) ||
        key.startsWith('thinking.')
    );
}

function narrowOnly(it: SettingInspection, value: unknown): unknown {
    if (UNION_KEYS.has(it.key)) {
        const user: unknown[] = Array.isArray(it.globalValue) ? (it.globalValue as unknown[]) : [];
        const merged: unknown[] = [...user];
        for (const scope of [it.workspaceValue, it.workspaceFolderValue]) {
            for (const v of Array.isArray(scope) ? (scope as unknown[]) : []) {
                const safety = it.key === 'lint.disabled' && SAFETY_LINT_RULES.has(String(v));
                if (!merged.includes(v) && !safety) {
                    merged.push(v);
                }
            }
        }
        return merged;
    }
    if (CEILING_KEYS.has(it.key) && typeof value === 'number' && value !== it.globalValue) {
        const cap = typeof it.globalValue === 'number' ? it.globalValue : it.defaultValue;
        if (typeof cap === 'number' && value > cap) {
            return it.globalValue; // the workspace may lower it, not raise it (unset: the server's default)
        }
    }
    return value;
}

function isUnset(value: unknown): boolean {
    return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

function setNested(target: Record<string, unknown>, dotted: string, value: unknown): void {
    const parts = dotted.split('.');
    let cur = target;
    for (const part of parts.slice(0, -1)) {
        const next = cur[part];
        if (typeof next !== 'object' || next === null || Array.isArray(next)) {
            cur[part] = {};
        }
        cur = cur[part] as Record<string, unknown>;
    }
    cur[parts[parts.length - 1]] = value;
}

/**
 * The `planfirst` settings object sent to the server (in `initializationOptions.planfirst` and as
 * the `planfirst` section of `workspace/configuration`). Only values somebody set explicitly are
 * sent, so the server's own defaults and environment still apply; empty strings and empty lists
 * mean "default". The API key (from SecretStorage) goes to `anthropic.apiKey` when given. Only
 * the extension's declared settings (`declared`, without the `planfirst.` prefix) are forwarded:
 * anything else in a settings file, such as `planfirst.planfirst.anthropic.baseUrl`, is dropped.
 * `userOnly` false leaves the user-only keys out altogether (the workspace/configuration answer).
 */
export function buildServerSettings(
    inspections: SettingInspection[],
    apiKey: string | undefined,
    declared: ReadonlySet<string>,
    userOnly = true,
): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    const sorted = [...inspections].sort((a, b) => a.key.localeCompare(b.key));
    for (const it of sorted) {
        if (!declared.has(it.key) || CLIENT_ONLY_KEYS.has(it.key) || it.key.startsWith('server.') || it.key === 'anthropic.apiKey') {
            continue;
        }
        if (!userOnly && isUserOnly(it.key)) {
            // the answer to workspace/configuration, which the server reads as a workspace layer
            // and drops trust keys from (with a warning): they came in initializationOptions
            continue;
        }
        let value = isUserOnly(it.key) || (userOnly && narrowedByServer(it.key))
            ? it.globalValue
            : [it.workspaceFolderValue, it.workspaceValue, it.globalValue].find((v) => !isUnset(v));
        if (it.key === 'preview' && value === 'editor' && it.globalValue !== 'editor') {
            // turning planfirst's own preview off (edits unseen in editors without one): user settings only
            value = it.globalValue;
        }
        value = narrowOnly(it, value);
        if (isUnset(value)) {
            continue;
        }
        setNested(out, it.key, value);
    }
    if (apiKey) {
        setNested(out, 'anthropic.apiKey', apiKey);
    }
    return out;
}

/**
 * The settings a manifest's `contributes.configuration` declares, without the `planfirst.`
 * prefix: one object, or an array of groups (Models, Budget, … in the Settings editor).
 */
export function declaredSettings(configuration: unknown): string[] {
    const groups = Array.isArray(configuration) ? configuration : [configuration];
    return groups.flatMap((g) =>
        Object.keys((g as { properties?: Record<string, unknown> } | undefined)?.properties ?? {}).map((k) => k.replace(/^planfirst\./, '')),
    );
}

/** Every leaf key (dotted, arrays are leaves) of a settings object such as `getConfiguration('planfirst')`. */
export function leafKeys(obj: unknown, prefix = ''): string[] {
    if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
        return prefix ? [prefix] : [];
    }
    const keys: string[] = [];
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
        if (typeof v === 'function') {
            continue;
        }
        const dotted = prefix ? `${prefix}.${k}` : k;
        if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length > 0) {
            keys.push(...leafKeys(v, dotted));
        } else {
            keys.push(dotted);
        }
    }
    return keys;
}

/**
 * The plan id in a plan document URI, or undefined: the virtual `planfirst:/plans/<id>.md`, or the
 * file the server keeps in the workspace, `.planfirst/plans/<id>/plan.md`.
 */
export function planIdFromUri(uri: string): string | undefined {
    const virtual = /^planfirst:(?:\/\/[^/]*)?\/plans\/([^/?#]+?)(?:\.md)?(?:[?#].*)?$/.exec(uri);
    const file = /^file:\/\/.*\/\.planfirst\/plans\/([^/?#]+)\/plan\.md$/.exec(uri);
    const m = virtual ?? file;
    return m ? decodeURIComponent(m[1]) : undefined;
}

/**
 * Is `uri` a plan's document (which opens rendered, in one tab), not a revision of it, a step's
 * diff or another file the server shows?
 */
export function isPlanDocument(uri: string): boolean {
    return planIdFromUri(uri) !== undefined;
}

/** One entry of `planfirst.listPlans`, and a step of it (generated from the server's protocol source). */
export type { PlanSummary, StepRow };

/** Plan statuses after which there is nothing left to do. */
const FINISHED = /^(done|completed?|finished|cancell?ed|abandoned)$/i;

/**
 * Which plan a command without an explicit plan should act on: the preferred one (the plan document
 * in the active editor, else the plan of the last status update) if it exists, else the only
 * unfinished plan, else the only plan. `undefined` means "ask the user" (or there is none).
 */
export function choosePlan(plans: PlanSummary[], preferred: (string | undefined)[]): string | undefined {
    for (const id of preferred) {
        if (id && plans.some((p) => p.id === id)) {
            return id;
        }
    }
    const open = plans.filter((p) => !FINISHED.test(p.status));
    if (open.length === 1) {
        return open[0].id;
    }
    if (plans.length === 1) {
        return plans[0].id;
    }
    return undefined;
}

/** Params of the server's `planfirst/status` notification. */
export interface PlanStatus {
    planId: string;
    title?: string;
    /** the plan's status: planning, draft, approved, executing, done, failed */
    status: string;
    /** the next step not yet done (null when all are done) */
    step?: number | null;
    total: number;
    done: number;
    failed: number;
    /** what the server is doing with this plan right now, if anything */
    busy?: string | null;
    /**
     * `busy` is another planfirst process's (a terminal, another editor): it is cancelled there,
     * the server here refuses Cancel (#33)
     */
    elsewhere?: boolean;
    /** what the plan has cost so far and the estimate of its steps, in US dollars */
    cost?: { spent: number; estimate?: [number, number] | null; model?: string | null } | null;
}

/**
 * "busy in another planfirst: executing step 1; cancel it there …" when another planfirst process
 * (a terminal, another editor) runs the plan, else undefined: Cancel here cannot stop it (#33).
 */
export function busyElsewhere(s: PlanStatus | undefined): string | undefined {
    return s?.busy && s.elsewhere ? `busy ${s.busy}; cancel it there (the terminal or the other editor), not here` : undefined;
}

/** `$0.032 spent · estimate $0.018–$0.10 on claude-sonnet-5-5` (empty without figures). */
export function costLine(c: PlanStatus['cost']): string {
    if (!c || typeof c.spent !== 'number') {
        return '';
    }
    const usd = (x: number) => `$${x >= 1 ? x.toFixed(2) : x.toPrecision(2)}`;
    const est = c.estimate ? ` · estimate ${usd(c.estimate[0])}–${usd(c.estimate[1])}${c.model ? ` on ${c.model}` : ''}` : '';
    // what was spent includes planning; the estimate is of the steps only (#33)
    return `cost: ${usd(c.spent)} spent so far (planning included)${est ? `${est} for the steps` : ''}`;
}

/** Status bar text, tooltip and severity for a `planfirst/status` update. */
export interface StatusView {
    text: string;
    tooltip: string;
    severity: 'normal' | 'warning' | 'error';
}

/** Render a `planfirst/status` update for the status bar, e.g. `planfirst: 2 of 5 done`. */
export function formatStatus(s: PlanStatus): StatusView {
    const status = (s.status || '').toLowerCase();
    const total = Math.max(0, s.total | 0);
    const done = Math.max(0, s.done | 0);
    const failed = Math.max(0, s.failed | 0);
    const next = typeof s.step === 'number' && s.step > 0 ? s.step : Math.min(total, done + 1);
    const name = s.title || s.planId;
    const tooltip =
        `planfirst: ${name}\n${s.status}: ${done} of ${total} steps done` +
        (failed ? `, ${failed} failed` : '') +
        (s.busy ? `\nnow: ${s.busy}` : '') +
        (busyElsewhere(s) ? `\n${busyElsewhere(s)}` : '') +
        (costLine(s.cost) ? `\n${costLine(s.cost)}` : '') +
        '\nClick for the actions.';
    const steps = `${total} step${total === 1 ? '' : 's'}`;
    if (status === 'planning') {
        return { text: 'planfirst: $(sync~spin) planning', tooltip, severity: 'normal' };
    }
    if (busyElsewhere(s)) {
        return { text: 'planfirst: $(lock) busy in another planfirst', tooltip, severity: 'normal' };
    }
    if (s.busy) {
        return { text: `planfirst: $(sync~spin) step ${next} of ${total}`, tooltip, severity: 'normal' };
    }
    if (status === 'failed' || failed > 0) {
        return { text: `planfirst: step ${next} of ${total} failed`, tooltip, severity: 'error' };
    }
    if (status === 'draft') {
        // a draft is the normal state of a fresh plan: neutral, not a warning
        return { text: `planfirst: draft · ${steps}`, tooltip, severity: 'normal' };
    }
    if (status === 'done' || (total > 0 && done >= total)) {
        return { text: `planfirst: ✓ ${done} of ${total} done`, tooltip, severity: 'normal' };
    }
    if (done === 0) {
        // approved, nothing running yet: not "executing"
        const word = status === 'executing' || status === 'approved' ? 'approved' : status || 'plan';
        return { text: `planfirst: ${word} · 0 of ${total} done`, tooltip, severity: 'normal' };
    }
    return { text: `planfirst: ${done} of ${total} done`, tooltip, severity: 'normal' };
}

/**
 * A quick command that shows whether the server command can start: the same command line with
 * `--version` in place of `serve` and what follows it (`python -I -m planfirst --version`,
 * `planfirst --version`). Undefined when the command has no `serve` word (nothing safe to probe).
 */
export function probeCommand(cmd: ServerCommand): ServerCommand | undefined {
    const i = cmd.args.indexOf('serve');
    if (i < 0) {
        return path.basename(cmd.command).startsWith('planfirst') && cmd.args.length === 0
            ? { command: cmd.command, args: ['--version'] }
            : undefined;
    }
    return { command: cmd.command, args: [...cmd.args.slice(0, i), '--version'] };
}

/** A command line for messages: words with spaces quoted. */
export function commandLine(cmd: ServerCommand): string {
    return [cmd.command, ...cmd.args].map((w) => (/[\s"']/.test(w) ? JSON.stringify(w) : w)).join(' ');
}

/**
 * Why a probe failed, in one line: the OS error (`not found`, `not executable`) or the last
 * meaningful line of stderr (`No module named planfirst`).
 */
export function explainProbeFailure(errno: string | undefined, exitCode: number | null | undefined, stderr: string): string {
    if (errno === 'ENOENT') {
        return 'command not found';
    }
    if (errno === 'EACCES') {
        return 'not executable';
    }
    if (errno === 'ETIMEDOUT') {
        return 'did not answer within the time limit';
    }
    const lines = stderr
        .split(/\r?\n/)
        .map((l) => l.trim())
        .filter((l) => l && !/^Traceback|^File "|^\^+$/.test(l));
    const last = lines[lines.length - 1];
    if (last) {
        // "/usr/bin/python3: No module named planfirst" -> "No module named planfirst"
        return last.replace(/^\S*python[\d.]*:\s*/, '').slice(0, 300);
    }
    return exitCode !== null && exitCode !== undefined ? `exited with code ${exitCode}` : (errno ?? 'failed');
}

/** One entry of the status bar's quick pick: a palette command and how it reads there. */
export interface ActionItem {
    command: string;
    label: string;
    detail?: string;
}

/**
 * The actions that make sense now, the most likely next one first: what the status bar item offers
 * (and what the plan document's title bar shows as its next action).
 */
export function validActions(s: PlanStatus | undefined, reviewPending = false, reviewTitle?: string): ActionItem[] {
    const out: ActionItem[] = [];
    const status = (s?.status ?? '').toLowerCase();
    const total = Math.max(0, (s?.total ?? 0) | 0);
    const done = Math.max(0, (s?.done ?? 0) | 0);
    const next = typeof s?.step === 'number' && s.step > 0 ? s.step : done < total ? done + 1 : undefined;
    if (reviewPending) {
        const undo = undoStepOf(reviewTitle);
        out.push(
            { command: 'planfirst.ui.showReview', label: '$(diff) Show the step review' },
            ...(undo !== undefined
                ? [
                      { command: 'planfirst.ui.applyReview', label: `$(discard) Undo step ${undo}` },
                      { command: 'planfirst.ui.chooseReviewFiles', label: '$(checklist) Undo some files…' },
                      { command: 'planfirst.ui.discardReview', label: `$(close) Keep step ${undo} (do not undo)` },
                  ]
                : [
                      { command: 'planfirst.ui.applyReview', label: '$(check) Apply the step edit' },
                      { command: 'planfirst.ui.chooseReviewFiles', label: '$(checklist) Apply some files…' },
                      { command: 'planfirst.ui.discardReview', label: '$(discard) Discard the step edit' },
                  ]),
        );
    }
    if (busyElsewhere(s)) {
        // another planfirst process runs it: Cancel here is refused; it can only be looked at (#33)
        out.push({ command: 'planfirst.ui.showPlan', label: '$(book) Show plan', detail: busyElsewhere(s) });
    } else if (s && (s.busy || status === 'planning')) {
        out.push({ command: 'planfirst.ui.cancel', label: '$(stop) Cancel', detail: s.busy ?? 'planning' });
    } else if (s) {
        if (status === 'done') {
            // after the last step, the changes to look at come first (not "Undo last step")
            out.push({ command: 'planfirst.ui.reviewPlanChanges', label: '$(diff-multiple) Review all changes of the plan' });
        }
        if (status === 'draft') {
            out.push({ command: 'planfirst.ui.approvePlan', label: '$(check) Approve plan' });
        }
        // the server runs no step of a draft (not approved) nor of a finished plan: no Retry there
        const runs = status !== 'draft' && status !== 'planning' && !FINISHED.test(status);
        if (s.failed > 0 && runs) {
            out.push({ command: 'planfirst.ui.retryStep', label: '$(refresh) Retry the failed step (asks the model again)' });
        } else if (s.failed === 0 && runs && next !== undefined) {
            out.push({ command: 'planfirst.ui.executeNextStep', label: `$(play) Execute step ${next}` });
        } else if (s.failed === 0 && runs && total > 0 && done >= total) {
            // every step done, the plan not: its test criteria have not run (a revision that
            // changed only them, a cancel while they ran) or failed; Execute runs them
            out.push({ command: 'planfirst.ui.executeNextStep', label: '$(beaker) Finish the plan: run its test criteria' });
        }
        // a finished plan can be revised too (to add a step): the revision keeps what ran
        out.push({ command: 'planfirst.ui.revisePlan', label: '$(edit) Revise plan…' });
        if (done > 0 || s.failed > 0) {
            out.push({ command: 'planfirst.ui.undoLastStep', label: '$(discard) Undo last step' });
        }
        out.push(
            { command: 'planfirst.ui.showPlan', label: '$(book) Show plan' },
            { command: 'planfirst.ui.editPlan', label: '$(go-to-file) Edit plan.md' },
            { command: 'planfirst.ui.reloadPlan', label: '$(sync) Reload plan (after editing plan.md)' },
        );
    }
    out.push(
        { command: 'planfirst.ui.generatePlan', label: '$(add) Plan a new change…' },
        { command: 'planfirst.ui.setApiKey', label: '$(key) Set Anthropic API key' },
        { command: 'planfirst.ui.showLog', label: '$(output) Show log' },
        { command: 'planfirst.ui.restartServer', label: '$(debug-restart) Restart server' },
    );
    return out;
}

/** Log levels of the extension's output channel. */
export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error';

const PY_LEVELS: Record<string, LogLevel> = { DEBUG: 'debug', INFO: 'info', WARNING: 'warn', ERROR: 'error', CRITICAL: 'error' };

/**
 * The level of one server stderr line (`2026-12-01 10:00:00,123 INFO httpx: …`, the server's log
 * format); a line without one (a traceback's continuation) keeps the previous line's level.
 */
/** A server log line without its own timestamp and level (the output channel adds both). */
export function serverLogText(line: string): string {
    return line.replace(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) /, '');
}

export function serverLogLevel(line: string, previous: LogLevel = 'info'): LogLevel {
    const m = /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[,.]\d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) /.exec(line);
    return m ? PY_LEVELS[m[1]] : previous;
}

/**
 * The context keys the package.json `when` clauses read: the palette shows only the commands that
 * apply to the plan in front (the last status), the title bar its next action.
 */
export function planContext(s: PlanStatus | undefined, reviewPending = false): Record<string, boolean> {
    const ids = new Set(validActions(s, reviewPending).map((a) => a.command));
    const first = validActions(s, false)[0]?.command;
    return {
        'planfirst.hasPlan': s !== undefined,
        'planfirst.canApprove': first === 'planfirst.ui.approvePlan',
        'planfirst.canExecute': ids.has('planfirst.ui.executeNextStep'),
        'planfirst.canRetry': ids.has('planfirst.ui.retryStep'),
        'planfirst.canUndo': ids.has('planfirst.ui.undoLastStep'),
        'planfirst.busy': first === 'planfirst.ui.cancel',
        'planfirst.planDone': first === 'planfirst.ui.reviewPlanChanges',
    };
}

/** How a plan or a step reads in the Plans view; `context` drives its inline actions. */
export interface TreeView {
    label: string;
    description: string;
    tooltip: string;
    icon: string;
    context: string;
}

const STEP_ICONS: Record<string, string> = {
    done: 'pass',
    failed: 'error',
    running: 'sync~spin',
    applied: 'circle-filled',
    undone: 'discard',
    pending: 'circle-outline',
};

/** Characters of a Plans view label: a longer title is cut (at a word) so the description shows. */
export const TREE_LABEL_CHARS = 40;

/** `text` cut to `max` characters at a word boundary, with "…"; the full text goes in the tooltip. */
export function shortLabel(text: string, max = TREE_LABEL_CHARS): string {
    const t = text.replace(/\s+/g, ' ').trim();
    if (t.length <= max) {
        return t;
    }
    const cut = t.slice(0, max - 1);
    const space = cut.lastIndexOf(' ');
    return `${(space >= max / 2 ? cut.slice(0, space) : cut).replace(/[\s,.;:·-]+$/, '')}…`;
}

/** "left out a.py; in part b.py" for a step whose review applied only part of its edit. */
export function partlyApplied(step: StepRow): string {
    const parts: string[] = [];
    if (step.leftOut?.length) {
        parts.push(`left out ${step.leftOut.join(', ')}`);
    }
    if (step.appliedInPart?.length) {
        parts.push(`in part ${step.appliedInPart.join(', ')}`);
    }
    return parts.join('; ');
}

/**
 * Is something running on the plan, in this process or another planfirst (`elsewhere` alone,
 * without a `busy` text, counts too)? Then its rows offer no action until it ends.
 */
function planBusy(p: PlanSummary): boolean {
    return Boolean(p.busy) || p.elsewhere === true;
}

/** A plan's row: its title (short), "status · n of m done", and what it offers inline. */
export function planTreeView(p: PlanSummary): TreeView {
    const total = p.steps?.total ?? 0;
    const done = p.steps?.done ?? 0;
    const failed = p.steps?.failed ?? 0;
    const status = (p.status || '').toLowerCase();
    // "executing" is the stored state of an approved plan with steps to go, whether or not a step
    // runs now (a running step shows on its own row): the row says "approved" (#33)
    const parts = [status === 'executing' ? 'approved' : status || 'plan', `${done} of ${total} done`];
    if (failed) {
        parts.push(`${failed} failed`);
    }
    if (planBusy(p)) {
        // running here, or in another planfirst process: no action is offered until it ends
        parts.push(p.busy || 'in another planfirst'); // "in another planfirst: executing step 2" when elsewhere
    }
    let context = 'plan';
    if (planBusy(p)) {
        context = 'plan-busy';
    } else if (status === 'draft') {
        context = 'plan-draft';
    } else if (!FINISHED.test(status) && status !== 'planning' && failed === 0 && total > 0) {
        // Execute runs the next step or, every step done but the plan not, its test criteria
        context = 'plan-ready';
    }
    if (context !== 'plan-busy' && (p.stepList ?? []).some((s) => s.status === 'applied' || s.status === 'running')) {
        // a step caught mid-way (its edit applied, not validated; running after a killed server):
        // the server refuses to revise the plan until Execute validates it or Undo reverts it
        context += '-midway';
    }
    return {
        label: shortLabel(p.title || p.id),
        description: parts.join(' · '),
        tooltip: `${p.title || p.id}\n${parts.join(' · ')}\n${p.id} · revision ${p.revision}${p.active ? ' · active' : ''}`,
        icon: status === 'draft' ? 'note' : FINISHED.test(status) ? 'pass-filled' : failed ? 'warning' : 'checklist',
        context,
    };
}

/**
 * The statuses in which the plan's next step (the first not done) is run by Execute Next Step:
 * pending, undone, or applied and not yet validated (Execute resumes its validation).
 */
const NEXT_RUNNABLE: ReadonlySet<string> = new Set(['pending', 'undone', 'applied']);

/**
 * A step's row: "N · first line", its status, and its inline actions: Execute on the next step of
 * an approved plan, Retry on a failed step of it, Undo on the step the server's undo accepts (the
 * one whose edit landed last, a failed step too; a server without `undoable` in its rows: the last
 * done step). None on a busy plan; package.json's menus read the `context` (test/menus.test.ts).
 */
export function stepTreeView(p: PlanSummary, step: StepRow): TreeView {
    const steps = p.stepList ?? [];
    const status = (step.status || 'pending').toLowerCase();
    const plan = (p.status || '').toLowerCase();
    const next = steps.find((s) => s.status !== 'done');
    let undoable: boolean;
    if (steps.some((s) => s.undoable !== undefined)) {
        undoable = step.undoable === true;
    } else {
        const withEdit = steps.filter((s) => s.status === 'done' || s.status === 'applied' || s.status === 'failed');
        undoable = withEdit.length > 0 && withEdit[withEdit.length - 1].order === step.order && status === 'done';
    }
    // the server runs no step of a draft (not approved) nor of a finished plan
    const runs = plan !== 'draft' && plan !== 'planning' && !FINISHED.test(plan);
    let context = 'step';
    if (planBusy(p)) {
        // the plan is busy (here or in another window): Execute, Retry and Undo would be refused
    } else if (status === 'failed' && runs) {
        // a failed step's edit stays on disk (it did not pass): Undo as well when it landed last
        context = undoable ? 'step-failed-undoable' : 'step-failed';
    } else if (next?.order === step.order && NEXT_RUNNABLE.has(status) && runs && !steps.some((s) => s.status === 'failed')) {
        context = undoable ? 'step-next-undoable' : 'step-next';
    } else if (undoable) {
        context = 'step-undoable';
    }
    const partly = partlyApplied(step);
    const description = [status, ...(step.needsRedo ? ['needs redo'] : []), ...(partly ? ['partly applied'] : [])];
    return {
        label: `${step.order} · ${shortLabel(step.title)}`,
        description: description.join(' · '),
        tooltip: `Step ${step.order} (${description.join(' · ')})\n${step.title}${partly ? `\nPartly applied: ${partly}` : ''}`,
        icon: STEP_ICONS[status] ?? 'circle-outline',
        context,
    };
}

/**
 * The rendered plan's tab title: the plan's title (from the status, else the document's first
 * heading without "Plan: "), shortened; never the file name.
 */
export function renderedPlanTitle(text: string, s?: PlanStatus): string {
    const heading = /^#\s+(?:Plan:\s*)?(.+)$/m.exec(text)?.[1]?.trim();
    const title = (s?.title || heading || 'plan').replace(/`/g, '').trim();
    return title.length > 60 ? `${title.slice(0, 59).trimEnd()}…` : title;
}
