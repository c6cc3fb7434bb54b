/**
 * The palette commands ("planfirst: …"). Each asks the user what only the user can say (a task,
 * feedback, which plan) and calls one server command; none re-implements planfirst's logic.
 */
import * as vscode from 'vscode';
import { PlanfirstClient, SECRET_KEY } from './client';
import { PlanViews } from './planView';
import { PlanChanges } from './changes';
import { errorView } from './errors';
import { choosePlan, planIdFromUri, PlanStatus, validActions } from './logic';
import { installServer } from './install';
import { chooseInterpreter, reportServerNotStarted } from './serverCheck';
import type { GenerateParams, StepOutcome } from './protocol';

/** What the commands remember between calls: the last plan seen, to default sensibly. */
interface Memory {
    planId?: string;
    /** the last status update (for the status bar's quick pick and the plan's title bar) */
    status?: PlanStatus;
    /** the last task typed into Generate Plan (kept when it failed for want of an API key) */
    task?: string;
    /** a task to run without asking again (after "Set API Key") */
    rerunTask?: string;
}

let views: PlanViews | undefined;

/** The plan in front: the rendered plan that has the focus, else the plan document in the active editor. */
function activePlanId(): string | undefined {
    const rendered = views?.activePlanId();
    if (rendered) {
        return rendered;
    }
    const doc = vscode.window.activeTextEditor?.document;
    return doc ? planIdFromUri(doc.uri.toString()) : undefined;
}

/** The plan (and step) a command was given: a Plans view row, or `{ planId, step }`. */
function target(arg: unknown): { planId?: string; step?: number } {
    const a = (arg ?? {}) as { planId?: unknown; step?: unknown };
    return {
        planId: typeof a.planId === 'string' ? a.planId : undefined,
        step: typeof a.step === 'number' ? a.step : undefined,
    };
}

