// Bundle the extension (and, with --tests, the unit tests) with esbuild.
import * as esbuild from 'esbuild';
import { readdirSync } from 'node:fs';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const tests = process.argv.includes('--tests');

const options = tests
    ? {
          // unit tests cover logic.ts, which needs no VS Code; `vscode` stays unresolvable on purpose
          entryPoints: readdirSync('test')
              .filter((f) => f.endsWith('.test.ts'))
              .map((f) => `test/${f}`),
          outdir: 'out/test',
          bundle: true,
          platform: 'node',
          format: 'cjs',
          target: 'node20',
          sourcemap: 'inline',
          external: ['vscode'],
          logLevel: 'warning',
      }
    : {
          entryPoints: ['src/extension.ts'],
          outfile: 'dist/extension.js',
          bundle: true,
          platform: 'node',
          format: 'cjs',
          target: 'node20',
          external: ['vscode'],
          minify: production,
          sourcemap: !production,
          sourcesContent: false,
          logLevel: 'warning',
      };

if (watch) {
    const ctx = await esbuild.context(options);
    await ctx.watch();
} else {
    await esbuild.build(options);
}
