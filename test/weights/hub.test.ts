import { lstat, mkdir, readdir, readFile, readlink, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { openDiffusersFolder, openWeights } from '../../src/weights/diffusersFolder.ts';
import { resolveModel } from '../../src/weights/resolveModel.ts';
import { readTree } from '../helpers/files.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { type FakeHub, type FakeHubBehaviour, sha256, startFakeHub } from './fakeHub.ts';
import { useTempDirs } from './tempDir.ts';
import { type TinyFolderOptions, tinyValues, writeTinyPipelineFolder } from './tinyPipelineFolder.ts';

const tempDir = useTempDirs();
const REPO = 'test-org/tiny-sd';
const COMMIT = '0123456789abcdef0123456789abcdef01234567';
const quiet = { progress: 'none' as const, log: () => {} };

/** What a Stable Diffusion repo on the Hub also holds, which the pipeline must not download. */
const UNUSED_FILES = {
  'README.md': '# tiny',
  '.gitattributes': '*.safetensors filter=lfs',
  'unet/diffusion_pytorch_model.bin': 'pickle',
  'vae/diffusion_pytorch_model.ckpt': 'pickle',
  'safety_checker/config.json': '{}',
  'safety_checker/model.safetensors': 'weights',
  'feature_extractor/preprocessor_config.json': '{}',
  'text_encoder/flax_model.msgpack': 'flax',
};

const PLAIN_PIPELINE_FILES = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'text_encoder/model.safetensors',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer/vocab.json',
  'unet/config.json',
  'unet/diffusion_pytorch_model.safetensors',
  'vae/config.json',
  'vae/diffusion_pytorch_model.safetensors',
];

let hub: FakeHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

const TOKENIZER_FILES = PLAIN_PIPELINE_FILES.filter((file) => file.startsWith('tokenizer/'));

/** The repo files the Hub was asked about (HEAD or GET on a resolve URL), sorted. */
function resolvedFiles(requests: FakeHub['requests']): string[] {
  const files = requests.flatMap((r) => /\/resolve\/[^/]+\/(.+)$/.exec(r.path)?.[1] ?? []);
  return [...new Set(files)].sort();
}

/** A fake Hub serving a tiny pipeline repo, and the environment that points at it and a temp cache. */
async function setUp(folder: TinyFolderOptions = { fp16: true }, behaviour: FakeHubBehaviour = {}) {
  const dir = await tempDir();
  const source = join(dir, 'source');
  await writeTinyPipelineFolder(source, { ...folder, extraFiles: { ...UNUSED_FILES, ...folder.extraFiles } });
  const files = await readTree(source);
  hub = await startFakeHub([{ repoId: REPO, commit: COMMIT, files }], behaviour);
  const cache = join(dir, 'cache');
  const env: NodeJS.ProcessEnv = {
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: cache,
    HF_HOME: join(dir, 'home'),
  };
  const repoDir = join(cache, 'models--test-org--tiny-sd');
  return { dir, env, cache, files, repoDir, snapshot: join(repoDir, 'snapshots', COMMIT), hub };
}

async function listFiles(root: string): Promise<string[]> {
  return [...(await readTree(root)).keys()].sort();
}

