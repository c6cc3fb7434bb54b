// Unit tests of installing the server from the walkthrough (no VS Code): `npm run test:unit`.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { DEFAULT_SPEC, installCommands, pipFailure, pipSpecProblem, venvPython } from '../src/installLogic';

test('pip install goes into the chosen interpreter, or into a new venv made with it (#33)', () => {
    assert.deepEqual(installCommands('/usr/bin/python3', DEFAULT_SPEC, undefined, 'linux'), {
        steps: [{ command: '/usr/bin/python3', args: ['-I', '-m', 'pip', 'install', '--upgrade', 'planfirst'] }],
        python: '/usr/bin/python3',
    });
    assert.deepEqual(installCommands('/usr/bin/python3', ' planfirst==0.1.0 ', '/ws/.venv', 'linux'), {
        steps: [
            { command: '/usr/bin/python3', args: ['-I', '-m', 'venv', '/ws/.venv'] },
            { command: '/ws/.venv/bin/python', args: ['-I', '-m', 'pip', 'install', '--upgrade', 'planfirst==0.1.0'] },
        ],
        python: '/ws/.venv/bin/python',
    });
    assert.equal(venvPython('C:\\ws\\.venv', 'win32'), 'C:\\ws\\.venv\\Scripts\\python.exe');
});

test('what to install is one package, wheel or folder, never a pip option', () => {
    assert.equal(pipSpecProblem('planfirst'), undefined);
    assert.equal(pipSpecProblem('planfirst>=0.1'), undefined);
    assert.equal(pipSpecProblem('/home/me/dist/planfirst-0.1.0-py3-none-any.whl'), undefined);
    assert.match(pipSpecProblem('--index-url=https://evil.example/simple') ?? '', /pip option/);
    assert.match(pipSpecProblem('-e .') ?? '', /pip option/);
    assert.match(pipSpecProblem('planfirst evilpkg') ?? '', /One thing/);
    assert.match(pipSpecProblem('   ') ?? '', /Name what/);
});

test("a failed pip says why in a line: PEP 668's externally managed environment, no such package", () => {
    const pep668 = 'error: externally-managed-environment\n\n× This environment is externally managed\n╰─> To install Python packages system-wide, try apt install';
    assert.match(pipFailure(pep668), /externally-managed-environment/);
    assert.match(pipFailure('ERROR: Could not find a version that satisfies the requirement nope\nERROR: No matching distribution found for nope\n'), /No matching distribution/);
    assert.equal(pipFailure(''), 'pip failed');
});

interface Pkg {
    contributes: {
        commands: { command: string }[];
        viewsWelcome: { view: string; contents: string; when: string }[];
        walkthroughs: { steps: { id: string; description: string; completionEvents?: string[] }[] }[];
    };
}

test('the walkthrough installs without a checkout and its steps tick from the real state', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as Pkg;
    const steps = pkg.contributes.walkthroughs[0].steps;
    const server = steps.find((s) => s.id === 'server');
    assert.ok(server && server.description.includes('(command:planfirst.ui.installServer)'), server?.description);
    assert.ok(!/checkout>|pip install -e/.test(server.description), 'the install step assumes a checkout');
    assert.ok(pkg.contributes.commands.some((c) => c.command === 'planfirst.ui.installServer'));
    const src = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'commands.ts'), 'utf8');
    assert.ok(src.includes("registerCommand('planfirst.ui.installServer'"));
    for (const s of steps) {
        assert.ok(s.completionEvents?.every((e) => e.startsWith('onContext:planfirst.')), `${s.id}: ${String(s.completionEvents)}`);
    }
});

test("the Plans view's welcome offers the install only while the server does not run", () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as Pkg;
    const plans = pkg.contributes.viewsWelcome.filter((w) => w.view === 'planfirst.plans');
    const running = plans.filter((w) => w.when === 'planfirst.serverRunning');
    const notRunning = plans.filter((w) => w.when === '!planfirst.serverRunning');
    assert.equal(running.length, 1);
    assert.equal(notRunning.length, 1);
    assert.doesNotMatch(running[0].contents, /install|not running/i);
    assert.match(notRunning[0].contents, /command:planfirst\.ui\.installServer/);
});
