/**
 * Installing the planfirst server without a checkout (no VS Code here, unit-tested): the commands
 * that create a virtual environment (optional) and `pip install` planfirst into the chosen Python.
 */
import * as path from 'path';
import type { ServerCommand } from './logic';

/** What `pip install` installs by default: the server package from the package index. */
export const DEFAULT_SPEC = 'planfirst';

/** Why `spec` cannot be handed to pip as what to install, or undefined when it can: one
 * requirement, a wheel/sdist file or a folder; never a pip option or several words. */
export function pipSpecProblem(spec: string): string | undefined {
    const s = spec.trim();
    if (!s) {
        return 'Name what to install (e.g. planfirst, a wheel file or a folder).';
    }
    if (s.startsWith('-')) {
        return 'A pip option is not something to install: give a package, a wheel file or a folder.';
    }
    if (/[\s\0]/.test(s) && !/^[^\s]+\s*(?:[<>=!~]=?|@)/.test(s)) {
        return 'One thing to install, without spaces (quote nothing: it is passed to pip as one argument).';
    }
    return undefined;
}

/** The interpreter of a virtual environment folder (`bin/python`, `Scripts\python.exe` on Windows). */
export function venvPython(venvDir: string, platform: NodeJS.Platform = process.platform): string {
    return platform === 'win32' ? path.win32.join(venvDir, 'Scripts', 'python.exe') : path.posix.join(venvDir, 'bin', 'python');
}

/**
 * The commands that install `spec` for `python`, in order, and the interpreter the server then
 * runs with: with `venvDir`, `python -m venv venvDir` first and pip of the new environment;
 * else pip of `python` itself. `-I` keeps the workspace's files off the interpreter's path.
 */
export function installCommands(
    python: string,
    spec: string,
    venvDir?: string,
    platform: NodeJS.Platform = process.platform,
): { steps: ServerCommand[]; python: string } {
    const target = venvDir ? venvPython(venvDir, platform) : python;
    const steps: ServerCommand[] = [];
    if (venvDir) {
        steps.push({ command: python, args: ['-I', '-m', 'venv', venvDir] });
    }
    steps.push({ command: target, args: ['-I', '-m', 'pip', 'install', '--upgrade', spec.trim()] });
    return { steps, python: target };
}

/** A failed pip's output, reduced to what says why (its last error lines). */
export function pipFailure(stderr: string): string {
    const lines = stderr.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
    const errors = lines.filter((l) => /^(ERROR|error):|externally-managed|No matching distribution|No module named/i.test(l));
    const pick = errors.length ? errors : lines.slice(-2);
    return pick.slice(-2).join(' ').slice(0, 400) || 'pip failed';
}
