// The Plans view's menus against the real package.json: each row's contextValue (from the real
// planTreeView / stepTreeView) run through the manifest's `when` clauses must offer exactly what a
// user can do in that state. `npm run test:unit`.
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { planTreeView, PlanSummary, StepRow, stepTreeView } from '../src/logic';
import { Clause, evalWhen, parseWhen } from './whenClause';

interface MenuItem {
    command: string;
    when?: string;
    group?: string;
}
interface Manifest {
    contributes: {
        commands: { command: string; title: string }[];
        menus: Record<string, MenuItem[]>;
        keybindings?: { command: string; when?: string }[];
        viewsWelcome?: { contents: string; when?: string }[];
        walkthroughs?: { steps: { description: string }[] }[];
    };
}

const ROOT = join(__dirname, '..', '..');
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Manifest;
const SRC = ['commands.ts', 'planView.ts', 'plansView.ts', 'review.ts']
    .map((f) => readFileSync(join(ROOT, 'src', f), 'utf8'))
    .join('\n');

const APPROVE = 'planfirst.ui.approvePlan';
const EXECUTE = 'planfirst.ui.executeNextStep';
const RETRY = 'planfirst.ui.retryStep';
const UNDO = 'planfirst.ui.undoLastStep';
const SHOW = 'planfirst.ui.showPlan';
const REVISE = 'planfirst.ui.revisePlan';
const EDIT = 'planfirst.ui.editPlan';

// ---------------------------------------------------------------- the evaluator itself

test('the when-clause evaluator: precedence, negation, regex, quoted values', () => {
    const ctx = { view: 'planfirst.plans', viewItem: 'step-next', a: true, b: false };
    assert.equal(evalWhen('view == planfirst.plans && viewItem == step-next', ctx), true);
    assert.equal(evalWhen('view != planfirst.plans || viewItem =~ /^step/', ctx), true);
    assert.equal(evalWhen('a || b && b', ctx), true); // && binds tighter
    assert.equal(evalWhen('(a || b) && b', ctx), false);
    assert.equal(evalWhen('!b && !missing', ctx), true);
    assert.equal(evalWhen('!(a && b)', ctx), true);
    assert.equal(evalWhen("view == 'planfirst.plans'", ctx), true);
    assert.equal(evalWhen('viewItem =~ /^STEP-next$/i', ctx), true);
    assert.equal(evalWhen('viewItem =~ /^step$/', ctx), false);
    assert.equal(evalWhen('missing =~ /./', ctx), false);
    assert.equal(evalWhen('a == true && b == false', ctx), true);
    assert.equal(evalWhen('false', ctx), false);
    assert.equal(evalWhen('resourcePath =~ /\\.planfirst\\/plans\\//', { resourcePath: '/w/.planfirst/plans/p/plan.md' }), true);
    for (const bad of ['a < 2', 'viewItem in list', 'a &&', '(a', 'a)', 'a === b', 'viewItem =~ step', 'viewItem =~ /x/g', 'a & b', 'a == ']) {
        assert.throws(() => parseWhen(bad), /when clause/, bad);
    }
});

test('every when clause of the manifest is in the subset the evaluator understands', () => {
    const c = PKG.contributes;
    const clauses = [
        ...Object.values(c.menus).flatMap((items) => items.map((i) => i.when)),
        ...(c.keybindings ?? []).map((k) => k.when),
        ...(c.viewsWelcome ?? []).map((w) => w.when),
    ].filter((w): w is string => w !== undefined);
    assert.ok(clauses.length > 30);
    for (const w of clauses) {
        assert.doesNotThrow(() => parseWhen(w), w);
    }
});

// ---------------------------------------------------------------- the commands the menus name

test('every command a menu, key binding or link names is contributed, and registered in the source', () => {
    const c = PKG.contributes;
    const declared = new Set(c.commands.map((x) => x.command));
    const named = new Set<string>([
        ...Object.values(c.menus).flatMap((items) => items.map((i) => i.command)),
        ...(c.keybindings ?? []).map((k) => k.command),
    ]);
    const links = [...(c.viewsWelcome ?? []).map((w) => w.contents), ...(c.walkthroughs ?? []).flatMap((w) => w.steps.map((s) => s.description))];
    for (const text of links) {
        for (const m of text.matchAll(/\(command:([\w.]+)\)/g)) {
            named.add(m[1]);
        }
    }
    assert.deepEqual([...named].filter((id) => !declared.has(id)), []);
    const unregistered = [...declared].filter((id) => !new RegExp(`registerCommand\\(\\s*'${id.replace(/\./g, '\\.')}'`).test(SRC));
    assert.deepEqual(unregistered, []);
});

