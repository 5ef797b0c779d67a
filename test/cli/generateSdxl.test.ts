import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPngTextChunks } from '../../src/cli/pngTextChunks.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { SDXL, sdxlGolden, TINY_SDXL } from '../helpers/sdxlFixtures.ts';
import { expectClose } from '../helpers/tensors.ts';
import { runDnb } from './runDnb.ts';

const INIT = (key: string) => join(SDXL, 'cli', `${key}_init.safetensors`);

async function savedLatents(path: string): Promise<Float32Array> {
  return (await openSafetensors(path)).readFloat32('latents');
}

/**
 * `dnb generate` on the tiny SDXL folder, with the flags of the fixtures' CLI specs (sdxl/cli/*.json): final
 * latents within 1e-5 of max |ref| (measured ≤ 9e-7 through the library, test/pipeline/sdxlRuns.test.ts).
 */
describe('dnb generate on SDXL', () => {
  it('runs plain SDXL with micro-conditioning and records it in the PNG', async () => {
    const dir = tempDir('dnb-cli-sdxl-');
    const out = join(dir, 'book.png');
    const saved = join(dir, 'final.safetensors');
    // biome-ignore format: one option per line reads better
    const run = await runDnb([
      'generate', 'a red book and a yellow vase',
      '--model', TINY_SDXL,
      '--latents', INIT('red_book_yellow_vase'),
      '--steps', '10',
      '--guidance', '5',
      '--scheduler', 'euler',
      '--original-size', '512,384',
      '--crop', '16,8',
      '--target-size', '128,128',
      '--save-latents', saved,
      '--out', out,
      '--cache-dir', join(dir, 'cache'),
      '--threads', '1',
    ]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    expectClose(
      await savedLatents(saved),
      await sdxlGolden('red_book_yellow_vase', 'gen_microcond/final_latents'),
      1e-5,
    );
    const chunks = readPngTextChunks(await readFile(out));
    const dnb = JSON.parse(chunks.find((c) => c.keyword === 'dnb')!.text);
    expect(dnb.microConditioning).toEqual({
      originalSize: [512, 384],
      cropTopLeft: [16, 8],
      targetSize: [128, 128],
    });
    expect(dnb.negativePrompt).toBeUndefined();
  });

  it('runs Divide & Bind with binding (the stable tv_bind spec)', async () => {
    const dir = tempDir('dnb-cli-sdxl-dnb-');
    const saved = join(dir, 'final.safetensors');
    // biome-ignore format: one option per line reads better
    const run = await runDnb([
      'generate', 'a red book and a yellow vase',
      '--model', TINY_SDXL,
      '--method', 'divide-bind',
      '--latents', INIT('red_book_yellow_vase'),
      '--steps', '10',
      '--guidance', '5',
      '--scheduler', 'euler',
      '--token-indices', '3,7',
      '--attribute-indices', '2,6',
      '--scale-factor', '700',
      '--scale-range', '1.0,0.5',
      '--max-iter-to-alter', '5',
      '--thresholds', '0:0.5,3:0.5',
      '--refinement-caps', '3,3',
      '--attention-res', '16',
      '--save-latents', saved,
      '--out', join(dir, 'book.png'),
      '--cache-dir', join(dir, 'cache'),
      '--threads', '1',
    ]);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('tokens: objects: 3 book, 7 vase; attributes: 2 red, 6 yellow');
    const expected = await sdxlGolden('red_book_yellow_vase_stable', 'stable/dnb_tv_bind/final_latents');
    expectClose(await savedLatents(saved), expected, 1e-5);
  });

  it('warns that micro-conditioning does nothing on an SD 1.x model', async () => {
    const dir = tempDir('dnb-cli-sdxl-warn-');
    // biome-ignore format: one option per line reads better
    const run = await runDnb([
      'generate', 'a dog',
      '--model', join(SDXL, '..', 'tiny-sd'),
      '--steps', '1',
      '--seed', '1',
      '--original-size', '512,512',
      '--out', join(dir, 'dog.png'),
      '--cache-dir', join(dir, 'cache'),
      '--threads', '1',
    ]);
    expect(run.code).toBe(0);
    expect(run.stderr).toContain('dnb: warning: --original-size only apply to SDXL models; ignored');
  });
});
