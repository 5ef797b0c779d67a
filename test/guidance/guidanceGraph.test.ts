import { beforeAll, describe, expect, it } from 'vitest';
import { bindingWeight } from '../../src/guidance/binding.ts';
import { GuidanceGraph, type GuidanceGraphSpec } from '../../src/guidance/guidanceGraph.ts';
import { loadUNet, type UNet2DConditionModel } from '../../src/models/unet/index.ts';
import { GOLDEN_PROMPTS, golden, goldenManifest, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';

const manifest = goldenManifest();
const cacheDir = tempDir();
const STEPS = { t_first: { t: 981, loopIndex: 0 }, t_mid: { t: 501, loopIndex: 25 } } as const;

let unet: UNet2DConditionModel;
beforeAll(async () => {
  unet = await loadUNet(TINY_SD);
});

function spec(method: GuidanceGraphSpec['method'], objects: number, binding: boolean): GuidanceGraphSpec {
  return { method, tv: 'official', objects, binding, attentionRes: 16, height: 32, width: 32, keys: 77 };
}

/**
 * The loss and its gradient with respect to the latent through the whole UNet, against the official code at
 * (init_latent, t). Tolerances from the fixtures README: losses 1e-4 relative (or 1e-6 absolute), gradients
 * 5e-4 relative to max |ref|.
 */
describe.each(GOLDEN_PROMPTS)('the guidance graph on %s', (key) => {
  const prompt = manifest.prompts.find((p) => p.key === key)!;
  const objects = prompt.token_indices;
  const attributes = prompt.color_indices ?? objects.map(() => 0);
  const cases = [
    { name: 'ae_max', method: 'attend-excite', binding: false },
    { name: 'dnb_tv', method: 'divide-bind', binding: false },
    { name: 'dnb_tv_bind', method: 'divide-bind', binding: prompt.color_indices !== null },
  ] as const;
  for (const c of cases) {
    it(`${c.name}: loss and gradient at t = 981 and 501`, async () => {
      const graph = await GuidanceGraph.compile(unet, spec(c.method, objects.length, c.binding), {
        cacheDir,
      });
      const latent = await golden(key, 'init_latent');
      const text = await golden(key, 'prompt_embeds');
      for (const [step, { t, loopIndex }] of Object.entries(STEPS)) {
        const r = await graph.evaluate(latent, t, text, { objects, attributes }, bindingWeight(loopIndex));
        expectClose([r.loss], await golden(key, `${step}/${c.name}/loss`), 1e-4, 1e-6);
        expectClose(r.gradient, await golden(key, `${step}/${c.name}/grad`), 5e-4);
        expect(r.maps.length).toBe(objects.length * 256);
        const minimum = Math.min(...(c.method === 'attend-excite' ? r.maxAttention : r.totalVariation!));
        expect(r.indicator).toBe(minimum);
      }
      await graph.release();
    });
  }
});

describe('guidance graph errors', () => {
  it('names the usable attention resolutions when the requested one does not exist', async () => {
    await expect(
      GuidanceGraph.compile(unet, { ...spec('divide-bind', 2, false), attentionRes: 24 }, { cacheDir }),
    ).rejects.toThrow(/use --attention-res with one of 32, 16, 8/);
  });
});