/** Register every palette command; returns their disposables. */
export function registerCommands(pf: PlanfirstClient, context: vscode.ExtensionContext, planViews?: PlanViews): vscode.Disposable[] {
    const memory: Memory = {};
    views = planViews;
    const changes = new PlanChanges();

    const remember = (s: PlanStatus): void => {
        memory.planId = s.planId;
        memory.status = s;
    };

    /** The plan to act on: the one in the active editor, the last one seen, the only open one, or ask. */
    const pickPlan = async (): Promise<string | undefined> => {
        const fromEditor = activePlanId();
        if (fromEditor) {
            return fromEditor;
        }
        const plans = await pf.command('planfirst.listPlans', {});
        const chosen = choosePlan(plans ?? [], [memory.planId]);
        if (chosen) {
            return chosen;
        }
        if (!plans || plans.length === 0) {
            void vscode.window.showWarningMessage('planfirst: there is no plan yet. Run "planfirst: Generate Plan…" first.');
            return undefined;
        }
        const item = await vscode.window.showQuickPick(
            plans.map((p) => ({
                label: p.title || p.id,
                description: `${p.status} · ${p.steps.done}/${p.steps.total} done${p.steps.failed ? ` · ${p.steps.failed} failed` : ''}`,
                detail: `${p.id} (revision ${p.revision})`,
                id: p.id,
            })),
            { placeHolder: 'Which plan?' },
        );
        return item?.id;
    };

    const openPlan = async (uri: string | undefined): Promise<void> => {
        if (!uri) {
            return;
        }
        const doc = await vscode.workspace.openTextDocument(vscode.Uri.parse(uri));
        if (doc.languageId !== 'markdown') {
            await vscode.languages.setTextDocumentLanguage(doc, 'markdown');
        }
        // one tab per plan: the rendered view, whose "Open Source" opens the markdown (#33)
        if (views && PlanViews.preferred() && (await views.show(uri))) {
            return;
        }
        await vscode.window.showTextDocument(doc, { preview: false });
    };

    /** Ask for the API key, store it in SecretStorage and restart the server with it; true when saved. */
    const setApiKey = async (why?: string): Promise<boolean> => {
        const key = await vscode.window.showInputBox({
            title: 'planfirst: Anthropic API key',
            prompt: `${why ? `${why} ` : ''}Stored in VS Code's SecretStorage and passed to the server when it starts; never written to settings. Empty: remove it.`,
            placeHolder: 'sk-ant-…',
            password: true,
            ignoreFocusOut: true,
        });
        if (key === undefined) {
            return false;
        }
        // the restart below starts the server with this key: tell the secret-change listener
        // first, or its own restart (debounced) races the re-run and cancels it
        pf.startedWithKey = key.trim() || undefined;
        if (key.trim()) {
            await context.secrets.store(SECRET_KEY, key.trim());
        } else {
            await context.secrets.delete(SECRET_KEY);
        }
        await pf.restart();
        vscode.window.setStatusBarMessage(key.trim() ? 'planfirst: API key saved' : 'planfirst: API key removed', 5000);
        return key.trim() !== '';
    };

    /**
     * Run a command body, turning errors into one message with a way forward, chosen by the
     * error's `data.reason` (errorView): Set API Key… re-runs what failed, Retry runs it again with
     * the same argument, a server that cannot start offers to choose the interpreter.
     */
    const handleError = async (name: string, e: unknown, again: () => void): Promise<void> => {
        const view = errorView(name, e);
        pf.log[view.level](`${name}: ${e instanceof Error ? e.message : String(e)}`);
        switch (view.kind) {
            case 'setKey': {
                const choice = await vscode.window.showErrorMessage(view.text, 'Set API Key…', 'Show Log');
                if (choice === 'Set API Key…' && (await setApiKey())) {
                    again();
                } else if (choice === 'Show Log') {
                    pf.log.show();
                }
                break;
            }
            case 'retry': {
                const choice = await vscode.window.showWarningMessage(view.text, 'Retry', 'Show Log');
                if (choice === 'Retry') {
                    again();
                } else if (choice === 'Show Log') {
                    pf.log.show();
                }
                break;
            }
            case 'serverNotStarted':
                void reportServerNotStarted(e, pf.log);
                break;
            case 'cancelled':
                vscode.window.setStatusBarMessage(view.text, 5000);
                break;
            case 'show':
                void vscode.window.showErrorMessage(view.text, 'Show Log').then((c) => c && pf.log.show());
                break;
        }
    };
    // code lenses and code actions run the server's commands directly: the same answers
    pf.onCommandError = (name, e, again) => void handleError(name, e, again);

    const run = (name: string, body: (arg?: unknown) => Promise<void>, rerun?: () => void) => {
        const wrapped = async (arg?: unknown): Promise<void> => {
            try {
                await body(arg);
            } catch (e) {
                await handleError(name, e, () => (rerun ? rerun() : void wrapped(arg)));
            }
        };
        return wrapped;
    };

    /** Open "Review all changes" of a plan; says so when the plan changed nothing. */
    const reviewPlanChanges = async (planId: string): Promise<void> => {
        const report = await pf.command('planfirst.planReport', { planId });
        if (!(await changes.show(report))) {
            void vscode.window.showInformationMessage('planfirst: the plan has changed no file (yet).');
        }
        if (report.omitted) {
            vscode.window.setStatusBarMessage(
                `planfirst: ${report.omitted} file(s) not shown (outside the workspace, excluded, or too large)`,
                8000,
            );
        }
    };

    /** After a step: when it finished the plan, the finish view and "Review all changes". */
    const maybeFinished = async (r: StepOutcome): Promise<void> => {
        if (!r.planId || r.status !== 'done') {
            return;
        }
        const report = await pf.command('planfirst.planReport', { planId: r.planId });
        if (report.status !== 'done') {
            return;
        }
        await views?.showFinish(report);
        const steps = report.steps.length;
        const choice = await vscode.window.showInformationMessage(
            `planfirst: "${report.title}" is done: ${steps} step${steps === 1 ? '' : 's'}, ${report.files.length} file(s) changed, $${report.costUsd.toFixed(4)}.`,
            'Review All Changes',
        );
        if (choice) {
            await changes.show(report);
        }
    };

    /** Tell the user how a step went: quietly when it is done, with a way to the problems when not. */
    const reportStep = (r: StepOutcome): void => {
        const problems = r.problems ?? 0;
        const what = r.step ? `step ${r.step}` : 'plan';
        const message = r.message?.trim() || `${what} ${r.status}`;
        if (/fail|error/i.test(r.status)) {
            void vscode.window
                .showWarningMessage(`planfirst: ${message} (${problems} problem${problems === 1 ? '' : 's'})`, 'Show Problems', 'Retry Step')
                .then((choice) => {
                    if (choice === 'Show Problems') {
                        void vscode.commands.executeCommand('workbench.actions.view.problems');
                    } else if (choice === 'Retry Step') {
                        void vscode.commands.executeCommand('planfirst.ui.retryStep');
                    }
                });
        } else if (r.status === 'rejected') {
            vscode.window.setStatusBarMessage(`planfirst: ${what} not applied; run Execute Next Step again or revise the plan`, 8000);
        } else {
            if (r.staleFiles?.length) {
                void vscode.window.showWarningMessage(
                    `planfirst: ${r.staleFiles.join(', ')} changed since the plan was made; the plan may be stale.`,
                );
            }
            vscode.window.setStatusBarMessage(`planfirst: ${message}`, 5000);
        }
    };

    const onStatus = pf.onStatus(remember);

    return [
        onStatus,
        vscode.commands.registerCommand(
            'planfirst.ui.generatePlan',
            run(
                'Generate Plan',
                async () => {
                // a server that cannot start says so before the user types a task
                await pf.ready();
                const again = memory.rerunTask;
                memory.rerunTask = undefined;
                const task =
                    again ??
                    (await vscode.window.showInputBox({
                        title: 'planfirst: Generate Plan',
                        prompt: 'What should be done? (the selection, if any, is sent as context)',
                        placeHolder: 'e.g. Add input validation to parse_config and tests for it',
                        value: memory.task,
                        ignoreFocusOut: true,
                    }));
                if (!task?.trim()) {
                    return;
                }
                memory.task = task.trim();
                const editor = vscode.window.activeTextEditor;
                const arg: GenerateParams = { task: task.trim() };
                if (editor && !editor.selection.isEmpty && editor.document.uri.scheme === 'file') {
                    const s = editor.selection;
                    arg.uri = editor.document.uri.toString();
                    arg.range = {
                        start: { line: s.start.line, character: s.start.character },
                        end: { line: s.end.line, character: s.end.character },
                    };
                }
                // the plan view opens now, with live progress and Cancel, and becomes the plan's
                const planning = views?.showPlanning(task.trim());
                try {
                    const r = await pf.command('planfirst.generatePlan', arg);
                    memory.planId = r.planId;
                    memory.task = undefined;
                    await openPlan(r.uri);
                } finally {
                    planning?.dispose();
                }
                },
                () => {
                    // after "Set API Key": the same task again, without typing it again
                    memory.rerunTask = memory.task;
                    void vscode.commands.executeCommand('planfirst.ui.generatePlan');
                },
            ),
        ),
        // the editor's context menu: the same as Generate Plan… (the selection goes as context)
        vscode.commands.registerCommand('planfirst.ui.planChange', () => vscode.commands.executeCommand('planfirst.ui.generatePlan')),
        vscode.commands.registerCommand(
            'planfirst.ui.revisePlan',
            run('Revise Plan', async (arg) => {
                const planId = target(arg).planId ?? (await pickPlan());
                if (!planId) {
                    return;
                }
                const feedback = await vscode.window.showInputBox({
                    title: 'planfirst: Revise Plan',
                    prompt: 'What should change in the plan?',
                    ignoreFocusOut: true,
                });
                if (!feedback?.trim()) {
                    return;
                }
                const r = await pf.command('planfirst.revisePlan', { planId, feedback: feedback.trim() });
                await openPlan(r.uri);
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.approvePlan',
            run('Approve Plan', async (arg) => {
                const planId = target(arg).planId ?? (await pickPlan());
                if (planId) {
                    const r = await pf.command('planfirst.approvePlan', { planId });
                    memory.planId = r.planId;
                    const est = r.estimate;
                    const cost = est ? ` · est. $${est.low.toFixed(3)}–$${est.high.toFixed(3)} on ${est.model}` : '';
                    vscode.window.setStatusBarMessage(`planfirst: plan ${r.status}${cost}`, 5000);
                }
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.approvePlanOnModel',
            run('Choose the Execution Model and Approve Plan', async () => {
                // the server estimates the plan on each model it offers; the choice runs every step
                const planId = await pickPlan();
                if (!planId) {
                    return;
                }
                const preview = await pf.command('planfirst.approvePlan', { planId, preview: true });
                const other = '$(edit) Another model…';
                const items = [
                    ...(preview.choices ?? []).map((c) => ({
                        label: c.model,
                        description: `est. $${c.low.toFixed(3)}–$${c.high.toFixed(3)}`,
                    })),
                    { label: other, description: '' },
                ];
                const picked = await vscode.window.showQuickPick(items, {
                    title: 'planfirst: the model that runs the steps',
                    placeHolder: `Estimated cost of the plan's steps on each model (prices of ${preview.estimate?.prices_date ?? '?'})`,
                    ignoreFocusOut: true,
                });
                let model = picked?.label;
                if (model === other) {
                    model = (await vscode.window.showInputBox({ title: 'planfirst: model id', ignoreFocusOut: true }))?.trim();
                }
                if (!model) {
                    return;
                }
                const r = await pf.command('planfirst.approvePlan', { planId, executionModel: model });
                memory.planId = r.planId;
                const est = r.estimate;
                const cost = est ? ` · est. $${est.low.toFixed(3)}–$${est.high.toFixed(3)}` : '';
                vscode.window.setStatusBarMessage(`planfirst: plan ${r.status} on ${r.executionModel ?? model}${cost}`, 5000);
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.executeNextStep',
            run('Execute Next Step', async (arg) => {
                const planId = target(arg).planId ?? activePlanId() ?? memory.planId;
                const r = await pf.command('planfirst.executeNextStep', planId ? { planId } : {});
                reportStep(r);
                await maybeFinished(r);
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.retryStep',
            run('Retry Step', async (arg) => {
                // without a step number the server retries the plan's first failed (or pending) step
                const { step } = target(arg);
                const planId = target(arg).planId ?? (await pickPlan());
                if (planId) {
                    const r = await pf.command('planfirst.retryStep', step ? { planId, step } : { planId });
                    reportStep(r);
                    await maybeFinished(r);
                }
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.undoLastStep',
            run('Undo Last Step', async (arg) => {
                // without a step number the server undoes the last applied step (previewed like any edit)
                const { step } = target(arg);
                const planId = target(arg).planId ?? (await pickPlan());
                if (planId) {
                    reportStep(await pf.command('planfirst.undoStep', step ? { planId, step } : { planId }));
                }
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.showPlan',
            run('Show Plan', async (arg) => {
                const planId = target(arg).planId ?? activePlanId() ?? memory.planId;
                const r = await pf.command('planfirst.showPlan', planId ? { planId } : {});
                await openPlan(r?.uri);
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.cancel',
            run('Cancel', async () => {
                const planId = activePlanId() ?? memory.planId;
                await pf.command('planfirst.cancel', planId ? { planId } : {});
                pf.review.discard('cancelled');
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.restartServer',
            run('Restart Server', async () => {
                if (pf.review.pending) {
                    // a restart ends the step the review belongs to: its edit would be lost unseen
                    const choice = await vscode.window.showWarningMessage(
                        'planfirst: a step edit is waiting for your review. Restarting the server discards it (nothing is applied; Execute offers it again).',
                        { modal: true },
                        'Restart Anyway',
                        'Show Step Review',
                    );
                    if (choice === 'Show Step Review') {
                        await pf.review.show();
                        return;
                    }
                    if (choice !== 'Restart Anyway') {
                        return;
                    }
                }
                await pf.restart();
                vscode.window.setStatusBarMessage('planfirst: server restarted', 5000);
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.setApiKey',
            run('Set Anthropic API Key', async () => {
                await setApiKey();
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.editPlan',
            run('Edit Plan', async (arg) => {
                const planId = target(arg).planId ?? (await pickPlan());
                const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
                if (!planId || !folder) {
                    return;
                }
                // where the server keeps plans (the `planfirst.plansDir` setting, workspace-relative)
                const dir = vscode.workspace.getConfiguration('planfirst').get<string>('plansDir') || '.planfirst/plans';
                const file = vscode.Uri.joinPath(folder, ...dir.split(/[\\/]+/).filter(Boolean), planId, 'plan.md');
                await vscode.window.showTextDocument(await vscode.workspace.openTextDocument(file), { preview: false });
                void vscode.window.showInformationMessage(
                    'planfirst: edit the plan, save it, then run "planfirst: Reload Plan" (a new revision, to approve again).',
                );
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.reloadPlan',
            run('Reload Plan', async () => {
                const planId = await pickPlan();
                if (!planId) {
                    return;
                }
                const active = vscode.window.activeTextEditor?.document;
                if (active?.isDirty && planIdFromUri(active.uri.toString()) === planId) {
                    await active.save();
                }
                const r = await pf.command('planfirst.reloadPlan', { planId });
                vscode.window.setStatusBarMessage(`planfirst: plan reloaded as revision ${r.revision} (${r.status})`, 8000);
                const shown = await pf.command('planfirst.showPlan', { planId });
                await openPlan(shown?.uri);
            }),
        ),
        vscode.commands.registerCommand(
            'planfirst.ui.actions',
            run('Actions', async () => {
                const items = validActions(memory.status, pf.review.pending, pf.review.pendingTitle).map((a) => ({ ...a, description: a.detail }));
                const pick = await vscode.window.showQuickPick(items, {
                    title: memory.status ? `planfirst: ${memory.status.title || memory.status.planId}` : 'planfirst',
                    placeHolder: 'What next?',
                });
                if (pick) {
                    await vscode.commands.executeCommand(pick.command);
                }
            }),
        ),
        vscode.commands.registerCommand('planfirst.ui.chooseInterpreter', async () => {
            const before = vscode.workspace.getConfiguration('planfirst').get<string>('server.python');
            const py = await chooseInterpreter(pf.log);
            if (py && py === before) {
                await pf.restart().catch((e) => reportServerNotStarted(e, pf.log)); // same setting: no change event
            }
        }),
        vscode.commands.registerCommand('planfirst.ui.installServer', async () => {
            const before = vscode.workspace.getConfiguration('planfirst').get<string>('server.python');
            const after = (await installServer(pf.log)) ? vscode.workspace.getConfiguration('planfirst').get<string>('server.python') : undefined;
            if (after && after === before) {
                await pf.restart().catch((e) => reportServerNotStarted(e, pf.log)); // same setting: no change event
            }
        }),
        vscode.commands.registerCommand('planfirst.ui.serverProblem', async () => {
            try {
                await pf.ready();
                vscode.window.setStatusBarMessage('planfirst: the server is running', 5000);
            } catch (e) {
                await reportServerNotStarted(e, pf.log);
            }
        }),
        vscode.commands.registerCommand('planfirst.ui.showLog', () => pf.log.show()),
        vscode.commands.registerCommand(
            'planfirst.ui.reviewPlanChanges',
            run('Review All Changes', async (arg) => {
                const planId = target(arg).planId ?? activePlanId() ?? (await pickPlan());
                if (planId) {
                    await reviewPlanChanges(planId);
                }
            }),
        ),
        changes,
    ];
}
