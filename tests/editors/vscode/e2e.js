// The planfirst extension in a real VS Code (code-server) driven by headless Chromium.
// Run by ../run-vscode-e2e.sh, which installs everything, starts code-server and sets:
//   PORT, WS (the workspace code-server opened), SPEC (JSON: what to do and expect, see below),
//   ART (screenshot directory), DOCS + E2E_DOCS=1 (copy two screenshots for the README), SUMMARY.
// SPEC fields:
//   openFile            a workspace file to open first (relative path)
//   task                the task typed into "planfirst: Generate Plan…"
//   plan.contains       strings the plan document must show
//   discard.file        the first "Execute Next Step" preview is discarded: this file must not change
//   apply.file/contains the next preview is applied: the file on disk must then contain these
//   problems.contains   strings the Problems panel must show after problems.executeMore more steps
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
        const toasts = await page.locator('.notifications-toasts').innerText().catch(() => '');
        if (toasts.trim()) {
            console.log('   notifications:', toasts.replace(/\s*\n\s*/g, ' | ').slice(0, 600));
        }
        await screenshot(`FAILED-${name.replace(/[^a-z0-9]+/gi, '-')}`).catch(() => undefined);
        throw e;
    }
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

/** Run a command from the palette (F1), by its title as shown there. */
async function palette(title) {
    await page.keyboard.press('Escape');
    await page.keyboard.press('F1');
    const input = page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 10000 });
    await input.fill(`>${title}`);
    const row = page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first();
    await row.waitFor({ state: 'visible', timeout: 15000 });
    await sleep(150);
    await page.keyboard.press('Enter');
}

/** Answer the input box a command opened. */
async function answerInput(promptText, value) {
    const widget = page.locator('.quick-input-widget', { hasText: promptText });
    await widget.waitFor({ state: 'visible', timeout: 15000 });
    await page.locator('.quick-input-widget input').fill(value);
    await sleep(100);
    await page.keyboard.press('Enter');
}

async function activeEditorText() {
    return page.locator('.editor-group-container.active .monaco-editor .view-lines:visible').first().innerText();
}

async function dirtyTabs() {
    return page.locator('.tabs-container .tab.dirty').count();
}

const bulkEditPanel = () => page.locator('.bulk-edit-panel');

async function waitForPreview() {
    await bulkEditPanel().waitFor({ state: 'visible', timeout: 60000 });
    await waitFor('edits in the preview', async () => (await bulkEditPanel().locator('.monaco-tl-row').count()) > 0, 10000);
    await sleep(500);
}

async function previewButton(label) {
    return bulkEditPanel().locator('.monaco-button', { hasText: label }).first();
}