test('menus keyed on viewItem are item menus of the Plans view, and its row commands take the row', () => {
    for (const [menu, items] of Object.entries(PKG.contributes.menus)) {
        for (const item of items) {
            if (item.when?.includes('viewItem')) {
                // VS Code sets viewItem only for a tree item's own menus
                assert.equal(menu, 'view/item/context', `${item.command} in ${menu}: ${item.when}`);
                assert.match(item.when, /(^|&& )view == planfirst\.plans( &&|$)/, item.when);
            }
        }
    }
    // an inline button passes the row ({ planId, step }): the command must read it, not ask
    for (const item of PKG.contributes.menus['view/item/context']) {
        const re = new RegExp(`registerCommand\\(\\s*'${item.command.replace(/\./g, '\\.')}',\\s*run\\('[^']*',\\s*async \\(arg\\)`);
        assert.match(SRC, re, `${item.command} ignores the row it is run from`);
    }
});

/**
 * Commands hidden from the palette (`when: false`) are the ones that cannot work from it: those
 * that need an argument (none does today: every one falls back to the plan in front or asks), or
 * an alias under another name for a menu. Everything else stays reachable from the palette.
 */
const NEEDS_ARGUMENT = new Set<string>();
const MENU_ALIASES: Record<string, string> = {
    // the editor's context menu entry "Plan a Change…": Generate Plan… under a menu's wording
    'planfirst.ui.planChange': 'planfirst.ui.generatePlan',
};

test('commands hidden from the palette are the ones that need an argument (or a menu alias)', () => {
    const hidden = PKG.contributes.menus.commandPalette.filter((i) => i.when === 'false').map((i) => i.command);
    for (const id of hidden) {
        const alias = MENU_ALIASES[id];
        assert.ok(NEEDS_ARGUMENT.has(id) || alias !== undefined, `${id} is hidden from the palette but needs no argument`);
        if (alias) {
            assert.match(SRC, new RegExp(`registerCommand\\('${id.replace(/\./g, '\\.')}', \\(\\) => vscode\\.commands\\.executeCommand\\('${alias.replace(/\./g, '\\.')}'\\)\\)`));
            assert.ok(!hidden.includes(alias), `${alias} itself must stay in the palette`);
        }
    }
    for (const id of NEEDS_ARGUMENT) {
        assert.ok(hidden.includes(id), `${id} needs an argument but is offered in the palette`);
    }
});

// ---------------------------------------------------------------- the Plans view's rows

interface Offer {
    inline: string[];
    menu: string[];
}

const ITEM_MENU: { command: string; inline: boolean; when: Clause }[] = PKG.contributes.menus['view/item/context'].map((i) => ({
    command: i.command,
    inline: (i.group ?? '').startsWith('inline'),
    when: parseWhen(i.when ?? 'true'),
}));

/** What the manifest offers on a row with this contextValue. */
function offered(contextValue: string): Offer {
    const on = ITEM_MENU.filter((i) => i.when({ view: 'planfirst.plans', viewItem: contextValue }));
    return {
        inline: on.filter((i) => i.inline).map((i) => i.command).sort(),
        menu: on.filter((i) => !i.inline).map((i) => i.command).sort(),
    };
}

function offer(inline: string[], menu: string[]): Offer {
    return { inline: [...inline].sort(), menu: [...menu].sort() };
}

// The product rules, written from what the server accepts in each state (not from the logic):
// - a plan busy here or in another planfirst offers no action, only Show and Edit (#33);
// - the server runs no step of a draft (not approved: Execute and Retry are refused), nor of a
//   done plan; the next step is the first not done, and a plan with a failed step goes on with
//   Retry on that step, not Execute;
// - Execute runs the next step when it is pending, undone or applied-not-validated (resumed);
// - Undo goes on the step the server's undo accepts (`undoable`), whatever the step's status;
// - Revise is offered on every plan that is not busy, unless a step is caught mid-way (`applied`,
//   not validated, or `running` after a killed server): the server refuses to revise it then
//   (execute it to validate it, or undo it, first; docs/how-it-works.md, the step table).
const RUNS_STEPS = new Set(['approved', 'executing', 'failed']);
const EXECUTABLE_STEP = new Set(['pending', 'undone', 'applied']);

