/**
 * How the extension answers a failed command, without VS Code: chosen from the error's name, its
 * JSON-RPC code and `data.reason` (the server's PlanfirstError code, server/planfirst/errors.py),
 * never from its message text.
 */

/** LSP RequestCancelled: the server's answer to a cancelled command. */
const REQUEST_CANCELLED = -32800;

/** Reasons (`data.reason`, server/planfirst/errors.py codes) the same command may succeed on later. */
const RETRYABLE: Record<string, string> = {
    rate_limit: 'the Anthropic API is limiting requests (429) and kept doing so through the retries',
    overloaded: 'the Anthropic API is overloaded (529) and stayed so through the retries',
    server: 'the Anthropic API had a server error and kept having it through the retries',
    timeout: 'the Anthropic API did not answer in time',
    deadline: 'the model call ran out of its time (planfirst.anthropic.deadline)',
    connection: 'the Anthropic API could not be reached',
    conflict: 'the Anthropic API reported a conflict',
    busy: 'planfirst is busy with another operation on this workspace',
};

/** How the extension answers a failed command: chosen from the error's name, code and `data.reason`, never its text. */
export interface ErrorView {
    kind: 'setKey' | 'retry' | 'cancelled' | 'serverNotStarted' | 'show';
    /** the message shown (the server's own words unless the reason has editor words) */
    text: string;
    level: 'info' | 'warn' | 'error';
}

/** The editor's words and way forward for an error from `name` (a palette command's title). */
export function errorView(name: string, e: unknown): ErrorView {
    const err = (e ?? {}) as { name?: unknown; code?: unknown; message?: unknown; data?: { reason?: unknown } | null };
    const reason = typeof err.data?.reason === 'string' ? err.data.reason : undefined;
    const message = String(err.message ?? e).replace(/^planfirst:\s*/, '');
    if (err.name === 'ServerNotStarted') {
        return { kind: 'serverNotStarted', text: message, level: 'error' };
    }
    if (err.code === REQUEST_CANCELLED || reason === 'cancelled') {
        return { kind: 'cancelled', text: `planfirst: ${name} was cancelled.`, level: 'info' };
    }
    if (reason === 'auth') {
        return {
            kind: 'setKey',
            text: `planfirst: ${name} needs a valid Anthropic API key: none is set, or the API refused the one set.`,
            level: 'warn',
        };
    }
    if (reason && reason in RETRYABLE) {
        return { kind: 'retry', text: `planfirst: ${name} did not finish: ${RETRYABLE[reason]}.`, level: 'warn' };
    }
    return { kind: 'show', text: `planfirst: ${name} failed: ${message}`, level: 'error' };
}
