import { describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import {
  type AttentionLayer,
  crossAttentionMaps,
  subsampledCrossAttentionMaps,
} from '../../src/guidance/attentionMaps.ts';
import { bindingDivergence } from '../../src/guidance/binding.ts';
import { attendExcite, divideAndBind } from '../../src/guidance/objectives.ts';
import { officialGaussianKernel, smoothMaps } from '../../src/guidance/smoothing.ts';
import { tokenMaps } from '../../src/guidance/tokenMaps.ts';
import { totalVariation } from '../../src/guidance/totalVariation.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { GOLDEN_PROMPTS, golden, goldenManifest, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';

const cacheDir = tempDir();

async function run(outputs: Record<string, G.Value>, feeds: Record<string, G.TypedData>) {
  const compiled = await CompiledGraph.compile(outputs, { cacheDir, threads: 1 });
  const result = await compiled.run(feeds);
  await compiled.release();
  return Object.fromEntries(Object.entries(result).map(([k, v]) => [k, Array.from(v.data as Float64Array)]));
}

function grid(f: (y: number, x: number) => number): Float64Array {
  const out = new Float64Array(256);
  for (let y = 0; y < 16; y++) for (let x = 0; x < 16; x++) out[y * 16 + x] = f(y, x);
  return out;
}

describe('the official Gaussian kernel', () => {
  // Within 2 float32 ulps: the reference's float32 exp(−1) (numpy, PyTorch) may be one ulp below the
  // correctly rounded value that Math.fround(Math.exp(−1)) gives.
  it('has the float32 values of ALGORITHM.md §3.6 (effective σ = 0.707)', () => {
    const k = officialGaussianKernel();
    expect(Math.abs(k[0] - 0.044919223)).toBeLessThan(1e-8);
    expect(Math.abs(k[1] - 0.12210311)).toBeLessThan(2e-8);
    expect(Math.abs(k[4] - 0.3319107)).toBeLessThan(4e-8);
    expect(k.reduce((a, b) => a + b)).toBeCloseTo(1, 6);
  });
});

describe('worked examples of ALGORITHM.md §4', () => {
  // A float64 graph: the reference numbers are exact fractions.
  it('§4.3: the official TV of (16y + x)/255 is 113/255, the paper TV 17/255', async () => {
    const g = new G.Graph();
    const maps = g.input('maps', [1, 16, 16], 'float64');
    const r = await run(
      { official: totalVariation(maps, 'official'), paper: totalVariation(maps, 'paper') },
      { maps: grid((y, x) => (16 * y + x) / 255) },
    );
    expect(r.official[0]).toBeCloseTo(113 / 255, 12);
    expect(r.paper[0]).toBeCloseTo(17 / 255, 12);
  });

  // Float32 (ONNX Runtime has no float64 Conv) against numpy float64 values: the kernel itself is float32 in
  // both, and float32 arithmetic over 256 pixels leaves about 1e-7 relative, hence 1e-6 of each value. The
  // JSD is a sum of p̃·(ln p̃ − ln M) with logs near −6: float32 rounding of each log (~4e-7) weighted by
  // Σp̃ ≈ 0.56 allows about 2e-7 absolute, which λ multiplies in the scores.
  it('§4.4: smoothing, TV, binding divergence and token scores', async () => {
    const g = new G.Graph();
    const a = g.input('a', [1, 16, 16]);
    const c = g.input('c', [1, 16, 16]);
    const sa = smoothMaps(a);
    const sc = smoothMaps(c);
    const tvA = totalVariation(sa);
    const weight = g.input('weight', []);
    const objective = divideAndBind(sa, 'official', {
      attributeMaps: sc,
      mask: g.constant([1], [1]),
      weight,
    });
    const outputs = {
      sa,
      tvA,
      tvPaper: totalVariation(sa, 'paper'),
      tvC: totalVariation(sc),
      jsd: bindingDivergence(sa, sc, tvA),
      loss: objective.loss,
    };
    const feeds = (lambda: number) => ({
      a: Float32Array.from(grid((y, x) => 0.01 + 0.5 * Math.exp(-((y - 4) ** 2 + (x - 5) ** 2) / 8))),
      c: Float32Array.from(grid((y, x) => 0.02 + 0.4 * Math.exp(-((y - 6) ** 2 + (x - 6) ** 2) / 10))),
      weight: Float32Array.of(lambda),
    });
    const r = await run(outputs, feeds(1));
    const near = (actual: number, expected: number, abs = 0) =>
      expect(Math.abs(actual - expected)).toBeLessThan(1e-6 * expected + abs);
    [0.0189121362, 0.0268250478, 0.0471094891, 0.0752439822].forEach((v, i) => {
      near(r.sa[i], v);
    });
    near(Math.max(...r.sa), 0.4614328185);
    near(r.tvA[0], 0.0689003387);
    near(r.tvPaper[0], 0.0365347516);
    near(r.tvC[0], 0.0692655637);
    near(r.jsd[0], 0.0012735196, 2e-7);
    near(-r.loss[0], 0.0676268191, 2e-7);
    for (const [lambda, v] of [
      [5, 0.0625327409],
      [10, 0.0561651431],
    ]) {
      const again = await run({ loss: objective.loss }, feeds(lambda));
      near(-again.loss[0], v, 2e-7 * lambda);
    }
  });
});

const manifest = goldenManifest();

/**
 * The losses from the golden aggregated maps: everything after the UNet, against the official code's values.
 * Measured ≤ 2.6e-7 of max |ref| on every token map, smoothed map and loss (float32 rounding; the README's
 * 1e-4 would be 400× that), so the bound is 3e-6.
 */
const AFTER_UNET_TOLERANCE = 3e-6;

describe.each(GOLDEN_PROMPTS)('losses from the golden attention maps of %s', (key) => {
  const spec = manifest.prompts.find((p) => p.key === key)!;
  for (const step of ['t_first', 't_mid'] as const) {
    it(`${step}: token maps, smoothed maps, A&E / max / tv${step === 't_first' ? ' / tv_bind' : ''} losses`, async () => {
      const g = new G.Graph();
      const agg = g.input('agg', [16, 16, 77]);
      const soft = tokenMaps(agg, spec.token_indices);
      const smooth = smoothMaps(soft);
      const outputs: Record<string, G.Value> = {
        soft,
        smooth,
        ae: attendExcite(smooth).loss,
        // D&B's 'max' loss is −(the A&E indicator, min over tokens of the max attention).
        aeIndicator: attendExcite(smooth).indicator,
        tv: divideAndBind(smooth).loss,
      };
      const feeds: Record<string, G.TypedData> = { agg: await golden(key, `${step}/attn_agg16`) };
      if (step === 't_first') {
        const from32 = g.input('from32', [16, 16, 77]);
        const colors = spec.color_indices ?? spec.token_indices.map(() => 0);
        const attributeMaps = smoothMaps(
          tokenMaps(
            from32,
            colors.map((c) => Math.max(c, 1)),
          ),
        );
        outputs.tvBind = divideAndBind(smooth, 'official', {
          attributeMaps,
          mask: g.constant(
            colors.map((c) => (c > 0 ? 1 : 0)),
            [colors.length],
          ),
          weight: g.scalar(1),
        }).loss;
        feeds.from32 = await golden(key, 't_first/attn_agg16_from32');
      }
      const r = await run(outputs, feeds);
      for (const [s, idx] of spec.token_indices.entries()) {
        const range = (v: number[]) => v.slice(s * 256, (s + 1) * 256);
        expectClose(
          range(r.soft),
          await golden(key, `${step}/dnb/token${idx}_softmax`),
          AFTER_UNET_TOLERANCE,
        );
        expectClose(
          range(r.smooth),
          await golden(key, `${step}/dnb/token${idx}_smoothed`),
          AFTER_UNET_TOLERANCE,
        );
      }
      expectClose(r.ae, await golden(key, `${step}/ae_max/loss`), AFTER_UNET_TOLERANCE);
      expectClose(
        r.aeIndicator.map((v) => -v),
        await golden(key, `${step}/dnb_max/loss`),
        AFTER_UNET_TOLERANCE,
      );
      expectClose(r.tv, await golden(key, `${step}/dnb_tv/loss`), AFTER_UNET_TOLERANCE);
      if (r.tvBind)
        expectClose(r.tvBind, await golden(key, `${step}/dnb_tv_bind/loss`), AFTER_UNET_TOLERANCE);
    });
  }
});

describe('attention layer selection', () => {
  it('averages the 16×16 cross layers and subsamples the finer ones', () => {
    const g = new G.Graph();
    const layer = (place: 'up' | 'down' | 'mid', kind: 'self' | 'cross', side: number) => ({
      name: `${place}${side}${kind}`,
      place,
      kind,
      resolution: [side, side] as [number, number],
      probs: g.input(`${place}${side}${kind}`, [1, 8, side * side, 77]),
    });
    const layers = [layer('down', 'cross', 32), layer('down', 'cross', 16), layer('mid', 'cross', 8)];
    layers.push(layer('up', 'cross', 16), layer('up', 'self', 16), layer('up', 'cross', 32));
    expect(crossAttentionMaps(layers, 16).shape).toEqual([16, 16, 77]);
    expect(subsampledCrossAttentionMaps(layers, 16).shape).toEqual([16, 16, 77]);
    expect(() => crossAttentionMaps(layers, 24)).toThrow(/no cross-attention layers/);
  });
});

/**
 * The binding loss's attribute maps where the UNet has 64×64 cross-attention (SD 1.x at 512 px; the tiny fixture
 * model at 64 px has none, and no golden covers it): each 64×64 and 32×32 layer nearest-subsampled to 16×16
 * (pixels (4y, 4x) and (2y, 2x)), then the mean over layers and heads, against that mean computed here.
 */
/** Reproducible uniform numbers in [0, 1) (a 32-bit LCG). */
function seededUniform01(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

describe('64×64 → 16×16 attribute-map subsampling', () => {
  it('picks every 4th row and column of the 64×64 layers and every 2nd of the 32×32 ones', async () => {
    const g = new G.Graph();
    const keys = 3;
    const heads = 2;
    const sides = [64, 32, 16, 8, 128];
    const layer = (name: string, kind: 'self' | 'cross', side: number): AttentionLayer => ({
      name,
      place: 'down',
      kind,
      resolution: [side, side],
      probs: g.input(name, [1, heads, side * side, keys]),
    });
    // A 64×64 self-attention layer is there to be ignored (its values would show in the mean).
    const layers = [...sides.map((side) => layer(`p${side}`, 'cross', side)), layer('self64', 'self', 64)];
    const feeds: Record<string, Float32Array> = {};
    const next = seededUniform01(11);
    for (const side of sides) {
      feeds[`p${side}`] = Float32Array.from({ length: heads * side * side * keys }, next);
    }
    feeds.self64 = Float32Array.from({ length: heads * 4096 * keys }, () => 100);
    const r = await run({ maps: subsampledCrossAttentionMaps(layers, 16) }, feeds);
    const expected = new Float64Array(16 * 16 * keys);
    for (const side of [64, 32]) {
      const step = side / 16;
      for (let h = 0; h < heads; h++)
        for (let y = 0; y < 16; y++)
          for (let x = 0; x < 16; x++)
            for (let k = 0; k < keys; k++) {
              const pixel = y * step * side + x * step;
              expected[(y * 16 + x) * keys + k] +=
                feeds[`p${side}`][(h * side * side + pixel) * keys + k] / (2 * heads);
            }
    }
    // Float32 sums of 4 values in [0, 1): within 2 ulp of ~0.5.
    expectClose(r.maps, expected, 2e-7);
  });
});