async function problemsText() {
    return page.locator('.markers-panel').first().innerText();
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
            // the status bar item appears once the extension has activated
            await page.locator('.statusbar-item', { hasText: 'planfirst' }).first().waitFor({ timeout: 60000 });
            await page.locator('.explorer-folders-view', { hasText: spec.openFile }).waitFor({ timeout: 30000 });
            await page.locator('.explorer-folders-view .monaco-list-row', { hasText: spec.openFile }).first().click();
            await page.locator('.tabs-container .tab', { hasText: path.basename(spec.openFile) }).waitFor({ timeout: 30000 });
            await screenshot('workbench');
        });

        const original = readFile(spec.discard ? spec.discard.file : spec.apply.file);

        await check('Generate Plan from the palette opens the plan document', async () => {
            await page.locator('.editor-group-container.active .monaco-editor .view-lines:visible').first().click();
            await palette('planfirst: Generate Plan');
            await answerInput('What should be done', spec.task);
            const tab = page.locator('.tabs-container .tab.active', { hasText: '.md' });
            await tab.waitFor({ timeout: 90000 });
            const text = await waitFor(
                `the plan document to show ${JSON.stringify(spec.plan.contains)}`,
                async () => {
                    const t = await activeEditorText();
                    return spec.plan.contains.every((s) => t.includes(s)) ? t : false;
                },
                60000,
            );
            log('plan tab:', (await tab.innerText()).trim(), '| first lines:', text.split('\n').slice(0, 3).join(' / '));
            const lenses = await page.locator('.editor-group-container.active .codelens-decoration').count();
            log('code lenses on the plan:', lenses);
            await sleep(500);
            const file = await screenshot('plan');
            if (process.env.E2E_DOCS === '1') {
                fs.mkdirSync(process.env.DOCS, { recursive: true });
                fs.copyFileSync(file, path.join(process.env.DOCS, 'vscode-plan.png'));
            }
        });

        await check('Approve Plan', async () => {
            await palette('planfirst: Approve Plan');
            await waitFor(
                'the plan to show as approved',
                async () => /approved/i.test(await activeEditorText()) ||
                    /approved|step|ready/i.test(await page.locator('.statusbar-item', { hasText: 'planfirst' }).first().innerText()),
                30000,
            );
        });

        if (spec.discard) {
            await check('Execute Next Step shows the Refactor Preview; Discard changes nothing', async () => {
                await palette('planfirst: Execute Next Step');
                await waitForPreview();
                log('preview:', (await bulkEditPanel().innerText()).replace(/\s*\n\s*/g, ' | ').slice(0, 300));
                await screenshot('preview-to-discard');
                await (await previewButton('Discard')).click();
                await bulkEditPanel().waitFor({ state: 'hidden', timeout: 15000 }).catch(() => undefined);
                await sleep(3000); // give a wrongly applied edit the time to show up
                if (readFile(spec.discard.file) !== original) {
                    throw new Error(`${spec.discard.file} changed on disk although the preview was discarded`);
                }
                if ((await dirtyTabs()) !== 0) {
                    throw new Error('an editor is dirty after Discard');
                }
                await screenshot('after-discard');
            });
        }

        await check('Execute Next Step again: tick and Apply the preview; the file on disk changes', async () => {
            await palette('planfirst: Execute Next Step');
            await waitForPreview();
            // needsConfirmation edits start unticked in the preview: tick every file entry
            const rows = bulkEditPanel().locator('.monaco-tl-row');
            const n = await rows.count();
            for (let i = 0; i < n; i++) {
                const box = rows.nth(i).locator('.monaco-checkbox, input[type=checkbox], .edit-checkbox').first();
                if ((await box.count()) && !/checked/.test((await box.getAttribute('class')) || '')) {
                    await box.click();
                    await sleep(100);
                }
            }
            await sleep(400);
            const file = await screenshot('preview');
            if (process.env.E2E_DOCS === '1') {
                fs.copyFileSync(file, path.join(process.env.DOCS, 'vscode-preview.png'));
            }
            await (await previewButton('Apply')).click();
            await waitFor(
                `${spec.apply.file} on disk to contain ${JSON.stringify(spec.apply.contains)}`,
                () => spec.apply.contains.every((s) => readFile(spec.apply.file).includes(s)),
                60000,
            );
            await waitFor('no dirty editors (planfirst saved what it applied)', async () => (await dirtyTabs()) === 0, 15000);
            await screenshot('after-apply');
        });

        if (spec.problems) {
            await check('validation problems appear in the Problems panel', async () => {
                for (let i = 0; i < (spec.problems.executeMore || 0); i++) {
                    await palette('planfirst: Execute Next Step');
                    await waitForPreview();
                    const rows = bulkEditPanel().locator('.monaco-tl-row');
                    for (let j = 0; j < (await rows.count()); j++) {
                        const box = rows.nth(j).locator('.monaco-checkbox, input[type=checkbox], .edit-checkbox').first();
                        if ((await box.count()) && !/checked/.test((await box.getAttribute('class')) || '')) {
                            await box.click();
                        }
                    }
                    await (await previewButton('Apply')).click();
                    await bulkEditPanel().waitFor({ state: 'hidden', timeout: 15000 }).catch(() => undefined);
                }
                await palette('View: Focus on Problems View');
                const text = await waitFor(
                    `the Problems panel to show ${JSON.stringify(spec.problems.contains)}`,
                    async () => {
                        const t = await problemsText();
                        return spec.problems.contains.every((s) => t.includes(s)) ? t : false;
                    },
                    90000,
                    500,
                );
                log('problems:', text.replace(/\s*\n\s*/g, ' | ').slice(0, 300));
                await screenshot('problems');
            });
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
