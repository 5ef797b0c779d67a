import { readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openPytorchCheckpoint } from '../../src/weights/pytorchCheckpoint.ts';
import { resolveTransformersModel } from '../../src/weights/resolveTransformersModel.ts';
import { openComponentWeights } from '../../src/weights/weightIndex.ts';
import { readTree } from '../helpers/files.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { type FakeHub, startFakeHub } from './fakeHub.ts';
import { useTempDirs } from './tempDir.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');
const CLIP_FOLDER = join(FIXTURES, 'eval/clip-tiny');
const BLIP_FOLDER = join(FIXTURES, 'eval/blip-caption-tiny');
const PYTORCH = join(FIXTURES, 'weights/pytorch');
const CLIP_REPO = 'test-org/clip-tiny';
const BLIP_REPO = 'test-org/blip-tiny';
const CLIP_COMMIT = '1111111111111111111111111111111111111111';
const BLIP_COMMIT = '2222222222222222222222222222222222222222';
const quiet = { progress: 'none' as const, log: () => {} };
const tempDir = useTempDirs();

/** What real CLIP and BLIP repositories hold besides what the models read. */
const UNUSED = {
  'README.md': '# tiny',
  '.gitattributes': '*.bin filter=lfs',
  'tf_model.h5': 'tensorflow weights',
  'flax_model.msgpack': 'flax weights',
  'onnx/model.onnx': 'onnx export',
};

let hub: FakeHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

const text = (value: string) => Buffer.from(value);

/**
 * A CLIP-like repo (clip-tiny's files, plus a pytorch_model.bin beside model.safetensors), and a BLIP-like
 * one with only pytorch_model.bin, as Salesforce/blip-image-captioning-base has it.
 */
async function setUp(blipExtra: Record<string, Buffer> = {}, blipWithout: string[] = []) {
  const clipFiles = await readTree(CLIP_FOLDER);
  clipFiles.set('pytorch_model.bin', await readFile(join(PYTORCH, 'clip-text-subset.bin')));
  const blipFiles = await readTree(BLIP_FOLDER);
  blipFiles.delete('model.safetensors');
  blipFiles.set('pytorch_model.bin', await readFile(join(PYTORCH, 'clip-text-subset.bin')));
  for (const [name, value] of Object.entries(UNUSED)) {
    clipFiles.set(name, text(value));
    blipFiles.set(name, text(value));
  }
  for (const [name, value] of Object.entries(blipExtra)) blipFiles.set(name, value);
  for (const name of blipWithout) blipFiles.delete(name);
  hub = await startFakeHub([
    { repoId: CLIP_REPO, commit: CLIP_COMMIT, files: clipFiles },
    { repoId: BLIP_REPO, commit: BLIP_COMMIT, files: blipFiles },
  ]);
  const dir = await tempDir();
  const cache = join(dir, 'cache');
  const env: NodeJS.ProcessEnv = {
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: cache,
    HF_HOME: join(dir, 'home'),
  };
  const snapshot = (repo: string, commit: string) =>
    join(cache, `models--${repo.replace('/', '--')}`, 'snapshots', commit);
  return {
    hub,
    env,
    clipFiles,
    blipFiles,
    clipSnapshot: snapshot(CLIP_REPO, CLIP_COMMIT),
    blipSnapshot: snapshot(BLIP_REPO, BLIP_COMMIT),
  };
}

/** The repo files the Hub was asked about (HEAD or GET on a resolve URL), sorted. */
function resolvedFiles(requests: FakeHub['requests']): string[] {
  const files = requests.flatMap((r) => /\/resolve\/[^/]+\/(.+)$/.exec(r.path)?.[1] ?? []);
  return [...new Set(files)].sort();
}

const listFiles = async (root: string) => [...(await readTree(root)).keys()].sort();

const CLIP_NEEDED = [
  'config.json',
  'merges.txt',
  'model.safetensors',
  'preprocessor_config.json',
  'special_tokens_map.json',
  'tokenizer_config.json',
  'vocab.json',
];
const BLIP_NEEDED = [
  'config.json',
  'generation_config.json',
  'preprocessor_config.json',
  'pytorch_model.bin',
  'special_tokens_map.json',
  'tokenizer_config.json',
  'vocab.txt',
];

