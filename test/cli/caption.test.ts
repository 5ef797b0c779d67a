import { cpSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { runDnb } from './runDnb.ts';

const EVAL = join(FIXTURES, 'eval');
const MODEL = join(EVAL, 'blip-caption-tiny');
const IMG1 = join(EVAL, 'images/rgb_80x60.png');
const IMG2 = join(EVAL, 'images/rgb_50x90.png');
const dir = tempDir('dnb-cli-caption-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const caption = (...args: string[]) => runDnb(['caption', '--cache-dir', join(dir, 'cache'), ...args]);
const spec = (name: string) => JSON.parse(readFileSync(join(EVAL, 'specs', `${name}.json`), 'utf8'));

/** A copy of the tiny model whose weights file is replaced by `weights` (undefined: removed). */
function brokenModel(name: string, weights?: (path: string) => void): string {
  const folder = join(dir, name);
  cpSync(MODEL, folder, { recursive: true });
  const path = join(folder, 'model.safetensors');
  if (weights) weights(path);
  else rmSync(path);
  return folder;
}

describe('dnb caption on blip-caption-tiny', () => {
  it('prints the A&E LAVIS-setting captions as JSON, the prefix removed, in image order', async () => {
    const run = await caption(
      IMG1,
      IMG2,
      '--model',
      MODEL,
      '--json',
      '--beams',
      '3',
      '--max-length',
      '30',
      '--min-length',
      '10',
      '--prefix',
      'a picture of ',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const [first, second] = [spec('blip_caption_ae_lavis_img1'), spec('blip_caption_ae_lavis_img2')];
    expect(JSON.parse(run.stdout)).toEqual({
      results: [
        {
          image: IMG1,
          caption: first.expected.caption,
          text: first.expected.text,
          tokenIds: first.expected.ids,
        },
        // "a picture ofus …": the decoded prefix is removed, not the first 13 characters as LAVIS does.
        {
          image: IMG2,
          caption: 'us associationian square modelianian',
          text: second.expected.text,
          tokenIds: second.expected.ids,
        },
      ],
    });
  });

  it('decodes greedily with the default max length 20 and prints path and caption per line', async () => {
    const run = await caption(IMG1, '--model', MODEL, '--beams', '1');
    expect(run.code).toBe(0);
    // The greedy spec uses max_new_tokens 20 (21 tokens), which this caption ends before.
    expect(run.stdout).toBe(`${IMG1}\t${spec('blip_caption_greedy_img1').expected.text}\n`);
  });

  describe.concurrent.each([
    {
      mistake: 'a file that is not an image',
      args: () => {
        const path = join(dir, 'notes.png');
        writeFileSync(path, 'not a picture');
        return [path, '--model', MODEL];
      },
      message: /^dnb: .*notes\.png is not an image/,
    },
    {
      mistake: 'a model folder without its weights',
      args: () => [IMG1, '--model', brokenModel('no-weights')],
      message: /^dnb: .*no-weights: no safetensors weights found/,
    },
    {
      mistake: 'a truncated weights file',
      args: () => [IMG1, '--model', brokenModel('truncated', (path) => truncateSync(path, 5000))],
      message: /^dnb: .*model\.safetensors/,
    },
    {
      mistake: 'a captioning command given a VQA model',
      args: () => [IMG1, '--model', join(EVAL, 'blip-vqa-tiny')],
      message: /^dnb: .*BlipForQuestionAnswering, but this needs a BlipForConditionalGeneration/,
    },
  ])('$mistake: exit 1 with one line', ({ args, message }) => {
    it('says what is wrong', async () => {
      const run = await caption(...args());
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    });
  });
});
