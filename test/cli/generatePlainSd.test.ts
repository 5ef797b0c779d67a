import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPngTextChunks } from '../../src/cli/pngTextChunks.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { GOLDEN, golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';
import { type DnbRun, runDnb, writeGoldenLatents } from './runDnb.ts';

/**
 * `dnb generate` plain SD end to end: 50 PNDM steps on the tiny model from the golden initial latents. One run
 * serves every assertion (it takes seconds). Tolerance 1.5e-5 of max |ref|, as in test/pipeline/plainSd.test.ts.
 */
describe('dnb generate --method sd', () => {
  const dir = tempDir('dnb-cli-sd-');
  const out = join(dir, 'dog.png');
  const saved = join(dir, 'final.safetensors');
  let run: DnbRun;

  beforeAll(async () => {
    const latents = join(dir, 'init.safetensors');
    await writeGoldenLatents(latents, 'purple_dog_green_crown', 'init_latent');
    run = await runDnb([
      'generate',
      'a purple dog and a green crown',
      '--model',
      TINY_SD,
      '--latents',
      latents,
      '--save-latents',
      saved,
      '--out',
      out,
      '--cache-dir',
      join(dir, 'cache'),
      '--threads',
      '1',
    ]);
  });

  it('succeeds and prints only the image path on stdout', () => {
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${out}\n`);
  });

  it('saves final latents equal to the golden plain SD run', async () => {
    const file = await openSafetensors(saved);
    expect(file.tensors.get('latents')?.shape).toEqual([1, 4, 32, 32]);
    expectClose(
      await file.readFloat32('latents'),
      await golden('purple_dog_green_crown', 'gen_sd/final_latents'),
      1.5e-5, // measured 1.4e-6 in test/pipeline/plainSd.test.ts, the same computation
    );
  });

  it('writes a 64×64 PNG within one level of the golden image', async () => {
    const image = await sharp(out).raw().toBuffer({ resolveWithObject: true });
    expect([image.info.width, image.info.height, image.info.channels]).toEqual([64, 64, 3]);
    const reference = await sharp(join(GOLDEN, 'purple_dog_green_crown_sd.png')).raw().toBuffer();
    let worst = 0;
    for (let i = 0; i < reference.length; i++)
      worst = Math.max(worst, Math.abs(image.data[i] - reference[i]));
    expect(worst).toBeLessThanOrEqual(1);
  });

  it('stores the generation parameters in the PNG', async () => {
    const texts = readPngTextChunks(await readFile(out));
    const parameters = texts.find((t) => t.keyword === 'parameters')?.text ?? '';
    expect(parameters.split('\n')[0]).toBe('a purple dog and a green crown');
    expect(parameters).toMatch(/^Steps: 50, Sampler: PNDM, CFG scale: 7.5, /m);
    expect(parameters).toContain('Size: 64x64');
    expect(parameters).toContain('Method: sd');
    const dnb = JSON.parse(texts.find((t) => t.keyword === 'dnb')?.text ?? '{}');
    expect(dnb).toMatchObject({
      method: 'sd',
      steps: 50,
      scheduler: 'pndm',
      height: 64,
      width: 64,
      seed: null,
    });
  });

  it('refuses to overwrite the image without --overwrite, before loading the model', async () => {
    const again = await runDnb(['generate', 'a dog', '--model', TINY_SD, '--out', out]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe(
      `dnb: ${out} already exists; choose another path or pass --overwrite to replace it\n`,
    );
    expect(again.stdout).toBe('');
  });
});