describe('resolveTransformersModel from the Hub', () => {
  it('downloads only what CLIP reads, with model.safetensors over pytorch_model.bin', async () => {
    const { env, hub, clipFiles, clipSnapshot } = await setUp();
    expect(await resolveTransformersModel(CLIP_REPO, { files: 'clip', env, ...quiet })).toBe(clipSnapshot);
    expect(resolvedFiles(hub.requests)).toEqual(CLIP_NEEDED);
    expect(await listFiles(clipSnapshot)).toEqual(CLIP_NEEDED);
    const downloaded = await readFile(join(clipSnapshot, 'model.safetensors'));
    expect(downloaded.equals(clipFiles.get('model.safetensors')!)).toBe(true);
    const weights = await openComponentWeights(clipSnapshot);
    expect(weights.describeFiles()).toBe(join(clipSnapshot, 'model.safetensors'));
  });

  it('downloads pytorch_model.bin for a BLIP repo that has no safetensors, and reads it', async () => {
    const { env, hub, blipSnapshot } = await setUp();
    expect(await resolveTransformersModel(BLIP_REPO, { files: 'blip', env, ...quiet })).toBe(blipSnapshot);
    expect(resolvedFiles(hub.requests)).toEqual(BLIP_NEEDED);
    expect(await listFiles(blipSnapshot)).toEqual(BLIP_NEEDED);
    const weights = await openComponentWeights(blipSnapshot);
    expect(weights.describeFiles()).toBe(join(blipSnapshot, 'pytorch_model.bin'));
    const original = await openPytorchCheckpoint(join(PYTORCH, 'clip-text-subset.bin'));
    expect(await weights.readFloat32('text_projection.weight')).toEqual(
      await original.readFloat32('text_projection.weight'),
    );
  });

  it('takes tokenizer.json over vocab.txt for BLIP, and fetches sharded .bin weights through their index', async () => {
    const shards = await readTree(join(PYTORCH, 'sharded'));
    const { env, hub, blipSnapshot } = await setUp(
      { 'tokenizer.json': text('{}'), ...Object.fromEntries(shards) },
      ['pytorch_model.bin'],
    );
    await resolveTransformersModel(BLIP_REPO, { files: 'blip', env, ...quiet });
    expect(resolvedFiles(hub.requests)).toEqual(
      [
        ...BLIP_NEEDED.filter((name) => name !== 'pytorch_model.bin' && name !== 'vocab.txt'),
        'tokenizer.json',
        ...shards.keys(),
      ].sort(),
    );
    expect((await openComponentWeights(blipSnapshot)).files).toHaveLength(2);
  });

  it('fetches a list of files on request, and says which ones a repository lacks', async () => {
    const { env, hub, clipSnapshot } = await setUp();
    await resolveTransformersModel(CLIP_REPO, { files: ['tokenizer_config.json'], env, ...quiet });
    expect(resolvedFiles(hub.requests)).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer_config.json',
    ]);
    expect(await listFiles(clipSnapshot)).toEqual([
      'config.json',
      'model.safetensors',
      'tokenizer_config.json',
    ]);

    expect(
      (await userErrorOf(resolveTransformersModel(BLIP_REPO, { files: 'clip', env, ...quiet }))).message,
    ).toBe(`${BLIP_REPO}@main is missing vocab.json, merges.txt, which a CLIP model needs`);
  });

  it('uses the cache offline: no requests, and a clear error for what was never downloaded', async () => {
    const { env, hub, blipSnapshot } = await setUp();
    await resolveTransformersModel(BLIP_REPO, { files: 'blip', env, ...quiet });
    hub.requests.length = 0;
    const offline = { ...env, HF_HUB_OFFLINE: '1' };
    expect(await resolveTransformersModel(BLIP_REPO, { files: 'blip', env: offline, ...quiet })).toBe(
      blipSnapshot,
    );
    expect(hub.requests).toEqual([]);
    // Online again: the snapshot's files cost no request, only the revision lookup.
    await resolveTransformersModel(BLIP_REPO, { files: 'blip', env, ...quiet });
    expect(hub.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      `GET /api/models/${BLIP_REPO}/revision/main`,
    ]);

    const message = (
      await userErrorOf(resolveTransformersModel(CLIP_REPO, { files: 'clip', env: offline, ...quiet }))
    ).message;
    expect(message).toMatch(
      /test-org\/clip-tiny@main is not in the Hugging Face cache .* \(no refs\/main recording its commit\) and HF_HUB_OFFLINE is set/,
    );
    expect(message).toMatch(/or pass a local model folder$/);
    // A cached BLIP snapshot does not hold what a CLIP model reads.
    expect(
      (await userErrorOf(resolveTransformersModel(BLIP_REPO, { files: 'clip', env: offline, ...quiet })))
        .message,
    ).toMatch(
      /is not in the Hugging Face cache .*\(cached test-org\/blip-tiny@main is missing vocab.json, merges.txt/,
    );
  });
});

describe('resolveTransformersModel on local folders', () => {
  it('uses a folder with config.json as it is, without the Hub', async () => {
    const env = { HF_ENDPOINT: 'http://127.0.0.1:9', HF_HUB_OFFLINE: '0' };
    expect(await resolveTransformersModel(CLIP_FOLDER, { files: 'clip', env })).toBe(CLIP_FOLDER);
  });

  it('says when a folder has no config.json, a path is a file, or a path does not exist', async () => {
    const dir = await tempDir();
    expect((await userErrorOf(resolveTransformersModel(dir, { files: 'blip' }))).message).toBe(
      `${dir} has no config.json, so it is not a transformers model folder; give the folder of the model ` +
        '(as its Hugging Face repository holds it) or its repo id',
    );
    await writeFile(join(dir, 'pytorch_model.bin'), 'x');
    expect(
      (await userErrorOf(resolveTransformersModel(join(dir, 'pytorch_model.bin'), { files: 'blip' })))
        .message,
    ).toMatch(/pytorch_model.bin is a file; give the model folder that holds config.json and the weights/);
    expect(
      (await userErrorOf(resolveTransformersModel(join(dir, 'nothing'), { files: 'blip' }))).message,
    ).toMatch(/model folder .*nothing not found \(a repo id looks like org\/name\)/);
  });
});
