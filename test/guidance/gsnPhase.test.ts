import { describe, expect, it } from 'vitest';
import { gsnPhase, isGuidedStep, type LossEvaluation } from '../../src/guidance/gsnPhase.ts';
import {
  defaultSettings,
  type GsnSettings,
  parseThresholds,
  stepSizes,
} from '../../src/guidance/settings.ts';

/**
 * A one-number "latent" x whose D&B loss is −x − 1 (indicator x) and whose A&E loss is max(0, 1 − x/10): every
 * update with α = 1 raises x by 1, so the number of evaluations and updates can be read off the result.
 */
function fakeEvaluator(method: GsnSettings['method']) {
  const seen: number[] = [];
  const evaluate = async (latent: Float32Array): Promise<LossEvaluation> => {
    const x = latent[0];
    seen.push(x);
    if (method === 'divide-bind') {
      return { loss: -x - 1, indicator: x, gradient: Float32Array.of(-1), maxAttention: [x] };
    }
    const loss = Math.max(0, 1 - x / 10);
    return { loss, indicator: x / 10, gradient: Float32Array.of(loss > 0 ? -10 : 0), maxAttention: [x / 10] };
  };
  return { evaluate, seen };
}

const dnb = (overrides: Partial<GsnSettings> = {}): GsnSettings => ({
  ...defaultSettings('divide-bind'),
  ...overrides,
});

describe('the GSN phase', () => {
  it('refines with the official lag: k iterations apply k + 1 updates and evaluate each latent once', async () => {
    const { evaluate, seen } = fakeEvaluator('divide-bind');
    const settings = dnb({ thresholds: new Map([[0, 3]]) });
    const { latent, report } = await gsnPhase(Float32Array.of(0), 0, 1, settings, evaluate);
    // Indicator 0, 1, 2 miss the threshold 3; the exit test sees 3 only after the 4th update (x = 4).
    expect(report.refinement).toEqual({ threshold: 3, iterations: 4, cap: 100, capHit: false });
    expect(seen).toEqual([0, 1, 2, 3, 4]);
    expect(report.updates).toBe(5);
    expect(latent[0]).toBe(5);
    expect(report.loss).toBe(-5);
  });

  it('stops silently at the cap and reports it', async () => {
    const { evaluate } = fakeEvaluator('divide-bind');
    const settings = dnb({ thresholds: new Map([[10, 3]]), refinementCaps: [100, 2] });
    const { latent, report } = await gsnPhase(Float32Array.of(0), 10, 1, settings, evaluate);
    expect(report.refinement).toEqual({ threshold: 3, iterations: 2, cap: 2, capHit: true });
    expect(latent[0]).toBe(3);
  });

  it('uses the loop-0 cap at loop index 0', async () => {
    const { evaluate } = fakeEvaluator('divide-bind');
    const settings = dnb({ thresholds: new Map([[0, 50]]), refinementCaps: [3, 100] });
    const { report } = await gsnPhase(Float32Array.of(0), 0, 1, settings, evaluate);
    expect(report.refinement?.iterations).toBe(3);
  });

  it('does not refine when the indicator meets the threshold, and updates only below maxIterToAlter', async () => {
    const { evaluate, seen } = fakeEvaluator('divide-bind');
    const settings = dnb({ thresholds: new Map([[25, 3]]), maxIterToAlter: 25 });
    const before = await gsnPhase(Float32Array.of(5), 24, 1, settings, evaluate);
    expect(before.report.refinement).toBeUndefined();
    expect(before.latent[0]).toBe(6);
    const after = await gsnPhase(Float32Array.of(5), 25, 1, settings, evaluate);
    expect(after.latent[0]).toBe(5);
    expect(seen).toEqual([5, 5]);
    expect(isGuidedStep(settings, 25)).toBe(true);
    expect(isGuidedStep(settings, 26)).toBe(false);
  });

  it('A&E refines while loss > 1 − threshold and skips the update when every token is satisfied', async () => {
    const { evaluate } = fakeEvaluator('attend-excite');
    const settings: GsnSettings = { ...defaultSettings('attend-excite'), thresholds: new Map([[0, 0.25]]) };
    // x = 0, 1 give losses 1, 0.9 > 0.75; x = 2 gives 0.8 > 0.75; x = 3 gives 0.7: the lag adds one more.
    const { latent, report } = await gsnPhase(Float32Array.of(0), 0, 0.1, settings, evaluate);
    expect(report.refinement?.iterations).toBe(4);
    expect(latent[0]).toBeCloseTo(5, 5);
    const satisfied = await gsnPhase(Float32Array.of(10), 1, 0.1, settings, evaluate);
    expect(satisfied.report.loss).toBe(0);
    expect(satisfied.report.updates).toBe(0);
    expect(satisfied.latent[0]).toBe(10);
  });

  it('computes the update in float32 like PyTorch', async () => {
    const evaluate = async (): Promise<LossEvaluation> => ({
      loss: 1,
      indicator: 1,
      gradient: Float32Array.of(0.1),
      maxAttention: [],
    });
    const { latent } = await gsnPhase(Float32Array.of(1), 1, 19.8997487421324, dnb(), evaluate);
    const f = Math.fround;
    expect(latent[0]).toBe(f(1 - f(f(19.8997487421324) * f(0.1))));
  });
});

describe('GSN settings', () => {
  it('gives the official step sizes 20·√(linspace(1, 0.5, 51))', () => {
    const sizes = stepSizes(defaultSettings('divide-bind'), 51);
    expect(sizes[0]).toBe(20);
    expect(sizes[1]).toBeCloseTo(19.8997487421324, 12);
    expect(sizes[10]).toBeCloseTo(18.973665961010276, 12);
    expect(sizes[50]).toBeCloseTo(14.142135623730951, 12);
  });

  it('has the official thresholds and caps', () => {
    expect([...defaultSettings('attend-excite').thresholds]).toEqual([
      [0, 0.05],
      [10, 0.5],
      [20, 0.8],
    ]);
    expect(defaultSettings('attend-excite').refinementCaps).toEqual([20, 20]);
    expect(defaultSettings('divide-bind').refinementCaps).toEqual([100, 50]);
  });

  it('parses thresholds and rejects malformed ones', () => {
    expect([...parseThresholds('0:0.05, 10:0.2,20:0.3')]).toEqual([
      [0, 0.05],
      [10, 0.2],
      [20, 0.3],
    ]);
    expect(() => parseThresholds('0=0.05')).toThrow(/LOOP_INDEX:VALUE/);
    expect(() => parseThresholds('-1:0.5')).toThrow(/bad threshold/);
  });
});