const isBusy = (p: PlanSummary): boolean => Boolean(p.busy) || p.elsewhere === true;

function expectedPlan(p: PlanSummary): Offer {
    if (isBusy(p)) {
        return offer([], [SHOW, EDIT]);
    }
    const inline: string[] = [];
    if (p.status === 'draft') {
        inline.push(APPROVE);
    } else if (RUNS_STEPS.has(p.status) && p.steps.failed === 0 && p.steps.total > 0) {
        // the next step, or (every step done, the plan not) its test criteria (QA6)
        inline.push(EXECUTE);
    }
    const midway = (p.stepList ?? []).some((s) => s.status === 'applied' || s.status === 'running');
    return offer(inline, midway ? [SHOW, EDIT] : [SHOW, REVISE, EDIT]);
}

function expectedStep(p: PlanSummary, step: StepRow): Offer {
    if (isBusy(p)) {
        return offer([], []);
    }
    const steps = p.stepList ?? [];
    const inline: string[] = [];
    const runs = RUNS_STEPS.has(p.status);
    const next = steps.find((s) => s.status !== 'done')?.order === step.order;
    if (step.status === 'failed' && runs) {
        inline.push(RETRY);
    }
    if (next && EXECUTABLE_STEP.has(step.status) && runs && !steps.some((s) => s.status === 'failed')) {
        inline.push(EXECUTE);
    }
    if (step.undoable === true) {
        inline.push(UNDO);
    }
    return offer(inline, []);
}

const PLAN_STATUSES = ['draft', 'approved', 'executing', 'done', 'failed'];
const STEP_STATUSES = ['pending', 'running', 'applied', 'done', 'failed', 'undone'];
const BUSY: Pick<PlanSummary, 'busy' | 'elsewhere'>[] = [
    {},
    { busy: null, elsewhere: false },
    { busy: 'executing step 2', elsewhere: false },
    { busy: 'in another planfirst: executing step 2', elsewhere: true },
    { busy: null, elsewhere: true },
];

function plan(status: string, stepList: StepRow[], busy: Pick<PlanSummary, 'busy' | 'elsewhere'>): PlanSummary {
    const count = (st: string) => stepList.filter((s) => s.status === st).length;
    return {
        id: 'p',
        title: 'Add --top',
        status,
        revision: 2,
        steps: { total: stepList.length, done: count('done'), failed: count('failed') },
        stepList,
        ...busy,
    };
}

/** Every plan the matrix covers: plan status × a focus step's status, place and undoability × busy. */
function* plans(): Generator<PlanSummary> {
    for (const status of PLAN_STATUSES) {
        for (const focus of STEP_STATUSES) {
            for (const first of ['done', 'pending']) {
                for (const last of ['pending', 'failed', 'done']) {
                    for (const undoable of [false, true]) {
                        for (const busy of BUSY) {
                            yield plan(
                                status,
                                [
                                    { order: 1, status: first, title: 'Add top_words', undoable: false },
                                    { order: 2, status: focus, title: 'Add --top', undoable },
                                    { order: 3, status: last, title: 'Document it', undoable: false },
                                ],
                                busy,
                            );
                        }
                    }
                }
            }
        }
    }
}

function describe(p: PlanSummary, step?: StepRow): string {
    const rows = (p.stepList ?? []).map((s) => `${s.order}:${s.status}${s.undoable ? '+undoable' : ''}`).join(' ');
    const busy = `busy=${JSON.stringify(p.busy)} elsewhere=${String(p.elsewhere)}`;
    return `${p.status} [${rows}] ${busy} -> ${step ? `step ${step.order}` : 'plan'}`;
}

