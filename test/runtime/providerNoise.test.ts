import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import {
  assertProviderLoadable,
  canLoadLibrary,
  setRuntimeLogging,
  VULKAN_LOADER,
} from '../../src/runtime/providers.ts';
import { userErrorOf } from '../helpers/userError.ts';

const root = mkdtempSync(join(tmpdir(), 'dnb-provider-noise-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
afterEach(() => setRuntimeLogging(false));

const src = (path: string) => JSON.stringify(fileURLToPath(new URL(`../../src/${path}`, import.meta.url)));

/** Runs an ES module snippet in a fresh Node (tsx), as `dnb` would, and returns what it printed. */
function runChild(script: string): { stdout: string; stderr: string; status: number | null } {
  const result = spawnSync(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { stdout: result.stdout, stderr: result.stderr, status: result.status };
}

/**
 * Compiles a one-node graph on WebGPU. Sessions check the provider first; `precheck: false` turns the check off
 * the only way there is, verbose runtime logging, to show what the runtime alone does.
 */
const webgpuSession = (precheck: boolean) =>
  `const G = await import(${src('graph/index.ts')});` +
  `const { CompiledGraph } = await import(${src('runtime/session.ts')});` +
  `const { setRuntimeLogging } = await import(${src('runtime/providers.ts')});` +
  'const g = new G.Graph(); const x = g.input("x", [2, 3]);' +
  (precheck ? '' : 'setRuntimeLogging(true);') +
  'try {' +
  `  await CompiledGraph.compile({ y: G.exp(x) }, { device: "webgpu", cacheDir: ${JSON.stringify(root)} });` +
  '  console.log("started");' +
  '} catch (error) { console.log("refused: " + error.message); }';

describe('finding a provider that cannot start before the runtime prints native noise', () => {
  it('asks the dynamic loader: a system library is found, a missing one is not, a copy in a folder is', () => {
    expect(canLoadLibrary('libc.so.6')).toBe(true);
    expect(canLoadLibrary('libdnb-no-such-library.so.1')).toBe(false);
    const folder = mkdtempSync(join(root, 'libs-'));
    writeFileSync(join(folder, 'libdnb-no-such-library.so.1'), '');
    expect(canLoadLibrary('libdnb-no-such-library.so.1', [folder])).toBe(true);
  });

  it('checks only WebGPU on Linux, and nothing with --verbose', () => {
    expect(() => assertProviderLoadable('cpu')).not.toThrow();
    expect(() => assertProviderLoadable('cuda')).not.toThrow();
    expect(() => assertProviderLoadable('webgpu', 'darwin')).not.toThrow();
    expect(() => assertProviderLoadable('webgpu', 'win32')).not.toThrow();
    setRuntimeLogging(true);
    expect(() => assertProviderLoadable('webgpu')).not.toThrow();
  });

  it.runIf(process.platform === 'linux' && !canLoadLibrary(VULKAN_LOADER))(
    'without the Vulkan loader, WebGPU is one line and Dawn prints nothing; the runtime alone fails noisily',
    async () => {
      const message = (await userErrorOf(Promise.resolve().then(() => assertProviderLoadable('webgpu'))))
        .message;
      expect(message).toBe(
        'the webgpu execution provider is not available here (libvulkan.so.1, the Vulkan loader Dawn needs, ' +
          'was not found). WebGPU runs through Dawn, which needs a Vulkan driver on Linux (Debian: apt-get ' +
          'install mesa-vulkan-drivers libvulkan1) and a GPU it supports.',
      );

      const checked = runChild(webgpuSession(true));
      expect(checked.stdout.trim()).toBe(`refused: ${message}`);
      expect(checked.stderr.replace(/^npm warn.*\n/gm, '')).toBe('');

      // What the check spares: the runtime fails here too (so the check refuses nothing that would have
      // worked), after Dawn's two lines of its own on stderr, which no log level reaches.
      const unchecked = runChild(webgpuSession(false));
      expect(unchecked.stdout).toMatch(/^refused: the webgpu execution provider is not available here \(/);
      expect(unchecked.stderr).toContain(`Warning: Couldn't load Vulkan: ${VULKAN_LOADER}`);
    },
    120_000,
  );

  it.runIf(process.platform === 'linux' && canLoadLibrary(VULKAN_LOADER))(
    'with the Vulkan loader installed, the check lets the runtime decide',
    () => {
      expect(() => assertProviderLoadable('webgpu')).not.toThrow();
    },
  );
});
