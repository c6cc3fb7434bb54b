// The planfirst extension in a real VS Code (code-server) driven by headless Chromium.
// Run by ../run-vscode-e2e.sh, which installs everything, starts code-server and sets:
//   PORT, WS (the workspace code-server opened), SPEC (JSON: what to do and expect, see below),
//   ART (screenshot directory), DOCS + E2E_DOCS=1 (copy the docs' screenshots), SUMMARY,
//   SERVER_PYTHON (the interpreter to choose when the server is not found).
// SPEC fields: openFile (a workspace file opened first), activatesOnFirstUse (true: planfirst must
// not be active before the first action uses it) and actions, each one check:
//   {"name", "do": "serverMissing", "via", "contains": [..]}   the palette command `via` (a first
//      use), then the one "cannot start" message says these;
//      the status bar is red; Choose Python Interpreter… → Enter interpreter path… → SERVER_PYTHON
//   {"name", "do": "generate", "task", "apiKey"?, "planContains": [..], "docsScreenshot",
//    "renderedScreenshot"}   the plan opens rendered (titled with its title; planContains there
//      too) in one tab (no markdown tab opens with it), then Open Source shows the markdown document
//      with apiKey: the missing-key message's Set API Key, the key typed, the same task runs
//   {"name", "do": "revise", "via": "codeLens" | "palette", "feedback", "planContains": [..]}
//   {"name", "do": "editReload", "find", "append", "planContains": [..]}   Edit Plan, type after
//      the text `find` in plan.md, save, Reload Plan (title bar)
//   {"name", "do": "compare", "lens", "contains": [..]}   the plan's "Compare with revision N"
//      code lens opens the revisions' unified diff, which shows these lines
//   {"name", "do": "approve", "via": "rendered" | (palette), "renderedTab"}   rendered: the
//      Approve button of the rendered plan whose tab shows `renderedTab`
//   {"name", "do": "plansView", "contains": [..], "docsScreenshot"}   the Explorer's Plans view
//      lists these (plans, their steps and statuses)
//   {"name", "do": "nextAction", "lens", "titleAction"}   the plan's first code lens and title bar
//   {"name", "do": "execute" | "awaitPreview", "via": "statusBar" | "title" | "plansView" | (palette),
//    "row": text of the Plans view row whose inline Execute runs it (via plansView),
//    "preview": "apply" | "some" | "discard" | "cancel", "untick": [files] (some),
//    "unchanged": [files], "absent": [files], "files": {file: [strings on disk]}, "progress": "text",
//    "docsScreenshot"}   absent: files that must not exist before, nor after a Discard or Cancel
//      the step review (multi-file diff): Apply (one click, nothing ticked), Apply Some Files…
//      (untick, OK), Discard, or planfirst: Cancel; awaitPreview waits for the next review of a
//      step already running (a retry after failed validation)
//   {"name", "do": "problems", "contains": [..]}   the Problems panel shows these strings
//   {"name", "do": "problemsGone", "absent": [..]}  ... and later no longer shows these
//   {"name", "do": "status", "text": "planfirst: 1 of 3 done"}   the status bar item reads this
//   {"name", "do": "restart"}   Restart Server; waits until the new server runs
//   {"name", "do": "restartAndShow", "planContains": [..]}   Restart Server, close the plan, Show Plan
//      (the rendered plan shows planContains, no source tab opens with it; then Open Source)
//   {"name", "do": "undo", "restored": [files], "planContains": [..], "reveal": "text", "revealed": [..]}
//      "planfirst: Undo Last Step", Apply in the review; each restored file is byte-identical to
//      its bytes when the workbench opened; the plan document shows planContains, then, scrolled
//      to the text `reveal` (Find), shows `revealed` and code lenses reading `lenses`
//   generate also: "cancelVisible" (the plan view shows Cancel while planning; "planningScreenshot"),
//      "renderedContains"/"renderedAbsent" (the rendered plan's text: glyphs, not `[ ]`)
//   approve "via": "keys": Ctrl+Alt+Enter in the rendered plan whose tab shows `renderedTab`
//   execute also: "rateLimited" (a 429 toast offers Retry; Retry runs the step), "reopen" (close
//      the review's tab, Show Step Review opens it again), "headers": "modified" | "added" (the
//      multi-file diff's file headers: no renamed "R" nor a struck-through name; "added": new
//      files marked A), "restartAsks" (Restart Server with the review open asks; Show Step Review)
//   {"name", "do": "finish", "contains": [..], "files": [..], "docsScreenshot", "changesScreenshot"}
//      the "is done" message; the rendered plan's finish view shows `contains`, Review all changes
//      is its first button and opens the plan's multi-file diff listing `files`
// Prints one line per check and "N passed, M failed" last; exits 1 if anything failed.
'use strict';
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const PORT = process.env.PORT;
const WS = process.env.WS;
const ART = process.env.ART;
const spec = JSON.parse(fs.readFileSync(process.env.SPEC, 'utf8'));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const results = [];
let page;
let shot = 0;

function log(...a) {
    console.log('  ', ...a);
}

async function screenshot(name) {
    const file = path.join(ART, `vscode-${String(++shot).padStart(2, '0')}-${name}.png`);
    await page.screenshot({ path: file });
    return file;
}

