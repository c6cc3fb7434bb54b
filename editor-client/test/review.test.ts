// Unit tests of the step review's logic (no VS Code): `npm run test:unit`.
import * as assert from 'node:assert/strict';
import { test } from 'node:test';
import type { WorkspaceEdit } from 'vscode-languageclient';
import { applyTextEdits, confirmedEdit, displayPath, needsReview, reviewButtons, reviewFiles, undoStepOf } from '../src/reviewLogic';

const A = 'file:///ws/textkit/wordcount.py';
const B = 'file:///ws/tests/test_wordcount.py';
const C = 'file:///ws/textkit/new%20file.py';
const range = (l1: number, c1: number, l2: number, c2: number) => ({
    start: { line: l1, character: c1 },
    end: { line: l2, character: c2 },
});

/** What the server sends for a step (lsp/convert.py): annotated edits, one annotation needing confirmation. */
const STEP: WorkspaceEdit = {
    documentChanges: [
        { textDocument: { uri: A, version: 3 }, edits: [{ range: range(1, 0, 1, 0), newText: 'def top():\n    pass\n', annotationId: 's1' }] },
        { textDocument: { uri: B, version: null }, edits: [{ range: range(0, 4, 0, 7), newText: 'two', annotationId: 's1' }] },
        { kind: 'create', uri: C, options: { ignoreIfExists: true }, annotationId: 's1' },
        { textDocument: { uri: C, version: null }, edits: [{ range: range(0, 0, 0, 0), newText: 'x = 1\n', annotationId: 's1' }] },
    ],
    changeAnnotations: { s1: { label: 'planfirst step 1: add top', needsConfirmation: true } },
};

test('only edits asking for confirmation are reviewed', () => {
    assert.equal(needsReview(STEP), true);
    assert.equal(needsReview({ changes: { [A]: [] } }), false);
    assert.equal(needsReview({ ...STEP, changeAnnotations: { s1: { label: 'x', needsConfirmation: false } } }), false);
    assert.equal(needsReview(undefined), false);
});

test('reviewFiles lists each file once, new files marked; renames and deletes are left to VS Code', () => {
    const files = reviewFiles(STEP);
    assert.deepEqual(
        files?.map((f) => [f.uri, f.created, f.edits.length]),
        [
            [A, false, 1],
            [B, false, 1],
            [C, true, 1],
        ],
    );
    assert.equal(reviewFiles({ documentChanges: [{ kind: 'delete', uri: A }] }), undefined);
    assert.deepEqual(reviewFiles({ changes: { [A]: [{ range: range(0, 0, 0, 0), newText: 'x' }] } })?.map((f) => f.uri), [A]);
});

test('applyTextEdits applies LSP edits by UTF-16 position, in any order, keeping CRLF', () => {
    const text = 'héllo 😀 world\r\nsecond\r\n';
    const out = applyTextEdits(text, [
        { range: range(1, 0, 1, 6), newText: '2nd' },
        { range: range(0, 9, 0, 14), newText: 'there' }, // after the emoji (2 code units)
        { range: range(2, 0, 2, 0), newText: 'third\r\n' },
    ]);
    assert.equal(out, 'héllo 😀 there\r\n2nd\r\nthird\r\n');
    assert.equal(applyTextEdits('', [{ range: range(0, 0, 0, 0), newText: 'new\n' }]), 'new\n');
    assert.throws(() => applyTextEdits('abcdef', [{ range: range(0, 0, 0, 3), newText: '' }, { range: range(0, 2, 0, 4), newText: '' }]));
});

test('confirmedEdit keeps the chosen files, creation included, and asks for no confirmation', () => {
    const all = confirmedEdit(STEP, new Set([A, B, C]));
    assert.equal(all.documentChanges?.length, 4);
    assert.equal(needsReview(all), false);
    assert.equal(all.changeAnnotations?.s1.label, 'planfirst step 1: add top');
    const some = confirmedEdit(STEP, new Set([A]));
    assert.deepEqual(
        some.documentChanges?.map((c) => ('textDocument' in c ? c.textDocument.uri : (c as { uri: string }).uri)),
        [A],
    );
    // the server's edit itself is untouched (a Discard or a re-offer sees it as sent)
    assert.equal(STEP.changeAnnotations?.s1.needsConfirmation, true);
    assert.deepEqual(Object.keys(confirmedEdit({ changes: { [A]: [], [B]: [] } }, new Set([B])).changes ?? {}), [B]);
});

test('displayPath is relative to the workspace folder and decoded', () => {
    assert.equal(displayPath(C, 'file:///ws'), 'textkit/new file.py');
    assert.equal(displayPath('file:///elsewhere/a.py', 'file:///ws/'), '/elsewhere/a.py');
    assert.equal(displayPath(A, undefined), '/ws/textkit/wordcount.py');
});

test("an undo's review says what Apply does (Undo step N), a step's says Apply step edit (#33)", () => {
    const undo = reviewButtons('planfirst: undo step 3', 2);
    assert.equal(undo.apply, '$(discard) Undo step 3');
    assert.equal(undo.discard, '$(close) Keep step 3');
    assert.match(undo.applyTip, /before step 3 \(2 files\)/);
    const step = reviewButtons('planfirst step 2: Add --top', 1);
    assert.equal(step.apply, '$(check) Apply step edit');
    assert.equal(step.discard, '$(discard) Discard');
    assert.equal(undoStepOf('Review · planfirst: undo step 12'), 12);
    assert.equal(undoStepOf('planfirst step 1: undo step 2 of the parser'), undefined);
    assert.equal(undoStepOf(undefined), undefined);
});
