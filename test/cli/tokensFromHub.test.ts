import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readTree } from '../helpers/files.ts';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { type FakeHub, startFakeHub } from '../weights/fakeHub.ts';
import { runDnb } from './runDnb.ts';

const REPO = 'test-org/tiny-sd';
const COMMIT = '89abcdef0123456789abcdef0123456789abcdef';

describe('dnb tokens with a Hub repo id', () => {
  let hub: FakeHub;
  beforeAll(async () => {
    hub = await startFakeHub([{ repoId: REPO, commit: COMMIT, files: await readTree(TINY_SD) }]);
  });
  afterAll(() => hub.close());

  it('downloads model_index.json and the tokenizer, no weights', async () => {
    const cache = tempDir('dnb-cli-tokens-hub-');
    const env = { HF_ENDPOINT: hub.endpoint, HF_HUB_CACHE: cache, HF_HOME: join(cache, 'home') };
    const run = await runDnb(['tokens', 'three geese', '--model', REPO], env);
    expect(run.code).toBe(0);
    const lines = run.stderr.trimEnd().split('\n');
    expect(lines.map((line) => line.replace(/ \(.*$/, '')).sort()).toEqual([
      'downloading model_index.json',
      'downloading tokenizer/merges.txt',
      'downloading tokenizer/special_tokens_map.json',
      'downloading tokenizer/tokenizer_config.json',
      'downloading tokenizer/vocab.json',
    ]);
    expect(run.stdout).toContain('Automatic choice: objects: 2 geese');

    const asked = hub.requests.flatMap((r) => /\/resolve\/[^/]+\/(.+)$/.exec(r.path)?.[1] ?? []);
    expect(asked.length).toBeGreaterThan(0);
    expect(asked.every((file) => file === 'model_index.json' || file.startsWith('tokenizer/'))).toBe(true);
    expect(hub.requests.some((r) => r.path.startsWith('/cdn/'))).toBe(false);
  });
});
