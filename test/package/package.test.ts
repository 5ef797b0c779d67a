/**
 * The published package as a user gets it: `npm pack` (which builds dist/ through `prepare`), installed into an
 * empty folder with no network, then run with plain Node (no tsx anywhere the package can resolve) and compiled
 * against by a TypeScript consumer.
 *
 * Installing offline: npm's cache holds tarballs but not the registry's package documents, so
 * `npm install --offline` cannot resolve the dependencies' version ranges. The consumer folder therefore links
 * the project's already-installed production dependencies (exactly package.json's `dependencies`, so a missing
 * one fails the import) and npm installs only the tarball beside them. `--ignore-scripts` keeps npm from running
 * the linked packages' own lifecycle scripts inside the project's node_modules; ONNXRUNTIME_NODE_INSTALL=skip
 * is what a user sets to keep onnxruntime-node's install script from downloading CUDA files.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PROJECT = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
};

interface Run {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (bounded in time), failing with its output when it exits non-zero. */
function run(command: string, args: readonly string[], cwd: string, timeoutMs = 60_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      args,
      {
        cwd,
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
        env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: 'skip', NODE_OPTIONS: '' },
      },
      (error, stdout, stderr) => {
        if (error)
          reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}\n${stderr}`));
        else resolve({ stdout, stderr });
      },
    );
  });
}

let temp: string;
let consumer: string;
let tarballFiles: string[];

beforeAll(async () => {
  temp = await mkdtemp(join(tmpdir(), 'dnb-package-'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', temp], ROOT, 180_000);
  // npm pack prints the build's output before its JSON report.
  const report = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('[\n'))) as {
    filename: string;
    files: { path: string }[];
  }[];
  tarballFiles = report[0].files.map((file) => file.path);

  consumer = join(temp, 'consumer');
  await mkdir(join(consumer, 'node_modules', '@types'), { recursive: true });
  await writeFile(
    join(consumer, 'package.json'),
    '{ "name": "consumer", "private": true, "type": "module" }\n',
  );
  for (const name of Object.keys(PROJECT.dependencies)) {
    await mkdir(dirname(join(consumer, 'node_modules', name)), { recursive: true });
    await symlink(join(ROOT, 'node_modules', name), join(consumer, 'node_modules', name));
  }
  const flags = ['--offline', '--ignore-scripts', '--no-package-lock', '--no-audit', '--no-fund'];
  await run('npm', ['install', ...flags, join(temp, report[0].filename)], consumer, 120_000);
}, 300_000);

afterAll(async () => {
  if (temp) await rm(temp, { recursive: true, force: true });
});

describe('the packed package', () => {
  it('ships compiled JavaScript with types, the data files and the compiled page, and no TypeScript sources', () => {
    for (const file of [
      'bin/dnb.js',
      'dist/index.js',
      'dist/index.d.ts',
      'dist/cli/main.js',
      'dist/benchmark/sets/animal-animal.json',
      'dist/web/studio.js',
      'web/index.html',
      'web/studio.css',
      'package.json',
    ]) {
      expect(tarballFiles).toContain(file);
    }
    expect(tarballFiles.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    expect(tarballFiles.filter((file) => file.startsWith('src/'))).toEqual([]);
  });

  it('needs neither tsx nor esbuild at run time', async () => {
    const installed = JSON.parse(
      await readFile(join(consumer, 'node_modules', 'divide-and-bind', 'package.json'), 'utf8'),
    ) as { dependencies: Record<string, string> };
    expect(Object.keys(installed.dependencies)).not.toContain('tsx');
    expect(Object.keys(installed.dependencies)).not.toContain('esbuild');
  });

  it('runs `dnb --help` and `dnb --version` through the bin, from dist/', async () => {
    const dnb = join(consumer, 'node_modules', '.bin', 'dnb');
    const help = await run(dnb, ['--help'], consumer);
    expect(help.stdout).toContain('Usage: dnb');
    expect(help.stdout).toContain('generate');
    // The version comes from package.json, read relative to the compiled dist/cli/program.js.
    expect((await run(dnb, ['--version'], consumer)).stdout.trim()).toBe(PROJECT.version);
  });

  it('imports as a library with plain Node, and reads its prompt sets from dist/', async () => {
    const script = [
      "const api = await import('divide-and-bind');",
      // Not exported: imported by its file, to see that the JSON beside the compiled module is found.
      "const sets = new URL('./node_modules/divide-and-bind/dist/benchmark/promptSets.js', 'file://' + process.cwd() + '/');",
      'const { listPromptSets } = await import(sets);',
      'console.log(JSON.stringify({ exports: Object.keys(api), sets: listPromptSets() }));',
    ].join('\n');
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], consumer);
    const result = JSON.parse(stdout) as { exports: string[]; sets: { name: string; size?: number }[] };
    expect(result.exports).toEqual(expect.arrayContaining(['UserError', 'ClipTokenizer', 'graph', 'unet']));
    const animals = result.sets.find((set) => set.name === 'animal-animal');
    expect(animals?.size).toBeGreaterThan(0);
  });

  it('serves the studio page compiled at build time, under the same .ts URLs', async () => {
    const script = `
      import { createServer } from 'node:http';
      const base = new URL('./node_modules/divide-and-bind/dist/server/', 'file://${consumer}/');
      const { serveStatic } = await import(new URL('staticFiles.js', base));
      const { WEB_ROOT } = await import(new URL('studioServer.js', base));
      const server = createServer((request, response) => serveStatic(WEB_ROOT, request, response));
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      const url = 'http://127.0.0.1:' + server.address().port;
      const answers = {};
      for (const path of ['/', '/studio.ts', '/api.ts', '/missing.ts']) {
        const response = await fetch(url + path);
        answers[path] = { status: response.status, type: response.headers.get('content-type'), body: await response.text() };
      }
      server.close();
      console.log(JSON.stringify(answers));`;
    const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], consumer);
    const answers = JSON.parse(stdout) as Record<string, { status: number; type: string; body: string }>;
    expect(answers['/'].status).toBe(200);
    expect(answers['/'].body).toContain('studio.ts');
    const compiled = await readFile(join(ROOT, 'dist', 'web', 'studio.js'), 'utf8');
    expect(answers['/studio.ts']).toEqual({
      status: 200,
      type: 'text/javascript; charset=utf-8',
      body: compiled,
    });
    // Type-only imports are gone and the value imports keep the URLs the server answers.
    expect(answers['/studio.ts'].body).not.toContain('studioProtocol');
    expect(answers['/studio.ts'].body).toMatch(/from ["']\.\/api\.ts["']/);
    expect(answers['/api.ts'].status).toBe(200);
    expect(answers['/missing.ts'].status).toBe(404);
  });

  it('compiles a TypeScript consumer against its .d.ts files', async () => {
    await symlink(
      join(ROOT, 'node_modules', '@types', 'node'),
      join(consumer, 'node_modules', '@types', 'node'),
    );
    await writeFile(
      join(consumer, 'consumer.ts'),
      [
        "import { ClipTokenizer, defaultSettings, type GsnSettings, UserError } from 'divide-and-bind';",
        "const settings: GsnSettings = defaultSettings('divide-bind');",
        "const error: Error = new UserError('a message');",
        'const fromFolder: (folder: string) => ClipTokenizer = ClipTokenizer.fromFolder;',
        '// Fails the compile if the types were missing (any): the argument must be a method name.',
        '// @ts-expect-error',
        'defaultSettings(42);',
        'console.log(settings, error, fromFolder);',
        '',
      ].join('\n'),
    );
    await writeFile(
      join(consumer, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          types: ['node'],
          // Checks the package's .d.ts files too, not only their use.
          skipLibCheck: false,
        },
        files: ['consumer.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    await run(process.execPath, [tsc, '-p', consumer], consumer);
  });
});