test('Plans view: every row offers exactly what the user can do in its state (the real manifest)', () => {
    const wrong: string[] = [];
    let rows = 0;
    for (const p of plans()) {
        const got = offered(planTreeView(p).context);
        const want = expectedPlan(p);
        rows++;
        if (JSON.stringify(got) !== JSON.stringify(want)) {
            wrong.push(`${describe(p)} (${planTreeView(p).context}): got ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
        }
        for (const s of p.stepList ?? []) {
            const ctx = stepTreeView(p, s).context;
            const gotStep = offered(ctx);
            const wantStep = expectedStep(p, s);
            rows++;
            if (JSON.stringify(gotStep) !== JSON.stringify(wantStep)) {
                wrong.push(`${describe(p, s)} (${ctx}): got ${JSON.stringify(gotStep)}, want ${JSON.stringify(wantStep)}`);
            }
        }
    }
    assert.ok(rows > 4000, `only ${rows} rows`);
    assert.equal(wrong.length, 0, `${wrong.length} rows disagree, e.g.\n${wrong.slice(0, 12).join('\n')}`);
});

test('Plans view: a server without `undoable` in its rows: Undo on the last done step with an edit', () => {
    const legacy = (status: string, statuses: string[]) =>
        plan(
            status,
            statuses.map((st, i) => ({ order: i + 1, status: st, title: `step ${i + 1}` })),
            {},
        );
    const inline = (p: PlanSummary) => (p.stepList ?? []).map((s) => offered(stepTreeView(p, s).context).inline);
    assert.deepEqual(inline(legacy('executing', ['done', 'done', 'pending'])), [[], [UNDO], [EXECUTE]]);
    assert.deepEqual(inline(legacy('done', ['done', 'done', 'done'])), [[], [], [UNDO]]);
    assert.deepEqual(inline(legacy('executing', ['done', 'failed', 'pending'])), [[], [RETRY], []]);
    assert.deepEqual(inline(legacy('draft', ['pending', 'pending'])), [[], []]);
    assert.deepEqual(inline({ ...legacy('executing', ['done', 'pending']), busy: 'executing step 2' }), [[], []]);
});

test('Plans view: a failed step whose edit is on disk (the last to land) offers Retry and Undo', () => {
    const p = plan(
        'executing',
        [
            { order: 1, status: 'done', title: 'Add top_words', undoable: false },
            { order: 2, status: 'failed', title: 'Add --top', undoable: true },
            { order: 3, status: 'pending', title: 'Document it', undoable: false },
        ],
        {},
    );
    const inline = (p.stepList ?? []).map((s) => offered(stepTreeView(p, s).context).inline);
    assert.deepEqual(inline, [[], [RETRY, UNDO].sort(), []]);
    // a draft (a revision of it): Undo only, the server runs no step of a draft
    const draft = { ...p, status: 'draft' };
    assert.deepEqual((draft.stepList ?? []).map((s) => offered(stepTreeView(draft, s).context).inline), [[], [UNDO], []]);
});

test('Plans view: the next step offers Execute after it was undone, or when its edit awaits validation', () => {
    const rows = (status: string, undoable: boolean): StepRow[] => [
        { order: 1, status: 'done', title: 'Add top_words', undoable: !undoable },
        { order: 2, status, title: 'Add --top', undoable },
        { order: 3, status: 'pending', title: 'Document it', undoable: false },
    ];
    const inline = (p: PlanSummary) => (p.stepList ?? []).map((s) => offered(stepTreeView(p, s).context).inline);
    // step 2 undone: Execute Next Step runs it again (the server's next step is the first not done)
    assert.deepEqual(inline(plan('executing', rows('undone', false), {})), [[UNDO], [EXECUTE], []]);
    // step 2 applied, not yet validated (a server stopped meanwhile): Execute resumes its validation
    assert.deepEqual(inline(plan('executing', rows('applied', true), {})), [[], [EXECUTE, UNDO].sort(), []]);
});

test('Plans view: no Revise on a plan whose step is caught mid-way (applied, not validated): Execute validates it', () => {
    const p = plan(
        'executing',
        [
            { order: 1, status: 'done', title: 'Add top_words', undoable: false },
            { order: 2, status: 'applied', title: 'Add --top', undoable: true },
        ],
        {},
    );
    assert.deepEqual(offered(planTreeView(p).context), offer([EXECUTE], [SHOW, EDIT]));
    // Reload keeps the step applied in the new draft: Approve, still no Revise
    assert.deepEqual(offered(planTreeView({ ...p, status: 'draft' }).context), offer([APPROVE], [SHOW, EDIT]));
    // validated (done): Revise again
    const settled = plan('executing', [{ order: 1, status: 'done', title: 'a' }, { order: 2, status: 'pending', title: 'b' }], {});
    assert.deepEqual(offered(planTreeView(settled).context), offer([EXECUTE], [SHOW, REVISE, EDIT]));
});
