/**
 * The rendered plan made scannable, without VS Code: the plan document's markdown (written for
 * every editor, and parsed back on Reload) is reshaped for the webview only — the header's status
 * lines become a table, a step's findings separate items with a severity glyph, step statuses a
 * glyph instead of a literal `[ ]` — and the finish view's figures are formatted.
 */
import type { ChangedFile, PlanReport, StepReport } from './protocol';

/** Glyph and words for each step status the server writes (`[ ] pending`, `[x] done`, …). */
const STEP_STATUS: Record<string, string> = {
    '[ ] pending': '○ pending',
    '[~] running': '◐ running',
    '[~] applied, not yet validated': '◑ applied, not yet validated',
    '[x] done': '✓ done',
    '[!] failed': '✗ failed',
    '[ ] undone': '↺ undone',
};

const SEVERITY: Record<string, string> = { error: '⛔', warning: '⚠️', info: 'ℹ️' };

/** One row of the header table from `**Key:** value` segments joined by ` · `. */
function headerRows(line: string): [string, string][] {
    const rows: [string, string][] = [];
    for (const part of line.replace(/^>\s?/, '').split(' · ')) {
        const m = /^\*\*([^*]+?):\*\*\s*(.*)$/.exec(part.trim());
        if (m) {
            rows.push([m[1], m[2]]);
        } else if (rows.length) {
            rows[rows.length - 1][1] += ` · ${part.trim()}`;
        } else {
            rows.push(['', part.trim()]);
        }
    }
    return rows;
}

function cell(s: string): string {
    return s.replace(/\|/g, '\\|');
}

/** A step finding line (`> warning: message (rule)`) as a list item with its severity glyph. */
function findingItem(line: string): string | undefined {
    const m = /^>\s?(error|warning|info):\s+(.*)$/.exec(line);
    return m ? `> - ${SEVERITY[m[1]]} **${m[1]}:** ${m[2]}` : undefined;
}

/**
 * The plan markdown reshaped for reading: the header blockquote (the `> **Status:** …` lines right
 * under the title) becomes a two-column table; each step's `> info: …` / `> warning: …` lines become
 * list items with a glyph, their `> evidence: …` and `> fix: …` lines nested under them; step
 * headings show a status glyph; the review findings list gets the same glyphs.
 */
export function scannablePlan(markdown: string): string {
    const lines = markdown.split(/\r?\n/);
    const out: string[] = [];
    let inHeader = false;
    let headerDone = false;
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i];
        if (!headerDone && /^> \*\*[^*]+:\*\*/.test(line)) {
            if (!inHeader) {
                inHeader = true;
                out.push('| | |', '|---|---|');
            }
            for (const [k, v] of headerRows(line)) {
                out.push(`| ${k ? `**${cell(k)}**` : ''} | ${cell(v)} |`);
            }
            continue;
        }
        if (inHeader) {
            inHeader = false;
            headerDone = true;
            if (line.trim() !== '') {
                out.push('');
            }
        }
        if (/^## /.test(line)) {
            headerDone = true;
        }
        const heading = /^(### Step \d+ · )(.*)$/.exec(line);
        if (heading) {
            out.push(heading[1] + (STEP_STATUS[heading[2]] ?? heading[2]));
            continue;
        }
        const finding = findingItem(line);
        if (finding) {
            const prev = out[out.length - 1] ?? '';
            if (prev.startsWith('>') && !prev.startsWith('> -') && !/^>\s+-/.test(prev)) {
                out.push('>'); // a list under the "Last run" line, not part of its paragraph
            }
            out.push(finding);
            continue;
        }
        const detail = /^>\s?(evidence|fix):\s+(.*)$/.exec(line);
        if (detail && /^>\s*-|^>\s{3}-/.test(out[out.length - 1] ?? '')) {
            out.push(`>   - *${detail[1]}:* ${detail[2]}`);
            continue;
        }
        if (/Compare with revision \d+" lens \(command `planfirst\.diffPlan`\)/.test(line)) {
            // the rendered view has a button for it, and a person does not run command ids
            out.push(line.replace(/"Compare with revision (\d+)" lens \(command `planfirst\.diffPlan`\)/, '**Compare with revision $1** button'));
            continue;
        }
        const listed = /^> - \*\*(error|warning|info)\*\*(.*)$/.exec(line);
        if (listed) {
            out.push(`> - ${SEVERITY[listed[1]]} **${listed[1]}**${listed[2]}`);
            continue;
        }
        out.push(line);
    }
    return out.join('\n');
}

/** The plan's revision, from the document's `<!-- planfirst plan=… revision=N -->` line. */
export function planRevision(markdown: string): number | undefined {
    const m = /<!-- planfirst plan=\S+ revision=(\d+) -->/.exec(markdown);
    return m ? Number(m[1]) : undefined;
}

/** The URI of one revision's reviewable text, served by the server (a side of a compare). */
export function revisionUri(planId: string, revision: number): string {
    return `planfirst:/plans/${encodeURIComponent(planId)}/revision-${revision}.md`;
}

/** The rendered HTML with each step status glyph in a span the page colours by status. */
export function decorateStatuses(html: string): string {
    return html.replace(
        /(✓ done|✗ failed|○ pending|◐ running|◑ applied, not yet validated|↺ undone)/g,
        (m) => `<span class="status status-${m.split(' ')[1].replace(/,$/, '')}">${m}</span>`,
    );
}

function usd(x: number): string {
    return `$${x >= 1 ? x.toFixed(2) : x.toFixed(4)}`;
}

function duration(seconds: number): string {
    if (seconds < 60) {
        return `${seconds.toFixed(1)} s`;
    }
    const m = Math.floor(seconds / 60);
    return `${m} min ${Math.round(seconds - m * 60)} s`;
}

function tokens(n: number): string {
    return n.toLocaleString('en-US');
}

/** The finish view's table (markdown): per step attempts, tokens, cost, time, validation. */
export function finishTable(report: PlanReport): string {
    const rows = report.steps.map(
        (s: StepReport) =>
            `| ${s.order} | ${cell(s.title)} | ${STEP_STATUS_WORD[s.status] ?? s.status} | ${s.attempts} | ` +
            `${tokens(s.inputTokens)} / ${tokens(s.outputTokens)} | ${usd(s.costUsd)} | ${duration(s.seconds)} | ${s.validation || '–'} |`,
    );
    const files = report.files.length;
    return [
        `**${report.status === 'done' ? 'Finished' : 'So far'}:** ${report.steps.filter((s) => s.status === 'done').length} of ${report.steps.length} steps done · ` +
            `${files} file${files === 1 ? '' : 's'} changed · ${usd(report.costUsd)} in all (planning included) · ${duration(report.seconds)} executing`,
        '',
        '| step | | status | attempts | tokens in / out | cost | time | validation |',
        '|---:|---|---|---:|---:|---:|---:|---|',
        ...rows,
    ].join('\n');
}

const STEP_STATUS_WORD: Record<string, string> = {
    done: '✓ done',
    failed: '✗ failed',
    pending: '○ pending',
    running: '◐ running',
    applied: '◑ applied',
    undone: '↺ undone',
};

/** What "Review all changes" shows for one file: added, deleted or modified (never renamed). */
export function changeKind(f: ChangedFile): 'added' | 'deleted' | 'modified' {
    return f.before === null ? 'added' : f.after === null ? 'deleted' : 'modified';
}
