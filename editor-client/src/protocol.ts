/**
 * The planfirst protocol extensions, mirroring the server (`server/planfirst/lsp/`): custom
 * messages and the `workspace/executeCommand` commands with their single object argument.
 */
import { NotificationType, RequestType } from 'vscode-languageclient';
import type { PlanStatus, PlanSummary } from './logic';

/** Server → client after an applied edit: save these documents so the disk holds the approved text. */
export interface SaveDocumentsParams {
    uris: string[];
}
/** The documents whose disk content now matches the editor. */
export interface SaveDocumentsResult {
    saved: string[];
}
export const saveDocumentsRequest = new RequestType<SaveDocumentsParams, SaveDocumentsResult, void>(
    'planfirst/saveDocuments',
);

/** Server → client: progress of the active plan, for the status bar. */
export const statusNotification = new NotificationType<PlanStatus>('planfirst/status');

/** LSP Range as the server expects it. */
export interface LspRange {
    start: { line: number; character: number };
    end: { line: number; character: number };
}

/** The answer to executeNextStep, retryStep and undoStep. */
export interface StepOutcome {
    planId?: string;
    step: number | null;
    status: string;
    attempts?: number;
    problems?: number;
    message?: string;
    staleFiles?: string[];
}

/** Command ids and argument/result shapes of the server's commands (one object argument each). */
export interface ServerCommands {
    'planfirst.generatePlan': [{ task: string; uri?: string; range?: LspRange; files?: string[] }, { planId: string; uri: string; revision?: number }];
    'planfirst.revisePlan': [{ planId: string; feedback: string }, { planId: string; uri: string; revision: number }];
    'planfirst.approvePlan': [
        { planId: string; force?: boolean; executionModel?: string; preview?: boolean },
        {
            planId: string;
            status?: string;
            executionModel?: string;
            estimate?: { model: string; low: number; high: number; prices_date?: string } | null;
            choices?: { model: string; low: number; high: number }[];
        },
    ];
    'planfirst.executeNextStep': [{ planId?: string }, StepOutcome];
    'planfirst.retryStep': [{ planId?: string; step?: number }, StepOutcome];
    'planfirst.undoStep': [{ planId?: string; step?: number }, StepOutcome];
    'planfirst.showPlan': [{ planId?: string }, { planId?: string; uri: string }];
    'planfirst.listPlans': [Record<string, never>, PlanSummary[]];
    'planfirst.cancel': [{ planId?: string }, { cancelled: string[] }];
    'planfirst.reloadPlan': [{ planId: string }, { planId: string; revision: number; status: string }];
}
export type ServerCommandId = keyof ServerCommands;
