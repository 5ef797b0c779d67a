import { spawn } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { resolveModel } from '../../src/weights/resolveModel.ts';
import { readTree } from '../helpers/files.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { type FakeHub, type FakeHubBehaviour, sha256, startFakeHub } from './fakeHub.ts';
import { useTempDirs } from './tempDir.ts';
import { writeTinyPipelineFolder } from './tinyPipelineFolder.ts';

const tempDir = useTempDirs();
const REPO = 'test-org/tiny-sd';
const COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';
const UNET = 'unet/diffusion_pytorch_model.safetensors';
const quiet = { progress: 'none' as const, log: () => {} };
const RESOLVE_MODEL = fileURLToPath(new URL('../../src/weights/resolveModel.ts', import.meta.url));

let hub: FakeHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

async function setUp(behaviour: FakeHubBehaviour = {}) {
  const dir = await tempDir();
  const source = join(dir, 'source');
  await writeTinyPipelineFolder(source, {});
  const files = await readTree(source);
  hub = await startFakeHub([{ repoId: REPO, commit: COMMIT, files }], behaviour);
  const cache = join(dir, 'cache');
  const env: NodeJS.ProcessEnv = {
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: cache,
    HF_HOME: join(dir, 'home'),
  };
  const repoDir = join(cache, 'models--test-org--tiny-sd');
  return { env, files, repoDir, snapshot: join(repoDir, 'snapshots', COMMIT) };
}

/** `resolveModel(REPO)` in a child process of its own, as a second `dnb` run would do it. */
function resolveInChild(env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  const script =
    `const { resolveModel } = await import(${JSON.stringify(RESOLVE_MODEL)});` +
    `await resolveModel(${JSON.stringify(REPO)}, { progress: 'none', log: () => {} });`;
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stderr }));
  });
}

describe('Hub downloads are checked and locked', () => {
  it("refuses an LFS file whose sha256 differs from the Hub's ETag, keeping nothing", async () => {
    const dir = await tempDir();
    await writeTinyPipelineFolder(join(dir, 'probe'), {});
    const original = (await readTree(join(dir, 'probe'))).get(UNET)!;
    // Same size, one byte changed: only the hash can tell.
    const altered = Buffer.from(original);
    altered[altered.length - 1] ^= 0xff;
    const { env, files, repoDir } = await setUp({ servedInstead: new Map([[UNET, altered]]) });
    const message = (await userErrorOf(resolveModel(REPO, { env, ...quiet }))).message;
    expect(message).toMatch(
      new RegExp(
        `^download of ${UNET} from ${REPO} is corrupt: its sha256 is ${sha256(altered)}, the Hub's ETag says ` +
          `${sha256(files.get(UNET)!)}\\. The file was removed; run again to retry`,
      ),
    );
    const blobs = await readdir(join(repoDir, 'blobs'));
    expect(blobs).not.toContain(sha256(files.get(UNET)!));
    expect(blobs.filter((name) => /\.(incomplete|lock)$/.test(name))).toEqual([]);
  });

  it('two processes fetching the same model both succeed and leave intact files', async () => {
    // Each CDN answer waits 300 ms, so both processes are downloading the same blobs at the same time.
    const { env, files, repoDir, snapshot } = await setUp({ cdnDelayMs: 300 });
    const [a, b] = await Promise.all([resolveInChild(env), resolveInChild(env)]);
    expect(a, a.stderr).toMatchObject({ code: 0 });
    expect(b, b.stderr).toMatchObject({ code: 0 });
    for (const [file, data] of files) {
      if (file.startsWith('unet/') || file.startsWith('vae/') || file.startsWith('text_encoder/')) {
        expect(await readFile(join(snapshot, file)), file).toEqual(data);
      }
    }
    const blobs = await readdir(join(repoDir, 'blobs'));
    expect(blobs.filter((name) => /\.(incomplete|lock)/.test(name))).toEqual([]);
  }, 90_000);

  it('takes over the lock of a process that died mid-download', async () => {
    const { env, files, repoDir, snapshot } = await setUp();
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((done) => dead.on('close', done));
    const blob = join(repoDir, 'blobs', sha256(files.get(UNET)!));
    await mkdir(join(repoDir, 'blobs'), { recursive: true });
    await writeFile(`${blob}.lock`, `${dead.pid}@${hostname()}`);
    await writeFile(`${blob}.incomplete`, files.get(UNET)!.subarray(0, 50));
    await resolveModel(REPO, { env, ...quiet });
    expect(await readFile(join(snapshot, UNET))).toEqual(files.get(UNET));
    const blobs = await readdir(join(repoDir, 'blobs'));
    expect(blobs.filter((name) => /\.(incomplete|lock)/.test(name))).toEqual([]);
  }, 30_000);
});