/** Run one named check; a failure is recorded with a screenshot and stops the dependent flow. */
async function check(name, body) {
    const t0 = Date.now();
    try {
        await body();
        results.push({ name, ok: true });
        console.log(`PASS ${name} (${Date.now() - t0} ms)`);
    } catch (e) {
        results.push({ name, ok: false });
        console.log(`FAIL ${name}: ${e && e.message ? e.message.split('\n')[0] : e}`);
        console.log('   tabs:', await tabsSummary().catch((err) => String(err)));
        const toasts = await page.locator('.notifications-toasts').innerText().catch(() => '');
        if (toasts.trim()) {
            console.log('   notifications:', toasts.replace(/\s*\n\s*/g, ' | ').slice(0, 600));
        }
        await screenshot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
        throw e;
    }
}

/** The editor tabs per group, `*` marking each group's active tab and `[active group]`: for failure reports. */
async function tabsSummary() {
    return page.evaluate(() =>
        Array.from(document.querySelectorAll('.editor-group-container'))
            .map((g, i) => {
                const tabs = Array.from(g.querySelectorAll('.tabs-container .tab')).map(
                    (t) => `${t.classList.contains('active') ? '*' : ''}${(t.textContent || '').trim()}`,
                );
                return `group ${i + 1}${g.classList.contains('active') ? ' [active group]' : ''}: ${tabs.join(' | ') || '(no tabs)'}`;
            })
            .join(' ;; '),
    );
}

async function waitFor(what, predicate, ms = 30000, every = 250) {
    const t0 = Date.now();
    let last;
    while (Date.now() - t0 < ms) {
        try {
            last = await predicate();
            if (last) {
                return last;
            }
        } catch (e) {
            last = e;
        }
        await sleep(every);
    }
    throw new Error(`timed out after ${ms} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`);
}

const readFile = (rel) => fs.readFileSync(path.join(WS, rel), 'utf8');

/**
 * Run a command from the palette (F1), by its title as shown there: Enter only once the
 * highlighted row is that command (Enter runs the highlighted row, whatever was typed).
 */
async function palette(title) {
    const input = page.locator('.quick-input-widget input');
    const focused = page.locator('.quick-input-list .monaco-list-row.focused');
    await page.keyboard.press('Escape'); // whatever quick input is open
    // every part is retried: the palette can close again between opening and filling (a CI run
    // waited 30 s to fill a palette it had just seen open)
    await waitFor(
        `the command palette to highlight ${JSON.stringify(title)}`,
        async () => {
            if (!(await input.isVisible())) {
                await page.keyboard.press('F1');
                await input.waitFor({ state: 'visible', timeout: 2000 });
            }
            if ((await input.inputValue({ timeout: 2000 })) !== `>${title}`) {
                await input.fill(`>${title}`, { timeout: 2000 });
            }
            return (await focused.count()) > 0 && (await focused.first().innerText()).includes(title);
        },
        20000,
        100,
    );
    await input.press('Enter', { timeout: 5000 }); // to the palette, never to the editor behind it
}

/** Answer the input box a command opened. */
async function answerInput(promptText, value) {
    const widget = page.locator('.quick-input-widget', { hasText: promptText });
    await widget.waitFor({ state: 'visible', timeout: 15000 });
    const input = page.locator('.quick-input-widget input');
    await input.fill(value);
    await sleep(100);
    await input.press('Enter'); // to the input box, never to the editor behind it
}

/**
 * The visible text of the active editor (monaco renders spaces as no-break spaces). Monaco reuses
 * its line elements when a document changes, so DOM order is not screen order: sort by position.
 */
async function activeEditorText() {
    const lines = page.locator('.editor-group-container.active .monaco-editor .view-lines:visible').first();
    const t = await lines.evaluate((el) =>
        Array.from(el.querySelectorAll(':scope > .view-line'))
            .map((line) => ({ top: parseFloat(line.style.top) || 0, text: line.textContent || '' }))
            .sort((a, b) => a.top - b.top)
            .map((line) => line.text)
            .join('\n'),
        undefined,
        { timeout: 3000 }, // callers poll: a document still opening is looked at again
    );
    return t.replace(/\u00a0/g, ' ');
}

async function dirtyTabs() {
    return page.locator('.tabs-container .tab.dirty').count();
}

/** A title-bar action of the active editor group (the step review's Apply / Discard / Some Files…). */
const titleAction = (label) =>
    page.locator(`.editor-group-container.active .editor-actions a.action-label[aria-label^="${label}"]`).first();

/** Wait until planfirst is idle (no spinning status bar item): the previous step has finished. */
async function waitIdle() {
    await waitFor(
        'planfirst to finish what it is doing',
        async () => (await page.locator('.statusbar-item', { hasText: 'planfirst:' }).first().locator('.codicon-sync').count()) === 0,
        60000,
        250,
    );
}

/**
 * Wait for planfirst's step review in front: the active tab of the active editor group is the
 * multi-file diff editor "Review · …" with Apply in its title bar. (Apply shows as soon as a review
 * is pending, a moment before the diff editor opens: both must hold.)
 */
async function waitForReview(apply = 'Apply Step Edit') {
    const reviewInFront = page.locator('.editor-group-container.active .tabs-container .tab.active', { hasText: 'Review · ' });
    try {
        await waitFor(
            `the step review in front (the active tab "Review · …", ${apply} in its title bar)`,
            async () => (await reviewInFront.count()) > 0 && (await titleAction(apply).isVisible()),
            90000,
            250,
        );
    } catch (e) {
        throw new Error(`${e.message}; tabs: ${await tabsSummary().catch(() => '?')}`);
    }
    await sleep(500);
}

async function reviewLabel() {
    return (await page.locator('.tabs-container .tab.active').first().innerText()).trim();
}

async function waitReviewClosed() {
    await waitFor(
        'the step review to close',
        async () => !(await titleAction('Apply Step Edit').isVisible()) && !(await titleAction('Undo the Step').isVisible()),
        15000,
    );
}

