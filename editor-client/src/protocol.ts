/**
 * The planfirst protocol extensions: custom messages, and the `workspace/executeCommand` commands
 * with their single object argument and result. The commands' block is GENERATED from the one
 * source, `server/planfirst/lsp/protocol.py` (`python -m planfirst.lsp.protocol --write
 * editor-client/src/protocol.ts`); tests/test_protocol_source.py fails when it drifts.
 */
import { NotificationType, RequestType } from 'vscode-languageclient';
import type { PlanStatus } from './logic';

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

/** Server → client: something the user should act on, with a reason the editor branches on. */
export interface NoticeParams {
    /** e.g. `no_key`: no Anthropic API key is set */
    reason: string;
    message: string;
}
export const noticeNotification = new NotificationType<NoticeParams>('planfirst/notice');

/** `data` of a planfirst error response: `reason` is the error's code (server/planfirst/errors.py). */
export interface ErrorData {
    reason?: string;
}

// BEGIN GENERATED from server/planfirst/lsp/protocol.py (do not edit by hand)
/** planfirst.approvePlan: `preview` only returns the estimate; approves nothing. */
export interface ApproveParams {
    planId?: string | null;
    force?: boolean;
    executionModel?: string | null;
    preview?: boolean;
    revision?: number | null;
}

/** The approved plan; with `preview`, only the estimate and the choices. */
export interface ApproveResult {
    planId: string;
    status?: string;
    executionModel?: string;
    estimate?: CostFigure | null;
    choices?: CostFigure[];
    preview?: boolean;
}

/** The plans whose running operation was cancelled. */
export interface CancelResult {
    cancelled: string[];
}

/** planfirst.diffPlan: two revisions of a plan (default: the last two). */
export interface DiffParams {
    planId?: string | null;
    from?: number | null;
    to?: number | null;
}

/** The revision diff document and its text. */
export interface DiffResult {
    planId: string;
    from: number;
    to: number;
    uri: string | null;
    diff: string;
}

/** planfirst.generatePlan: the task, and the selection or files it is about. */
export interface GenerateParams {
    task?: string;
    uri?: string | null;
    range?: LspRange | null;
    files?: string[];
}

/** The new plan and its document. */
export interface GenerateResult {
    planId: string;
    uri: string;
    revision: number;
    findings: number;
}

/** A command without parameters (an empty object). */
export type NoParams = Record<string, never>;

/** A command about one plan (default: the active plan). */
export interface PlanParams {
    planId?: string | null;
}

/** planfirst.planReport: per step attempts, tokens, cost and time, and every file the plan changed with its text at the plan's start (for "Review all changes"). */
export interface PlanReport {
    planId: string;
    title: string;
    status: string;
    steps: StepReport[];
    costUsd: number;
    seconds: number;
    files: ChangedFile[];
    omitted: number;
}

/** One row of listPlans. */
export interface PlanSummary {
    id: string;
    title: string;
    status: string;
    revision: number;
    steps: StepCounts;
    uri?: string;
    active?: boolean;
    stepList?: StepRow[];
    busy?: string | null;
    elsewhere?: boolean;
}

/** The preview applied or discarded. */
export interface PreviewDecision {
    planId: string;
    step: number;
    attempt: number;
    applied: boolean;
}

/** planfirst.applyPreview / discardPreview: which waiting preview (default: the newest). */
export interface PreviewParams {
    planId?: string | null;
    step?: number | null;
    attempt?: number | null;
}

/** planfirst.revisePlan: feedback, and optionally the only steps to change. */
export interface ReviseParams {
    planId: string;
    feedback?: string;
    steps?: (number | string)[];
}

/** What a revision (revisePlan, reloadPlan) changed and what it needs from the user. */
export interface RevisionResult {
    planId: string;
    revision: number;
    changes: RevisionChange[];
    needsApproval: number[];
    needsRedo: number[];
    notAskedFor: string[];
    undoOrder: string[];
    uri?: string;
    status?: string;
}

/** The plan document shown. */
export interface ShowResult {
    planId: string;
    uri: string;
}

/** The answer to executeNextStep, retryStep and undoStep. */
export interface StepOutcome {
    planId: string | null;
    step: number | null;
    status: string;
    attempts: number;
    problems: number;
    message: string;
    staleFiles: string[];
}

/** A command about one step (default: the step the command picks). */
export interface StepParams {
    planId?: string | null;
    step?: number | null;
}

/** A file the plan changed: its text when the plan started and now (null: absent). */
export interface ChangedFile {
    path: string;
    uri: string;
    before: string | null;
    after: string | null;
}

/** A cost range on one model, in US dollars. */
export interface CostFigure {
    model: string;
    low: number;
    high: number;
    prices_date?: string;
}

/** An LSP range. */
export interface LspRange {
    start: Position;
    end: Position;
}

/** One step a revision changed. */
export interface RevisionChange {
    id: string;
    before: number | null;
    after: number | null;
    kinds: string[];
}

/** How many steps a plan has, has done and has failed. */
export interface StepCounts {
    total: number;
    done: number;
    failed: number;
}

/** One step of a plan's closing report (the terminal's summary table). */
export interface StepReport {
    order: number;
    title: string;
    status: string;
    attempts: number;
    inputTokens: number;
    outputTokens: number;
    costUsd: number;
    seconds: number;
    validation: string;
}

/** One step of a listed plan. */
export interface StepRow {
    order: number;
    status: string;
    title: string;
    needsRedo?: boolean;
    hasEdit?: boolean;
    undoable?: boolean;
    leftOut?: string[];
    appliedInPart?: string[];
}

/** An LSP position (zero-based). */
export interface Position {
    line: number;
    character: number;
}

/** Command ids and argument/result shapes of the server's commands (one object argument each). */
export interface ServerCommands {
    'planfirst.generatePlan': [GenerateParams, GenerateResult];
    'planfirst.revisePlan': [ReviseParams, RevisionResult];
    'planfirst.diffPlan': [DiffParams, DiffResult];
    'planfirst.approvePlan': [ApproveParams, ApproveResult];
    'planfirst.executeNextStep': [PlanParams, StepOutcome];
    'planfirst.retryStep': [StepParams, StepOutcome];
    'planfirst.undoStep': [StepParams, StepOutcome];
    'planfirst.showPlan': [PlanParams, ShowResult];
    'planfirst.listPlans': [NoParams, PlanSummary[]];
    'planfirst.planReport': [PlanParams, PlanReport];
    'planfirst.applyPreview': [PreviewParams, PreviewDecision];
    'planfirst.discardPreview': [PreviewParams, PreviewDecision];
    'planfirst.reloadPlan': [PlanParams, RevisionResult];
    'planfirst.cancel': [PlanParams, CancelResult];
}
export type ServerCommandId = keyof ServerCommands;
// END GENERATED
