import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPngTextChunks } from '../../src/cli/pngTextChunks.ts';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { runDnb } from './runDnb.ts';

const PROMPT = 'a purple dog and a green crown';

/** `dnb generate PROMPT --model tiny ARGS` in a fresh folder; the folder is returned to check what was written. */
async function generate(args: readonly string[]) {
  const dir = tempDir('dnb-limits-');
  const run = await runDnb([
    'generate',
    PROMPT,
    '--model',
    TINY_SD,
    '--cache-dir',
    join(tempDir(), 'cache'),
    ...args.map((arg) => arg.replace('DIR', dir)),
  ]);
  return { ...run, dir };
}

function expectOneLine(run: { code: number | null; stdout: string; stderr: string }, message: RegExp) {
  expect(run.code).toBe(1);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(message);
  expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
}

describe('dnb generate refuses what cannot work, in one line', () => {
  it('--steps 1001 (the library and the studio refuse it too)', async () => {
    const run = await generate(['--steps', '1001', '--out', 'DIR/x.png']);
    expectOneLine(run, /^dnb: steps must be an integer from 1 to 500 .*got 1001/);
  }, 120_000);

  it('--height 100000, before any memory is spent', async () => {
    const run = await generate(['--height', '100000', '--out', 'DIR/x.png']);
    expectOneLine(run, /^dnb: height 100000 is over the 4096-pixel limit/);
  }, 120_000);

  it('a size whose attention alone cannot fit in memory, with the numbers', async () => {
    const run = await generate(['--height', '4096', '--width', '4096', '--out', 'DIR/x.png']);
    expectOneLine(
      run,
      /^dnb: 4096×4096 cannot fit: one UNet pass needs at least [\d.e+]+ GiB .* this machine has [\d.]+ GiB/,
    );
    expect(await readdir(run.dir)).toEqual([]);
  }, 120_000);

  it('the same path for two outputs, even with --overwrite', async () => {
    const run = await generate(['--out', 'DIR/a.png', '--save-latents', 'DIR/./a.png', '--overwrite']);
    expectOneLine(run, /^dnb: --out and --save-latents both write .*a\.png; give each output its own path/);
  }, 120_000);

  it('--attribute-indices shorter than the objects, as --attributes of the wrong count', async () => {
    const byIndex = await generate([
      '--method',
      'divide-bind',
      '--token-indices',
      '3,7',
      '--attribute-indices',
      '2',
      '--out',
      'DIR/x.png',
    ]);
    expectOneLine(
      byIndex,
      /^dnb: there are 1 attribute for 2 objects: give one attribute per object, 0 for none/,
    );
    const byWord = await generate([
      '--method',
      'divide-bind',
      '--objects',
      'dog,crown',
      '--attributes',
      'purple',
      '--out',
      'DIR/x.png',
    ]);
    expectOneLine(
      byWord,
      /^dnb: there are 1 attribute for 2 objects: give one attribute per object, - for none/,
    );
  }, 240_000);

  it('--latents whose size disagrees with --height/--width', async () => {
    const dir = tempDir('dnb-latents-size-');
    const { writeSafetensors } = await import('../../src/weights/safetensorsWriter.ts');
    await writeSafetensors(join(dir, 'l.safetensors'), {
      latents: { dtype: 'F32', shape: [1, 4, 32, 32], data: new Float32Array(4096) },
    });
    await writeFile(join(dir, 'keep'), '');
    const run = await generate([
      '--latents',
      join(dir, 'l.safetensors'),
      '--height',
      '128',
      '--out',
      'DIR/x.png',
    ]);
    expectOneLine(
      run,
      /l\.safetensors: tensor "latents" has shape \[1,4,32,32\]; 1 image\(s\) of 64×128 on this model need \[1,4,64,32\]/,
    );
  }, 120_000);
});

describe('options of another method', () => {
  it("warns about D&B's --tv and attributes with attend-excite and keeps them out of the PNG", async () => {
    const run = await generate([
      '--method',
      'attend-excite',
      '--token-indices',
      '3,7',
      '--attribute-indices',
      '2,6',
      '--tv',
      'paper',
      '--steps',
      '2',
      '--max-iter-to-alter',
      '1',
      '--seed',
      '1',
      '--threads',
      '1',
      '--out',
      'DIR/x.png',
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain(
      'dnb: warning: --tv, --attribute-indices only apply to --method divide-bind; ignored',
    );
    const texts = readPngTextChunks(await readFile(join(run.dir, 'x.png')));
    const dnb = JSON.parse(texts.find((t) => t.keyword === 'dnb')?.text ?? '{}');
    expect(dnb.tokens.attributeIndices).toEqual([0, 0]);
    expect(dnb.guidance.tv).toBe('official');
    // No attributes in the A1111 text either (D&B would add "; attributes: 2 purple, 6 green").
    expect(texts.find((t) => t.keyword === 'parameters')?.text).toContain(
      'Tokens: "objects: 3 dog, 7 crown"',
    );
  }, 240_000);
});