/** "Apply Some Files…": untick the given files in the quick pick (all start ticked), then OK. */
async function applySomeFiles(untick) {
    await titleAction('Apply Some Files').click();
    const widget = page.locator('.quick-input-widget', { hasText: 'apply which files' });
    await widget.waitFor({ state: 'visible', timeout: 10000 });
    for (const f of untick) {
        const row = page.locator('.quick-input-list .monaco-list-row', { hasText: f }).first();
        await row.click(); // a click on a row of a many-pick toggles its tick
        await waitFor(`${f} to be unticked`, async () => (await row.getAttribute('aria-checked')) === 'false', 5000);
    }
    await screenshot('review-some-files');
    await page.locator('.quick-input-widget .quick-input-action .monaco-button', { hasText: 'OK' }).first().click();
}

/** Bring the Problems view to the front (its panel tab if the panel is open, else Ctrl+Shift+M). */
async function showProblems() {
    const panel = page.locator('.markers-panel:visible');
    if (await panel.count()) {
        return;
    }
    const tab = page.getByRole('tab', { name: /^Problems/ }).first();
    if (await tab.isVisible()) {
        await tab.click();
    } else {
        await page.keyboard.press('Escape');
        await page.keyboard.press('Control+Shift+M');
    }
    await panel.first().waitFor({ state: 'visible', timeout: 5000 });
}

/** The Problems view's text; brings it to the front first (a new preview can push it back). */
async function problemsText() {
    await showProblems();
    return (await page.locator('.markers-panel:visible').first().innerText({ timeout: 3000 })).replace(/\u00a0/g, ' ');
}

/** Screenshot for the README and docs/editors.md: copied to docs/ when E2E_DOCS=1. */
async function docsScreenshot(name, label) {
    const file = await screenshot(label);
    if (name && process.env.E2E_DOCS === '1') {
        fs.mkdirSync(process.env.DOCS, { recursive: true });
        fs.copyFileSync(file, path.join(process.env.DOCS, name));
    }
}

const snapshots = {};
// file bytes when the workbench opened, for the "undo" action's byte-for-byte comparison
const originals = {};

/** Wait until the active editor (the plan document) shows every string (whitespace-normalised). */
async function planShows(strings, ms = 30000) {
    const norm = (t) => t.replace(/\s+/g, ' ');
    let seen = '';
    try {
        return await waitFor(
            `the plan document to show ${JSON.stringify(strings)}`,
            async () => {
                // its source in front: a command that shows the plan brings the rendered view back
                const inFront = page.locator('.editor-group-container.active .tabs-container .tab.active', { hasText: planTab });
                if ((await inFront.count()) === 0) {
                    await focusPlanTab();
                }
                seen = norm(await activeEditorText());
                return strings.every((x) => seen.includes(norm(x))) ? seen : false;
            },
            ms,
        );
    } catch (e) {
        log('the plan document showed:', JSON.stringify(seen.slice(0, 600)));
        throw e;
    }
}

// the plan document's tab label (its file name), noted when Generate Plan opens it
let planTab = '.md';

/** The rendered plan in front (a webview: its iframe, then the frame with the content). */
function renderedFrame() {
    return page.frameLocator('iframe.webview.ready:visible').first().frameLocator('#active-frame');
}

/** Bring the plan document's tab to the front (its group active, its tab the active one, focused). */
async function focusPlanTab() {
    const tab = page.locator('.tabs-container .tab', { hasText: planTab }).first();
    const inFront = page.locator('.editor-group-container.active .tabs-container .tab.active', { hasText: planTab });
    try {
        await waitFor(
            `the plan's tab ${JSON.stringify(planTab)} in front`,
            async () => {
                await tab.click({ timeout: 2000 }); // also takes the focus from a view
                return (await inFront.count()) > 0;
            },
            15000,
        );
    } catch (e) {
        throw new Error(`${e.message}; tabs: ${await tabsSummary().catch(() => '?')}`);
    }
}

/** A notification toast containing `text` (errors with buttons stay until answered). */
const toast = (text) => page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();

async function clickToastButton(text, button) {
    await toast(text).locator('.monaco-button', { hasText: button }).first().click();
}

/** The planfirst status bar item's text. */
async function statusText() {
    return (await page.locator('.statusbar-item', { hasText: 'planfirst' }).allInnerTexts()).join(' | ').replace(/\u00a0/g, ' ');
}

/** Poll the whole status bar (progress included) for `text` until `ms`; returns what it saw. */
async function statusBarShows(text, ms) {
    const seen = new Set();
    try {
        return await waitFor(
            `the status bar to show ${JSON.stringify(text)}`,
            async () => {
                const t = (await page.locator('.statusbar').innerText()).replace(/\u00a0/g, ' ').replace(/\s+/g, ' ');
                seen.add(t);
                return t.includes(text) ? t : false;
            },
            ms,
            100,
        );
    } catch (e) {
        throw new Error(`${e.message}; it showed: ${[...seen].slice(-8).join(' || ')}`);
    }
}

/** The Plans view (Explorer), expanded: its pane and its rows. */
async function plansView() {
    const header = page.locator('.pane-header', { hasText: 'Plans' }).first();
    await header.waitFor({ state: 'visible', timeout: 15000 });
    if ((await header.getAttribute('aria-expanded')) === 'false') {
        await header.click();
    }
    const pane = page.locator('.pane', { has: header }).first();
    return { pane, rows: pane.locator('.monaco-list-row') };
}

