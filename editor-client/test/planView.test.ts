// Unit tests of the rendered plan's reshaping and the finish view (no VS Code): `npm run test:unit`.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import { changeKind, decorateStatuses, finishTable, planRevision, revisionUri, scannablePlan } from '../src/planViewLogic';
import type { PlanReport } from '../src/protocol';

// as server/planfirst/plan/render.py writes it
const PLAN = `# Plan: Add --top

<!-- planfirst plan=add-top-abc123 revision=1 -->
> **Status:** draft · **Revision:** 1 · **Steps:** 1/3 done · **Tokens:** 1,200 in / 300 out · **Cost:** $0.0123
> **Review:** 0 error(s), 1 warning(s), 1 note(s) — see *Review findings* below
> **Critique:** 1 finding(s), 0 error(s)

## Task

Add a --top option

## Steps

### Step 1 · [x] done
<!-- step-id: s1 -->

Add \`top_words\`.

- Validation:
  - \`pytest -q\`

> Last run: attempt 2 · applied · validation passed
> info: looks fine (lint/x)
> warning: cli.py has no test (critique/risk)
> evidence: textkit/cli.py:12 — main() parses args
> fix: add tests/test_cli.py

### Step 2 · [ ] pending
<!-- step-id: s2 -->

### Step 3 · [!] failed

## Review findings

> - **warning** step 1: cli.py has no test (critique/risk)
> - **info** step 1: looks fine (lint/x)
`;

test('the header status lines become a table, one row per figure', () => {
    const out = scannablePlan(PLAN);
    assert.match(out, /\| \| \|\n\|---\|---\|\n\| \*\*Status\*\* \| draft \|\n\| \*\*Revision\*\* \| 1 \|\n\| \*\*Steps\*\* \| 1\/3 done \|/);
    assert.match(out, /\| \*\*Cost\*\* \| \$0\.0123 \|/);
    assert.match(out, /\| \*\*Review\*\* \| 0 error\(s\), 1 warning\(s\), 1 note\(s\) — see \*Review findings\* below \|/);
    assert.match(out, /\| \*\*Critique\*\* \| 1 finding\(s\), 0 error\(s\) \|\n\n## Task/);
    assert.doesNotMatch(out, /^> \*\*Status/m);
});

test('step findings are separate items with a severity glyph, evidence and fix nested', () => {
    const out = scannablePlan(PLAN);
    assert.match(
        out,
        /> Last run: attempt 2 · applied · validation passed\n>\n> - ℹ️ \*\*info:\*\* looks fine \(lint\/x\)\n> - ⚠️ \*\*warning:\*\* cli\.py has no test \(critique\/risk\)\n> {3}- \*evidence:\* textkit\/cli\.py:12 — main\(\) parses args\n> {3}- \*fix:\* add tests\/test_cli\.py/,
    );
    assert.match(out, /^> - ⚠️ \*\*warning\*\* step 1: cli\.py has no test/m);
});

test('step headings show a status glyph, not a literal [ ]', () => {
    const out = scannablePlan(PLAN);
    assert.match(out, /^### Step 1 · ✓ done$/m);
    assert.match(out, /^### Step 2 · ○ pending$/m);
    assert.match(out, /^### Step 3 · ✗ failed$/m);
    assert.doesNotMatch(out, /\[ \]|\[x\]|\[!\]/);
    assert.equal(
        decorateStatuses('<h3>Step 1 · ✓ done</h3>'),
        '<h3>Step 1 · <span class="status status-done">✓ done</span></h3>',
    );
});

test('text without the server header is left as it is', () => {
    const plain = '# Notes\n\nSome `> **quoted:**` text\n\n> a quote\n';
    assert.equal(scannablePlan(plain), plain);
});

const REPORT: PlanReport = {
    planId: 'p',
    title: 'Add --top',
    status: 'done',
    costUsd: 0.0421,
    seconds: 75.2,
    omitted: 0,
    steps: [
        { order: 1, title: 'Add top_words', status: 'done', attempts: 2, inputTokens: 12000, outputTokens: 800, costUsd: 0.02, seconds: 40, validation: '1/1 passed' },
        { order: 2, title: 'Tests | more', status: 'done', attempts: 1, inputTokens: 9000, outputTokens: 500, costUsd: 0.01, seconds: 35.2, validation: '' },
    ],
    files: [
        { path: 'a.py', uri: 'file:///ws/a.py', before: 'x', after: 'y' },
        { path: 'new.py', uri: 'file:///ws/new.py', before: null, after: 'z' },
    ],
};

test('the finish table has attempts, tokens, cost and time per step', () => {
    const t = finishTable(REPORT);
    assert.match(t, /^\*\*Finished:\*\* 2 of 2 steps done · 2 files changed · \$0\.0421 in all \(planning included\) · 1 min 15 s executing/);
    assert.match(t, /\| 1 \| Add top_words \| ✓ done \| 2 \| 12,000 \/ 800 \| \$0\.0200 \| 40\.0 s \| 1\/1 passed \|/);
    assert.match(t, /\| 2 \| Tests \\\| more \| ✓ done \| 1 \| 9,000 \/ 500 \| \$0\.0100 \| 35\.2 s \| – \|/);
});

test('a changed file is added, deleted or modified, never renamed', () => {
    assert.deepEqual(
        [...REPORT.files, { path: 'gone.py', uri: 'file:///ws/gone.py', before: 'q', after: null }].map(changeKind),
        ['modified', 'added', 'deleted'],
    );
});

test('compare: the revision from the document, the revision documents, no command id in the text', () => {
    assert.equal(planRevision(PLAN), 1);
    assert.equal(planRevision('# x\n<!-- planfirst plan=p-1 revision=12 -->\n'), 12);
    assert.equal(planRevision('# no marker'), undefined);
    assert.equal(revisionUri('add-top-1', 2), 'planfirst:/plans/add-top-1/revision-2.md');
    const note = '> Compare the whole text with the "Compare with revision 2" lens (command `planfirst.diffPlan`).';
    const out = scannablePlan(`# Plan: x\n\n## Changes in revision 3\n\n${note}\n`);
    assert.doesNotMatch(out, /planfirst\.diffPlan/);
    assert.match(out, /\*\*Compare with revision 2\*\* button/);
});
