import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { runDnb } from './runDnb.ts';

const EVAL = join(FIXTURES, 'eval');
const MODEL = join(EVAL, 'blip-vqa-tiny');
const dir = tempDir('dnb-cli-vqa-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const vqa = (...args: string[]) => runDnb(['vqa', '--cache-dir', join(dir, 'cache'), ...args]);
const spec = (name: string) => JSON.parse(readFileSync(join(EVAL, 'specs', `${name}.json`), 'utf8'));

describe('dnb vqa on blip-vqa-tiny', () => {
  it('answers each question on its own (as TIFA asks) and prints JSON', async () => {
    const [q0, q1] = [spec('blip_vqa_img1_q0'), spec('blip_vqa_img1_q1')];
    const image = join(EVAL, q0.inputs.image);
    const run = await vqa(
      image,
      '--question',
      q0.inputs.question,
      '-q',
      q1.inputs.question,
      '--model',
      MODEL,
      '--max-length',
      '50',
      '--json',
    );
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      results: [q0, q1].map((s) => ({
        image,
        question: s.inputs.question,
        answer: s.expected.answer,
        tokenIds: s.expected.ids,
      })),
    });
  });

  it('--batch reproduces transformers padded batch, printing question and answer per line', async () => {
    const batch = spec('blip_vqa_batch');
    const [first, second] = batch.inputs.questions;
    const run = await vqa(
      join(EVAL, batch.inputs.image),
      '-q',
      first,
      '-q',
      second,
      '--model',
      MODEL,
      '--batch',
    );
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      `${first}\t${batch.expected.answers[0]}\n${second}\t${batch.expected.answers[1]}\n`,
    );
  });

  describe.concurrent.each([
    {
      mistake: 'an empty question',
      args: ['-q', 'what is it?', '-q', ' '],
      message: /^dnb: --question 2 is empty/,
    },
    { mistake: 'no question', args: [], message: /^dnb: vqa needs at least one --question/ },
    {
      mistake: 'a missing image',
      args: ['-q', 'what is it?'],
      image: join(dir, 'missing.png'),
      message: /^dnb: Cannot read the image .*missing\.png/,
    },
  ])('$mistake: exit 1 with one line', ({ args, image, message }) => {
    it('says what is wrong', async () => {
      const run = await vqa(image ?? join(EVAL, 'images/rgb_64x64.png'), ...args, '--model', MODEL);
      expect(run.code).toBe(1);
      expect(run.stdout).toBe('');
      expect(run.stderr).toMatch(message);
      expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    });
  });
});