/** Click the inline action `label` of the Plans view row showing `rowText`. */
async function plansViewAction(rowText, label) {
    const { rows } = await plansView();
    const row = rows.filter({ hasText: rowText }).first();
    const button = row.locator(`.actions .action-label[aria-label^="${label}"]`).first();
    await waitFor(
        `the Plans view row ${JSON.stringify(rowText)} to offer ${label}`,
        async () => {
            await row.hover({ timeout: 2000 });
            return button.isVisible();
        },
        30000,
    );
    await screenshot('plans-view-action');
    await button.click();
}

/** The code lenses of the active editor, in screen order. */
async function lensTexts() {
    const lenses = page.locator('.editor-group-container.active .codelens-decoration');
    return (await lenses.allInnerTexts()).map((t) => t.replace(/\u00a0/g, ' ').trim());
}

/** The step review's (or any multi-file diff's) file headers: no "renamed" (R, old name struck through). */
async function checkDiffHeaders(expect) {
    const headers = page.locator('.editor-group-container.active .multiDiffEntry .header');
    await waitFor('the multi-file diff to show its file headers', async () => (await headers.count()) > 0, 20000);
    const info = await page.evaluate(() =>
        Array.from(document.querySelectorAll('.editor-group-container.active .multiDiffEntry .header')).map((h) => {
            const status = h.querySelector('.status');
            const original = h.querySelector('.title.original');
            return {
                name: (h.querySelector('.title.modified')?.textContent || '').trim(),
                status: status ? (status.textContent || '').trim() : '',
                renamed: !!status && status.classList.contains('renamed'),
                added: !!status && status.classList.contains('added'),
                struck: !!original && (original.textContent || '').trim() !== '',
            };
        }),
    );
    log('diff headers:', JSON.stringify(info));
    for (const h of info) {
        if (h.renamed || h.status === 'R' || h.struck) {
            throw new Error(`the file header of ${h.name} shows a rename (${h.status}, struck-through name): ${JSON.stringify(info)}`);
        }
    }
    if (expect === 'added' && !info.some((h) => h.added && h.status === 'A')) {
        throw new Error(`no new file is marked added (A): ${JSON.stringify(info)}`);
    }
    return info;
}

/** A modal dialog's button (Restart Server's question). */
const dialogButton = (text) => page.locator('.monaco-dialog-box .monaco-button', { hasText: text }).first();

