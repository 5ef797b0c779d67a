import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { imageToRgb8 } from '../../src/models/vae/rgb.ts';
import { type CompiledVaeDecoder, loadVaeDecoder, type VaeDecoder } from '../../src/models/vae/vaeDecoder.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { maxAbs, maxAbsDiff } from '../helpers/tensors.ts';

const TINY_SDXL = join(FIXTURES, 'sdxl/tiny-sdxl');
const SDXL_GOLDEN = join(FIXTURES, 'sdxl/golden');
// The fixtures README recommends 1e-4 of max |ref| for the image; the reference's own float32-vs-float64 noise on
// it is 5.7e-7.
const IMAGE_TOLERANCE = 1e-4;

const cacheDir = tempDir('dnb-vae-sdxl-');
afterAll(() => rm(cacheDir, { recursive: true, force: true }));

const goldenTensor = async (prompt: string, name: string) =>
  (await openSafetensors(join(SDXL_GOLDEN, `${prompt}.safetensors`))).readFloat32(name);

async function pngPixels(path: string): Promise<Uint8Array> {
  const { data, info } = await sharp(path).raw().toBuffer({ resolveWithObject: true });
  expect(info.channels).toBe(3);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

describe("SDXL's AutoencoderKL decoder on the tiny-sdxl fixture (scaling_factor 0.13025)", () => {
  let vae: VaeDecoder;
  let decoder: CompiledVaeDecoder;

  beforeAll(async () => {
    vae = await loadVaeDecoder(TINY_SDXL);
    decoder = await vae.compile({ batch: 1, latentHeight: 64, latentWidth: 64, cacheDir });
  });

  it("reads scaling_factor and force_upcast from SDXL's vae/config.json", () => {
    expect(vae.config.scalingFactor).toBe(0.13025);
    expect(vae.config.forceUpcast).toBe(true);
    expect(vae.scaleFactor).toBe(2);
  });

  it('decodes gen_default/final_latents (the graph divides by 0.13025) to gen_default/image', async () => {
    const image = await decoder.run(await goldenTensor('red_book_yellow_vase', 'gen_default/final_latents'));
    expect(image.shape).toEqual([1, 3, 128, 128]);
    const ref = await goldenTensor('red_book_yellow_vase', 'gen_default/image');
    // Measured 5.9e-7 of max |ref|.
    const error = maxAbsDiff(image.data as Float32Array, ref) / maxAbs(ref);
    expect(error).toBeLessThan(IMAGE_TOLERANCE);
  });

  it('the decoded default runs give the golden PNGs (within one level) for both prompts', async () => {
    for (const prompt of ['red_book_yellow_vase', 'dog_cat_grass']) {
      const image = await decoder.run(await goldenTensor(prompt, 'gen_default/final_latents'));
      const [rgb] = imageToRgb8(image);
      expect([rgb.width, rgb.height]).toEqual([128, 128]);
      // Within 1 level: a value on a rounding boundary may land on either side. Measured: 0 levels
      // (red_book_yellow_vase) and 1 (dog_cat_grass).
      expect(
        maxAbsDiff(rgb.data, await pngPixels(join(SDXL_GOLDEN, `${prompt}_default.png`))),
        prompt,
      ).toBeLessThanOrEqual(1);
    }
  });
});