describe('resolveModel from the Hub', () => {
  it('downloads only the pipeline files into the huggingface_hub cache layout', async () => {
    const { env, files, repoDir, snapshot, hub } = await setUp();
    const folder = await resolveModel(REPO, { env, ...quiet });
    expect(folder).toBe(snapshot);
    expect(await readFile(join(repoDir, 'refs/main'), 'utf8')).toBe(COMMIT);
    expect(await listFiles(snapshot)).toEqual(PLAIN_PIPELINE_FILES);

    // Weights are relative links to blobs named by their sha256, as huggingface_hub makes them.
    const unet = 'unet/diffusion_pytorch_model.safetensors';
    const link = join(snapshot, unet);
    expect((await lstat(link)).isSymbolicLink()).toBe(true);
    expect(await readlink(link)).toBe(`../../../blobs/${sha256(files.get(unet)!)}`);
    expect(await readFile(link)).toEqual(files.get(unet));
    expect((await lstat(join(snapshot, 'model_index.json'))).isSymbolicLink()).toBe(true);
    const blobs = await readdir(join(repoDir, 'blobs'));
    expect(blobs).toHaveLength(PLAIN_PIPELINE_FILES.length);
    expect(blobs.some((name) => name.endsWith('.incomplete'))).toBe(false);

    const pipeline = await openDiffusersFolder(folder);
    const weights = await openWeights(pipeline, 'unet');
    expect(await weights.readFloat32('conv_in.bias')).toEqual(tinyValues('conv_in.bias', [4]));

    const paths = hub.requests.map((r) => r.path);
    for (const unused of Object.keys(UNUSED_FILES)) expect(paths.some((p) => p.endsWith(unused))).toBe(false);
    expect(paths.some((p) => p.includes('.fp16.'))).toBe(false);
    expect(hub.requests.every((r) => r.headers['accept-encoding'] === 'identity')).toBe(true);
    expect(hub.requests.some((r) => r.headers.authorization !== undefined)).toBe(false);
  });

  it('uses the cache on the second run: no requests for files, none at all offline', async () => {
    const { env, snapshot, hub } = await setUp();
    await resolveModel(REPO, { env, ...quiet });
    hub.requests.length = 0;
    expect(await resolveModel(REPO, { env, ...quiet })).toBe(snapshot);
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /api/models/${REPO}/revision/main`,
    ]);
    hub.requests.length = 0;
    expect(await resolveModel(REPO, { env: { ...env, HF_HUB_OFFLINE: '1' }, ...quiet })).toBe(snapshot);
    expect(hub.requests).toEqual([]);
  });

  it('downloads the fp16 variant on request, reusing the files it shares with the plain snapshot', async () => {
    const { env, snapshot, hub } = await setUp();
    await resolveModel(REPO, { env, ...quiet });
    hub.requests.length = 0;
    const folder = await resolveModel(REPO, { env, variant: 'fp16', ...quiet });
    expect(folder).toBe(snapshot);
    const fetched = hub.requests.filter((r) => r.method === 'HEAD').map((r) => r.path.split('/resolve/')[1]);
    expect(fetched.sort()).toEqual([
      `${COMMIT}/text_encoder/model.fp16.safetensors`,
      `${COMMIT}/unet/diffusion_pytorch_model.fp16.safetensors`,
      `${COMMIT}/vae/diffusion_pytorch_model.fp16.safetensors`,
    ]);
    const vae = await openWeights(await openDiffusersFolder(folder), 'vae', { variant: 'fp16' });
    expect(vae.get('decoder.conv_in.bias').info.dtype).toBe('F16');
    expect(await vae.readFloat32('decoder.conv_in.bias')).toEqual(
      tinyValues('decoder.conv_in.bias', [4], 100),
    );
  });

  it('fetches only model_index.json and the tokenizer when asked for it; the full pipeline later reuses them', async () => {
    const { env, repoDir, snapshot, hub } = await setUp();
    expect(await resolveModel(REPO, { env, components: ['tokenizer'], ...quiet })).toBe(snapshot);
    expect(await listFiles(snapshot)).toEqual(['model_index.json', ...TOKENIZER_FILES]);
    expect(resolvedFiles(hub.requests)).toEqual(['model_index.json', ...TOKENIZER_FILES]);
    expect(hub.requests.some((r) => r.path.startsWith('/cdn/') || r.path.endsWith('.safetensors'))).toBe(
      false,
    );
    expect(await readdir(join(repoDir, 'blobs'))).toHaveLength(1 + TOKENIZER_FILES.length);

    hub.requests.length = 0;
    expect(await resolveModel(REPO, { env, ...quiet })).toBe(snapshot);
    expect(await listFiles(snapshot)).toEqual(PLAIN_PIPELINE_FILES);
    const cached = new Set(['model_index.json', ...TOKENIZER_FILES]);
    expect(resolvedFiles(hub.requests)).toEqual(PLAIN_PIPELINE_FILES.filter((file) => !cached.has(file)));
    const unet = await openWeights(await openDiffusersFolder(snapshot), 'unet');
    expect(await unet.readFloat32('conv_in.bias')).toEqual(tinyValues('conv_in.bias', [4]));
  });

  it('offline with only the tokenizer cached: serves a tokenizer request, refuses a full one clearly', async () => {
    const { env, snapshot, hub } = await setUp();
    await resolveModel(REPO, { env, components: ['tokenizer'], ...quiet });
    hub.requests.length = 0;
    const offline = { ...env, HF_HUB_OFFLINE: '1' };
    expect(await resolveModel(REPO, { env: offline, components: ['tokenizer'], ...quiet })).toBe(snapshot);

    const message = (await userErrorOf(resolveModel(REPO, { env: offline, ...quiet }))).message;
    expect(message).toMatch(
      new RegExp(
        `test-org/tiny-sd@main is not in the Hugging Face cache .*\\(the snapshot of commit ${COMMIT} holds ` +
          'no text_encoder/, unet/, vae/, scheduler/\\) and HF_HUB_OFFLINE is set',
      ),
    );
    expect(message).toMatch(/unset HF_HUB_OFFLINE/);
    expect(hub.requests).toEqual([]);
  });

  it('fetches sharded weights: the index, then the shards it names', async () => {
    const { env, snapshot } = await setUp({ shardedUnet: true });
    await resolveModel(REPO, { env, ...quiet });
    expect((await listFiles(snapshot)).filter((f) => f.startsWith('unet/diffusion'))).toEqual([
      'unet/diffusion_pytorch_model-00001-of-00002.safetensors',
      'unet/diffusion_pytorch_model-00002-of-00002.safetensors',
      'unet/diffusion_pytorch_model.safetensors.index.json',
    ]);
    const unet = await openWeights(await openDiffusersFolder(snapshot), 'unet');
    expect(unet.files).toHaveLength(2);
  });

  it('resumes a partial .incomplete blob with a Range request', async () => {
    const { env, files, repoDir, snapshot, hub } = await setUp();
    const unet = files.get('unet/diffusion_pytorch_model.safetensors')!;
    const blob = join(repoDir, 'blobs', sha256(unet));
    const half = Math.floor(unet.byteLength / 2);
    await mkdir(join(repoDir, 'blobs'), { recursive: true });
    await writeFile(`${blob}.incomplete`, unet.subarray(0, half));

    const lines: string[] = [];
    await resolveModel(REPO, { env, progress: 'lines', log: (line) => lines.push(line) });
    const cdnRequests = hub.requests.filter((r) => r.path === `/cdn/${sha256(unet)}`);
    expect(cdnRequests.map((r) => r.headers.range)).toEqual([`bytes=${half}-`]);
    expect(await readFile(blob)).toEqual(unet);
    expect(await readFile(join(snapshot, 'unet/diffusion_pytorch_model.safetensors'))).toEqual(unet);
    await expect(stat(`${blob}.incomplete`)).rejects.toThrow();
    expect(lines.some((line) => /unet\/diffusion_pytorch_model.safetensors \(.*resuming at/.test(line))).toBe(
      true,
    );
  });

  it('resumes within the same run when the connection drops mid-file', async () => {
    const file = 'unet/diffusion_pytorch_model.safetensors';
    const { env, files, snapshot, hub } = await setUp({}, { cutOnceAfter: new Map([[file, 100]]) });
    await resolveModel(REPO, { env, ...quiet });
    const ranges = hub.requests.filter((r) => r.path.startsWith('/cdn/')).map((r) => r.headers.range);
    expect(ranges).toContain('bytes=100-');
    expect(await readFile(join(snapshot, file))).toEqual(files.get(file));
  });

  it('refuses a download whose size differs from the announced one, keeping nothing', async () => {
    const file = 'vae/diffusion_pytorch_model.safetensors';
    const { env, files, repoDir, snapshot } = await setUp(
      {},
      { servedInstead: new Map([[file, Buffer.from('too short')]]) },
    );
    const message = (await userErrorOf(resolveModel(REPO, { env, ...quiet }))).message;
    const size = files.get(file)!.byteLength;
    expect(message).toMatch(
      new RegExp(`download of ${file} from ${REPO} has the wrong size: 9 bytes, the Hub announced ${size}`),
    );
    const blobs = await readdir(join(repoDir, 'blobs'));
    expect(blobs).not.toContain(sha256(files.get(file)!));
    expect(blobs.some((name) => name.endsWith('.incomplete'))).toBe(false);
    await expect(lstat(join(snapshot, file))).rejects.toThrow();
  });

  it('explains a 401: HF_TOKEN and licence acceptance; sends the token as a Bearer header', async () => {
    const { env, hub } = await setUp({}, { requireToken: 'hf_secret' });
    const message = (await userErrorOf(resolveModel(REPO, { env, ...quiet }))).message;
    expect(message).toMatch(/repository test-org\/tiny-sd not found on http:\/\/127.0.0.1:\d+ \(HTTP 401\)/);
    expect(message).toMatch(/set HF_TOKEN to an access token/);
    expect(message).toMatch(/accept its licence/);

    await resolveModel(REPO, { env: { ...env, HF_TOKEN: 'hf_secret' }, ...quiet });
    const toHub = hub.requests.filter((r) => !r.path.startsWith('/cdn/')).slice(1);
    expect(toHub.length).toBeGreaterThan(0);
    expect(toHub.every((r) => r.headers.authorization === 'Bearer hf_secret')).toBe(true);
  });

  it('explains a gated repo: accept the licence with the account of the token', async () => {
    const { env, dir } = await setUp({}, { requireToken: 'hf_right', gated: true });
    // The token saved by `huggingface-cli login` is used when HF_TOKEN is not set.
    await mkdir(join(dir, 'home'), { recursive: true });
    await writeFile(join(dir, 'home/token'), 'hf_wrong\n');
    const message = (await userErrorOf(resolveModel(REPO, { env, ...quiet }))).message;
    expect(message).toMatch(
      /test-org\/tiny-sd is a gated model: accept its licence on http:\/\/127.0.0.1:\d+\/test-org\/tiny-sd/,
    );
    expect(message).toMatch(/the token in HF_TOKEN .* was sent/);
    expect(message).toMatch(/HTTP 403/);
  });

  it('reports a missing repository and a missing revision', async () => {
    const { env } = await setUp();
    expect((await userErrorOf(resolveModel('test-org/nope', { env, ...quiet }))).message).toMatch(
      /repository test-org\/nope not found/,
    );
    expect((await userErrorOf(resolveModel(REPO, { env, revision: 'v9', ...quiet }))).message).toMatch(
      /revision "v9" not found in test-org\/tiny-sd/,
    );
  });

  it('offline with nothing cached: a clear error and no requests', async () => {
    const { env, hub } = await setUp();
    const message = (
      await userErrorOf(resolveModel(REPO, { env: { ...env, HF_HUB_OFFLINE: '1' }, ...quiet }))
    ).message;
    expect(message).toMatch(
      /test-org\/tiny-sd@main is not in the Hugging Face cache .*HF_HUB_OFFLINE is set/,
    );
    expect(message).toMatch(/pass a local diffusers folder/);
    expect(hub.requests).toEqual([]);
  });

  it('offline with the plain weights cached but fp16 asked for: says what is missing', async () => {
    const { env } = await setUp();
    await resolveModel(REPO, { env, ...quiet });
    const message = (
      await userErrorOf(
        resolveModel(REPO, { env: { ...env, HF_HUB_OFFLINE: '1' }, variant: 'fp16', ...quiet }),
      )
    ).message;
    expect(message).toMatch(/not in the Hugging Face cache .*no "fp16" variant of the weights/);
  });

  it('a network failure mentions HF_HUB_OFFLINE and local folders, and falls back to a complete cache', async () => {
    const { env, snapshot } = await setUp();
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const unreachable = { ...env, HF_ENDPOINT: `http://127.0.0.1:${port}` };

    const message = (await userErrorOf(resolveModel(REPO, { env: unreachable, ...quiet }))).message;
    expect(message).toMatch(/cannot reach http:\/\/127.0.0.1:\d+ \(ECONNREFUSED\)/);
    expect(message).toMatch(/set HF_HUB_OFFLINE=1/);
    expect(message).toMatch(/local diffusers folder/);

    await resolveModel(REPO, { env, ...quiet });
    const lines: string[] = [];
    expect(await resolveModel(REPO, { env: unreachable, progress: 'none', log: (l) => lines.push(l) })).toBe(
      snapshot,
    );
    expect(lines).toEqual([
      `warning: cannot reach http://127.0.0.1:${port} (ECONNREFUSED); using the cached snapshot ${snapshot}`,
    ]);
  });

  it('fetches the PyTorch .bin weights of a component without safetensors, and only those', async () => {
    const { env, snapshot, hub } = await setUp({
      plain: false,
      extraFiles: { 'text_encoder/pytorch_model.bin': 'pickle', 'text_encoder/model.bin': 'pickle' },
    });
    // The VAE has only a .ckpt (UNUSED_FILES), under no name a diffusers component uses.
    const message = (await userErrorOf(resolveModel(REPO, { env, ...quiet }))).message;
    expect(message).toMatch(
      /test-org\/tiny-sd@main\/vae: no weights under the names this program reads .*diffusion_pytorch_model.ckpt are not read/,
    );
    hub.requests.length = 0;
    await resolveModel(REPO, { env, components: ['text_encoder'], ...quiet });
    // model_index.json came with the refused run: its pipeline class decides the components.
    expect(resolvedFiles(hub.requests)).toEqual([
      'text_encoder/config.json',
      'text_encoder/pytorch_model.bin',
    ]);
    expect(await readFile(join(snapshot, 'text_encoder/pytorch_model.bin'), 'utf8')).toBe('pickle');
  });

  it('pins a commit: no ref file is written for a commit hash', async () => {
    const { env, repoDir, snapshot } = await setUp();
    expect(await resolveModel(REPO, { env, revision: COMMIT, ...quiet })).toBe(snapshot);
    await expect(stat(join(repoDir, 'refs'))).rejects.toThrow();
  });
});

describe('resolveModel with local paths', () => {
  it('uses an existing folder as it is, without any request', async () => {
    const dir = await tempDir();
    expect(await resolveModel(dir, { env: { HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_OFFLINE: '0' } })).toBe(
      dir,
    );
  });

  it('says when a path-like argument does not exist or is a file', async () => {
    const dir = await tempDir();
    expect((await userErrorOf(resolveModel('./no/such/folder'))).message).toMatch(
      /model folder .* not found/,
    );
    expect((await userErrorOf(resolveModel(join(dir, 'missing')))).message).toMatch(/not found/);
    await writeFile(join(dir, 'model.safetensors'), '');
    expect((await userErrorOf(resolveModel(join(dir, 'model.safetensors')))).message).toMatch(/is a file/);
    expect((await userErrorOf(resolveModel('bad--id'))).message).toMatch(
      /not a valid Hugging Face repo id|neither/,
    );
  });
});