async function perform(action) {
    switch (action.do) {
        case 'generate': {
            await page.locator('.editor-group-container.active .monaco-editor .view-lines:visible').first().click();
            // one plan, one tab: Generate opens the rendered view only, not its markdown source too
            const mdTabs = page.locator('.tabs-container .tab', { hasText: /\.md\b/ });
            const mdTabsBefore = await mdTabs.count();
            await palette('planfirst: Generate Plan');
            await answerInput('What should be done', action.task);
            if (action.apiKey) {
                // no key yet: the error offers "Set API Key", which runs the same task again
                await toast('needs a valid Anthropic API key').waitFor({ timeout: 60000 });
                await screenshot('no-api-key');
                await clickToastButton('needs a valid Anthropic API key', 'Set API Key');
                await answerInput('SecretStorage', action.apiKey);
                await statusBarShows('API key saved', 30000);
            }
            // the plan opens rendered, titled with the plan's title; Open Source shows the markdown
            // (the view is there from the first second: the live progress and Cancel)
            const main = renderedFrame().locator('main');
            let cancelSeen = false;
            const shown = await waitFor(
                `the rendered plan to show ${JSON.stringify(action.planContains)}`,
                async () => {
                    if (action.cancelVisible && !cancelSeen) {
                        const cancel = renderedFrame().locator('button', { hasText: 'Cancel' }).first();
                        if (await cancel.isVisible({ timeout: 200 }).catch(() => false)) {
                            cancelSeen = true;
                            log('while planning:', (await renderedFrame().locator('.toolbar').innerText({ timeout: 1000 }).catch(() => '')).replace(/\s+/g, ' ').slice(0, 200));
                            await docsScreenshot(action.planningScreenshot, 'planning');
                        }
                    }
                    const t = await main.innerText({ timeout: 2000 });
                    if (/^\s*Planning…/.test(t)) {
                        return false; // the view Generate Plan opened, before the plan is there
                    }
                    const want = [...action.planContains, ...(action.renderedContains || [])];
                    return want.every((x) => t.includes(x)) ? t : false;
                },
                120000,
                100,
            );
            if (action.cancelVisible && !cancelSeen) {
                throw new Error('the plan view never showed Cancel while planning');
            }
            for (const x of action.renderedContains || []) {
                if (!shown.includes(x)) {
                    throw new Error(`the rendered plan does not show ${JSON.stringify(x)}: ${shown.slice(0, 400)}`);
                }
            }
            for (const x of action.renderedAbsent || []) {
                if (shown.includes(x)) {
                    throw new Error(`the rendered plan still shows ${JSON.stringify(x)}`);
                }
            }
            if (action.renderedContains && (await renderedFrame().locator('.plan table').count()) === 0) {
                throw new Error('the rendered plan has no header table');
            }
            const renderedTab = (await page.locator('.editor-group-container.active .tabs-container .tab.active').first().innerText()).trim();
            if (/\.md$/.test(renderedTab) || !renderedTab) {
                throw new Error(`the rendered plan's tab reads ${JSON.stringify(renderedTab)}, not the plan's title`);
            }
            log('rendered plan tab:', renderedTab, '| starts:', shown.split('\n').slice(0, 2).join(' / ').slice(0, 150));
            await sleep(500); // a second tab would open right after the rendered view
            if ((await mdTabs.count()) > mdTabsBefore) {
                const labels = await mdTabs.allInnerTexts();
                throw new Error(`Generate Plan opened the plan's source as a second tab: ${JSON.stringify(labels)}`);
            }
            await sleep(300);
            await docsScreenshot(action.renderedScreenshot, 'rendered-plan');
            await renderedFrame().locator('button', { hasText: 'Open Source' }).click();
            // the new plan's document comes to the front (a plan shown before stays open behind)
            const tab = page.locator('.editor-group-container.active .tabs-container .tab.active', { hasText: '.md' }).first();
            await tab.waitFor({ timeout: 120000 });
            const text = await waitFor(
                `the plan document to show ${JSON.stringify(action.planContains)}`,
                async () => {
                    const t = await activeEditorText();
                    return action.planContains.every((x) => t.includes(x)) && (await tab.count()) > 0 ? t : false;
                },
                60000,
            );
            planTab = (await tab.innerText()).trim();
            log('plan tab:', planTab, '| first lines:', text.split('\n').slice(0, 3).join(' / '));
            await waitFor('the status bar to show the plan', async () =>
                /draft|steps/.test(await page.locator('.statusbar-item', { hasText: 'planfirst:' }).first().innerText()), 15000);
            const lenses = page.locator('.editor-group-container.active .codelens-decoration');
            await lenses.first().waitFor({ timeout: 10000 }).catch(() => undefined);
            log('code lenses on the plan:', (await lenses.allInnerTexts()).join(' | ').replace(/\u00a0/g, ' ').slice(0, 200));
            await sleep(500);
            await docsScreenshot(action.docsScreenshot, 'plan');
            return;
        }
        case 'serverMissing': {
            // a first start: planfirst is not installed in the Python VS Code finds
            if (action.via) {
                await palette(action.via); // the first use activates planfirst
            }
            const t = toast('cannot start');
            await t.waitFor({ timeout: 60000 });
            const text = (await t.innerText()).replace(/\s+/g, ' ');
            log('message:', text.slice(0, 300));
            for (const x of action.contains) {
                if (!text.includes(x)) {
                    throw new Error(`the message does not say ${JSON.stringify(x)}: ${text}`);
                }
            }
            await waitFor('a red status bar item', async () => (await statusText()).includes('server not started'), 10000);
            if ((await page.locator('.notifications-toasts .notification-toast').count()) > 1) {
                throw new Error(`more than one message: ${await page.locator('.notifications-toasts').innerText()}`);
            }
            await docsScreenshot(action.docsScreenshot, 'server-missing');
            await clickToastButton('cannot start', 'Choose Python Interpreter');
            await page.locator('.quick-input-widget', { hasText: 'has planfirst installed' }).waitFor({ timeout: 30000 });
            await sleep(300);
            await screenshot('choose-interpreter');
            await page.locator('.quick-input-list .monaco-list-row', { hasText: 'Enter interpreter path' }).first().click();
            await answerInput('Full path of the python executable', process.env.SERVER_PYTHON);
            await waitFor(
                'the server to start with the chosen interpreter',
                async () => !(await statusText()).includes('server not started') && !(await statusText()).includes('starting'),
                60000,
            );
            await screenshot('server-started');
            return;
        }
        case 'editReload': {
            // Edit Plan opens plan.md; a hand edit, saved, then Reload Plan gives a new revision
            await focusPlanTab();
            await palette('planfirst: Edit Plan');
            await page.locator('.tabs-container .tab.active', { hasText: 'plan.md' }).waitFor({ timeout: 15000 });
            const editor = page.locator('.editor-group-container.active .monaco-editor .view-lines:visible').first();
            await editor.click();
            await page.keyboard.press('Control+f');
            await page.keyboard.type(action.find);
            await page.keyboard.press('Enter');
            const find = page.locator('.editor-group-container.active .find-widget.visible');
            await waitFor('the find widget to close', async () => {
                await page.keyboard.press('Escape');
                await sleep(200);
                return (await find.count()) === 0;
            }, 5000);
            await page.keyboard.press('End');
            await page.keyboard.type(action.append);
            await screenshot('plan-md-edited');
            await page.keyboard.press('Control+s');
            await waitFor('plan.md saved', async () => (await dirtyTabs()) === 0, 10000);
            await titleAction('Reload Plan').click();
            await planShows(action.planContains, 30000);
            await screenshot('reloaded');
            await page.locator('.tabs-container .tab', { hasText: 'plan.md' }).first().locator('.codicon-close').click();
            return;
        }
        case 'nextAction': {
            // the next action is on the plan's first line and in the editor title bar
            await focusPlanTab();
            await page.keyboard.press('Control+Home');
            await waitFor(
                `the first code lens to read ${JSON.stringify(action.lens)}`,
                async () => ((await lensTexts())[0] || '').includes(action.lens),
                20000,
            );
            await titleAction(action.titleAction).waitFor({ state: 'visible', timeout: 10000 });
            log('lenses:', (await lensTexts()).join(' | '));
            await docsScreenshot(action.docsScreenshot, 'next-action');
            return;
        }
        case 'revise': {
            await focusPlanTab();
            if (action.via === 'palette') {
                await palette('planfirst: Revise Plan');
            } else {
                // the code lens sends planfirst.revisePlan without feedback: the extension's
                // executeCommand middleware asks for it
                const lens = page.locator('.editor-group-container.active .codelens-decoration a', { hasText: 'Revise' }).first();
                await lens.waitFor({ state: 'visible', timeout: 15000 });
                await lens.click();
            }
            await answerInput('What should change in the plan', action.feedback);
            const text = await planShows(action.planContains, 60000);
            log('revised plan:', text.slice(0, 200));
            await sleep(300);
            await screenshot('revised');
            return;
        }
        case 'compare': {
            // the compare lens opens the unified diff of two revisions (a planfirst: document)
            await focusPlanTab();
            await page.keyboard.press('Control+Home');
            const lens = page.locator('.editor-group-container.active .codelens-decoration a', { hasText: action.lens }).first();
            await lens.waitFor({ state: 'visible', timeout: 15000 });
            await lens.click();
            const tab = page.locator('.tabs-container .tab.active', { hasText: '.diff' });
            await tab.waitFor({ timeout: 15000 });
            const text = await waitFor(
                `the diff to show ${JSON.stringify(action.contains)}`,
                async () => {
                    const t = await activeEditorText();
                    return action.contains.every((x) => t.includes(x)) ? t : false;
                },
                30000,
            );
            log('revision diff:', text.split('\n').filter((l) => /^[+-][^+-]/.test(l)).join(' / ').slice(0, 300));
            await screenshot('compare');
            await tab.locator('.codicon-close').click();
            return;
        }
        case 'plansView': {
            // the Explorer's Plans view lists the plans with their steps
            const { rows } = await plansView();
            const text = await waitFor(
                `the Plans view to show ${JSON.stringify(action.contains)}`,
                async () => {
                    const t = (await rows.allInnerTexts()).join(' | ').replace(/\u00a0/g, ' ').replace(/\s+/g, ' ');
                    return action.contains.every((x) => t.includes(x)) ? t : false;
                },
                30000,
            );
            log('plans view:', text.slice(0, 300));
            await docsScreenshot(action.docsScreenshot, 'plans-view');
            return;
        }
        case 'approve': {
            if (action.via === 'keys') {
                // Ctrl+Alt+Enter, documented as "approve the plan in front", on the rendered plan
                const tab = page.locator('.tabs-container .tab', { hasText: action.renderedTab }).filter({ hasNotText: '.md' }).first();
                await tab.click();
                await renderedFrame().locator('main').click({ timeout: 10000 });
                await screenshot('rendered-before-keys');
                await page.keyboard.press('Control+Alt+Enter');
            } else if (action.via === 'rendered') {
                // the rendered plan's toolbar: its first button is the next action
                await page.locator('.tabs-container .tab', { hasText: action.renderedTab }).first().click();
                const button = renderedFrame().locator('button', { hasText: 'Approve plan' });
                await button.waitFor({ state: 'visible', timeout: 15000 });
                await screenshot('rendered-approve');
                await button.click();
            } else {
                await palette('planfirst: Approve Plan');
            }
            await waitFor(
                'the status bar to show the approved plan',
                async () => /approved|✓/.test(await page.locator('.statusbar-item', { hasText: 'planfirst:' }).first().innerText()),
                30000,
            );
            return;
        }
        case 'execute':
        case 'awaitPreview': {
            for (const f of action.unchanged || []) {
                snapshots[f] = readFile(f);
            }
            const noneCreated = () => {
                for (const f of action.absent || []) {
                    if (fs.existsSync(path.join(WS, f))) {
                        throw new Error(`${f} exists although the review was not applied`);
                    }
                }
            };
            noneCreated();
            if (action.do === 'execute') {
                await waitIdle();
                if (action.via === 'statusBar') {
                    // the status bar item opens the actions valid now, the next step first
                    await page.locator('.statusbar-item', { hasText: 'planfirst:' }).first().click();
                    const first = page.locator('.quick-input-list .monaco-list-row').first();
                    await first.waitFor({ state: 'visible', timeout: 10000 });
                    const label = (await first.innerText()).trim();
                    if (!label.includes('Execute step')) {
                        throw new Error(`the first action is ${JSON.stringify(label)}, not Execute step N`);
                    }
                    await screenshot('status-bar-actions');
                    await first.click();
                } else if (action.via === 'plansView') {
                    await plansViewAction(action.row, 'Execute Next Step');
                } else if (action.via === 'title') {
                    await focusPlanTab();
                    await titleAction('Execute Next Step').click();
                } else {
                    await palette('planfirst: Execute Next Step');
                }
            }
            if (action.rateLimited) {
                // the 429 outlasted the retries: the message offers Retry (by data.reason)
                const limited = toast('429');
                await limited.waitFor({ timeout: 60000 });
                log('rate limit message:', (await limited.innerText()).replace(/\s+/g, ' ').slice(0, 200));
                await screenshot('rate-limited');
                await clickToastButton('429', 'Retry');
            }
            await waitForReview();
            log('review:', await reviewLabel());
            if (action.headers) {
                await checkDiffHeaders(action.headers);
            }
            if (action.reopen) {
                // closing the review's tab decides nothing: Show Step Review opens it again
                await page.locator('.editor-group-container.active .tabs-container .tab.active', { hasText: 'Review · ' }).locator('.codicon-close').click();
                await waitFor('the review tab to close', async () => (await page.locator('.tabs-container .tab', { hasText: 'Review · ' }).count()) === 0, 10000);
                const show = page.locator('.statusbar-item', { hasText: 'Show review' }).first();
                await show.waitFor({ state: 'visible', timeout: 10000 });
                await screenshot('review-closed');
                await show.click();
                await waitForReview();
                log('review reopened:', await reviewLabel());
            }
            if (action.restartAsks) {
                // a restart would end the step: it asks first; Show Step Review keeps the review
                await palette('planfirst: Restart Server');
                await dialogButton('Restart Anyway').waitFor({ state: 'visible', timeout: 15000 });
                await screenshot('restart-asks');
                await dialogButton('Show Step Review').click();
                await waitForReview();
            }
            if (action.preview === 'discard' || action.preview === 'cancel') {
                await screenshot(`review-to-${action.preview}`);
                if (action.preview === 'discard') {
                    await titleAction('Discard Step Edit').click();
                } else {
                    await palette('planfirst: Cancel');
                }
                await waitReviewClosed();
                await sleep(3000); // give a wrongly applied edit the time to show up
                noneCreated();
                for (const f of action.unchanged || []) {
                    if (readFile(f) !== snapshots[f]) {
                        throw new Error(`${f} changed on disk although the review was ${action.preview}ed`);
                    }
                }
                if ((await dirtyTabs()) !== 0) {
                    throw new Error(`an editor is dirty after ${action.preview}`);
                }
                await screenshot(`after-${action.preview}`);
                return;
            }
            await sleep(600);
            await docsScreenshot(action.docsScreenshot, 'review');
            if (action.preview === 'some') {
                await applySomeFiles(action.untick);
            } else {
                // ONE click, nothing ticked by hand: the whole step is applied
                await titleAction('Apply Step Edit').click();
            }
            if (action.progress) {
                // the progress says what runs while validation runs
                log('progress:', (await statusBarShows(action.progress, 30000)).replace(/\s+/g, ' ').slice(0, 200));
                await screenshot('progress');
            }
            for (const [f, strings] of Object.entries(action.files || {})) {
                await waitFor(
                    `${f} on disk to contain ${JSON.stringify(strings)}`,
                    () => strings.every((x) => readFile(f).includes(x)),
                    60000,
                );
            }
            await waitFor('no dirty editors (planfirst saved what it applied)', async () => (await dirtyTabs()) === 0, 15000);
            for (const f of action.unchanged || []) {
                if (readFile(f) !== snapshots[f]) {
                    throw new Error(`${f} changed on disk although it was left out`);
                }
            }
            await screenshot('after-apply');
            return;
        }
        case 'problems': {
            const text = await waitFor(
                `the Problems panel to show ${JSON.stringify(action.contains)}`,
                async () => {
                    const t = await problemsText();
                    return action.contains.every((x) => t.includes(x)) ? t : false;
                },
                60000,
                500,
            );
            log('problems:', text.replace(/\s*\n\s*/g, ' | ').slice(0, 300));
            await screenshot('problems');
            return;
        }
        case 'problemsGone': {
            await waitFor(
                `the Problems panel to drop ${JSON.stringify(action.absent)}`,
                async () => {
                    const t = await problemsText();
                    return action.absent.every((x) => !t.includes(x));
                },
                30000,
                500,
            );
            await screenshot('problems-after-fix');
            return;
        }
        case 'status': {
            await waitFor(
                `the status bar to read ${JSON.stringify(action.text)}`,
                async () =>
                    (await page.locator('.statusbar-item', { hasText: 'planfirst:' }).first().innerText())
                        .replace(/\u00a0/g, ' ')
                        .includes(action.text),
                30000,
            );
            await screenshot('status');
            return;
        }
        case 'finish': {
            // the plan is done: the message, the finish view in the rendered plan, Review all changes
            await toast('is done').waitFor({ timeout: 60000 });
            const tab = page.locator('.tabs-container .tab').filter({ hasText: 'Add a' }).filter({ hasNotText: '.md' }).first();
            await tab.click();
            const text = await waitFor(
                `the finish view to show ${JSON.stringify(action.contains)}`,
                async () => {
                    const t = await renderedFrame().locator('main').innerText({ timeout: 2000 });
                    return action.contains.every((x) => t.includes(x)) ? t : false;
                },
                30000,
            );
            log('finish view:', text.split('\n').slice(0, 8).join(' / ').slice(0, 400));
            const first = renderedFrame().locator('.toolbar button').first();
            const firstLabel = (await first.innerText()).trim();
            if (!/Review all changes/i.test(firstLabel)) {
                throw new Error(`the first action after done is ${JSON.stringify(firstLabel)}, not Review all changes`);
            }
            await docsScreenshot(action.docsScreenshot, 'finish');
            await first.click();
            const changes = page.locator('.editor-group-container.active .tabs-container .tab.active', { hasText: 'All changes' });
            await changes.waitFor({ timeout: 20000 });
            // every file the plan changed (the tab says how many once the multi-diff editor has
            // resolved its entries, which can come after the tab: wait for it; the entries in
            // view are checked below)
            const n = (action.files || []).length;
            let label = '';
            try {
                await waitFor(`the changes tab to say (${n} files)`, async () => {
                    label = (await changes.innerText()).replace(/\s+/g, ' ');
                    return label.includes(`(${n} files)`);
                }, 20000);
            } catch {
                throw new Error(`the changes tab reads ${JSON.stringify(label)}, not ${n} files`);
            }
            const headers = await checkDiffHeaders('modified');
            for (const h of headers) {
                if (!(action.files || []).some((f) => h.name.includes(path.basename(f)))) {
                    throw new Error(`Review all changes lists ${h.name}, not one of ${JSON.stringify(action.files)}`);
                }
            }
            await sleep(500);
            await docsScreenshot(action.changesScreenshot, 'all-changes');
            await changes.locator('.codicon-close').click();
            return;
        }
        case 'restart': {
            // Restart Server and wait until the new server runs (capture.sh uses it: the server
            // must have been initialized before the test ends)
            await palette('planfirst: Restart Server');
            await statusBarShows('planfirst: server restarted', 60000);
            return;
        }
        case 'restartAndShow': {
            // a fresh server process must pick the plan up from disk and serve its document again
            await waitIdle();
            await palette('planfirst: Restart Server');
            // the command says when the new server runs: go on only then
            await statusBarShows('planfirst: server restarted', 60000);
            await focusPlanTab();
            await page.locator('.editor-group-container.active .tabs-container .tab.active', { hasText: planTab }).locator('.codicon-close').click();
            await waitFor('the plan tab to close', async () => (await page.locator('.tabs-container .tab', { hasText: planTab }).count()) === 0, 10000);
            await palette('planfirst: Show Plan');
            // one plan, one tab: Show Plan brings the rendered plan (not a second, source tab);
            // its Open Source opens the markdown again
            const norm = (t) => t.replace(/\s+/g, ' ');
            await waitFor(
                `the rendered plan to show ${JSON.stringify(action.planContains)}`,
                async () => {
                    const t = norm(await renderedFrame().locator('main').innerText({ timeout: 2000 }).catch(() => ''));
                    return action.planContains.every((x) => t.includes(norm(x))) ? t : false;
                },
                30000,
            );
            if ((await page.locator('.tabs-container .tab', { hasText: planTab }).count()) > 0) {
                throw new Error(`Show Plan opened the plan's source ${planTab} beside its rendered view`);
            }
            await renderedFrame().locator('button', { hasText: 'Open Source' }).click();
            await planShows(action.planContains);
            await screenshot('after-restart');
            return;
        }
        case 'undo': {
            await waitIdle();
            await focusPlanTab();
            await palette('planfirst: Undo Last Step');
            await waitForReview('Undo the Step'); // an undo's review says Undo, not "Apply Step Edit"
            log('undo review:', await reviewLabel());
            // the undo's review says what Apply does: the title bar offers Undo, not "Apply Step Edit"
            if ((await titleAction('Apply Step Edit').count()) > 0) {
                throw new Error("the undo's review offers \"Apply Step Edit\", not Undo");
            }
            await titleAction('Undo the Step').click();
            for (const f of action.restored || []) {
                await waitFor(
                    `${f} on disk to be byte-identical to before the step`,
                    () => fs.readFileSync(path.join(WS, f)).equals(originals[f]),
                    30000,
                );
            }
            await waitFor('no dirty editors (planfirst saved the undo)', async () => (await dirtyTabs()) === 0, 15000);
            await focusPlanTab();
            await planShows(action.planContains);
            await screenshot('after-undo');
            if (action.reveal) {
                // the step's heading is below the fold: find it so monaco renders it
                await page.locator('.editor-group-container.active .monaco-editor .view-lines:visible').first().click();
                await page.keyboard.press('Control+f');
                await page.keyboard.type(action.reveal);
                await page.keyboard.press('Enter');
                await page.keyboard.press('Escape');
                await planShows(action.revealed || [action.reveal]);
                const lenses = page.locator('.editor-group-container.active .codelens-decoration');
                for (const text of action.lenses || []) {
                    await waitFor(
                        `a code lens reading ${JSON.stringify(text)}`,
                        async () => (await lenses.allInnerTexts()).some((t) => t.replace(/\u00a0/g, ' ').includes(text)),
                        15000,
                    );
                }
                log('code lenses:', (await lenses.allInnerTexts()).join(' | ').replace(/\s+/g, ' ').slice(0, 200));
                await sleep(300);
                await screenshot('after-undo-step');
            }
            return;
        }
        default:
            throw new Error(`unknown action ${action.do}`);
    }
}

