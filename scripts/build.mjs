/**
 * Builds the package into dist/: the library and CLI compiled by tsc (JavaScript, .d.ts and source maps, with
 * the sources' `.ts` import specifiers rewritten to `.js`), the prompt-set JSON files the code reads beside
 * itself, and the studio's page scripts (web/*.ts) as JavaScript in dist/web/, which the compiled server sends
 * for the same `.ts` URLs (see src/server/staticFiles.ts). Run by `npm run build`, and so by `prepare` (npm ci,
 * npm install in a checkout) and `prepack` (npm pack, npm publish).
 *
 * Plain JavaScript, so that it runs with the bare Node the package targets.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../', import.meta.url));
const dist = join(root, 'dist');
const require = createRequire(import.meta.url);

rmSync(dist, { recursive: true, force: true });

const tsc = join(dirname(require.resolve('typescript/package.json')), 'bin', 'tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });

// Read at run time through new URL('./sets/<name>.json', import.meta.url) in src/benchmark/promptSets.ts.
const sets = join('benchmark', 'sets');
mkdirSync(join(dist, sets), { recursive: true });
for (const name of readdirSync(join(root, 'src', sets)).filter((file) => file.endsWith('.json'))) {
  copyFileSync(join(root, 'src', sets, name), join(dist, sets, name));
}

// The page keeps importing `./api.ts` etc.: its URLs are the same whether the server runs compiled or not.
// esbuild strips the types file by file with the same settings as the on-request transpiler in development.
const { transform } = await import('esbuild');
const web = join(root, 'web');
mkdirSync(join(dist, 'web'), { recursive: true });
for (const name of readdirSync(web).filter((file) => file.endsWith('.ts'))) {
  const { code } = await transform(readFileSync(join(web, name), 'utf8'), {
    loader: 'ts',
    format: 'esm',
    target: 'es2022',
    sourcefile: `web/${name}`,
  });
  writeFileSync(join(dist, 'web', name.replace(/\.ts$/, '.js')), code);
}