(async () => {
    const t0 = Date.now();
    const browser = await chromium.launch({
        executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
        headless: true,
        args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
    try {
        page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
        page.on('pageerror', (e) => log('[pageerror]', String(e).slice(0, 200)));

        await check('workbench opens with the extension installed', async () => {
            await page.goto(`http://127.0.0.1:${PORT}/?folder=${encodeURIComponent(WS)}`);
            await page.waitForSelector('.monaco-workbench .part.sidebar', { timeout: 60000 });
            // expand the folders down to the file, then open it
            for (const part of spec.openFile.split('/')) {
                const row = page
                    .locator('.explorer-folders-view .monaco-list-row')
                    .filter({ has: page.getByText(part, { exact: true }) })
                    .first();
                await row.waitFor({ timeout: 30000 });
                await row.click();
                await sleep(300);
            }
            await page.locator('.tabs-container .tab', { hasText: path.basename(spec.openFile) }).waitFor({ timeout: 30000 });
            if (spec.activatesOnFirstUse) {
                // planfirst activates on first use (or in a workspace with plans): no status bar
                // item, no server, in a window that has not used it
                await sleep(1000);
                if ((await page.locator('.statusbar-item', { hasText: 'planfirst' }).count()) > 0) {
                    throw new Error(`planfirst is active before its first use: ${await statusText()}`);
                }
            } else {
                await page.locator('.statusbar-item', { hasText: 'planfirst' }).first().waitFor({ timeout: 60000 });
            }
            for (const action of spec.actions) {
                for (const f of action.restored || []) {
                    originals[f] = fs.readFileSync(path.join(WS, f));
                }
            }
            await screenshot('workbench');
        });

        for (const action of spec.actions) {
            await check(action.name, () => perform(action));
        }
    } catch {
        // the failed check was recorded and reported
    } finally {
        await browser.close().catch(() => undefined);
    }
    const passed = results.filter((r) => r.ok).length;
    const failed = results.length - passed;
    const summary = `${passed} passed, ${failed} failed`;
    log(`ui test took ${Math.round((Date.now() - t0) / 1000)} s`);
    if (process.env.SUMMARY) {
        fs.writeFileSync(process.env.SUMMARY, summary + '\n');
    }
    console.log(summary);
    process.exit(failed === 0 && passed > 0 ? 0 : 1);
})().catch((e) => {
    console.error(e);
    console.log('0 passed, 1 failed');
    process.exit(1);
});
