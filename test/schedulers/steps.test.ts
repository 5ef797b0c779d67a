import { describe, expect, it } from 'vitest';
import {
  createScheduler,
  type DdimScheduler,
  type DpmSolverMultistepScheduler,
  type PndmScheduler,
} from '../../src/schedulers/index.ts';
import { maxRelativeError, sdSchedulerConfig } from './fixtures.ts';

// Step arithmetic against float64 evaluations of the diffusers formulas. The implementation rounds
// every op to float32 like torch, so agreement is to float32 rounding (~1e-6 relative).
const TOLERANCE = 2e-6;
const raw = sdSchedulerConfig();

/** 4 training steps with hand-picked betas: alphas_cumprod = 0.9, 0.72, 0.504, 0.3024. */
const tinyBetas = { num_train_timesteps: 4, trained_betas: [0.1, 0.2, 0.3, 0.4], steps_offset: 0 };

const sample: Float32Array = new Float32Array([1, -2, 0.5, 3]);
const output: Float32Array = new Float32Array([0.5, 0.25, -1, 2]);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  expect(maxRelativeError(actual, expected)).toBeLessThan(TOLERANCE);
}

/** PNDM's `_get_prev_sample` in float64. */
function pndmPrev(x: ArrayLike<number>, eps: ArrayLike<number>, at: number, ap: number): number[] {
  const denominator = at * Math.sqrt(1 - ap) + Math.sqrt(at * (1 - at) * ap);
  return Array.from(x, (v, k) => Math.sqrt(ap / at) * v - ((ap - at) * eps[k]) / denominator);
}

describe('PNDM', () => {
  it('converts v_prediction to epsilon with the current sample before the update', () => {
    const pndm = createScheduler({ ...raw, prediction_type: 'v_prediction' }, { numInferenceSteps: 50 });
    const ac = (pndm as PndmScheduler).alphasCumprod;
    const [at, ap] = [ac[981], ac[961]];
    const eps = Array.from(output, (v, k) => Math.sqrt(at) * v + Math.sqrt(1 - at) * sample[k]);
    expectClose(pndm.step(output, 0, sample), pndmPrev(sample, eps, at, ap));
  });

  it('redoes the first step at loop index 1 from the stored sample, averaging the two slopes', () => {
    const run = (secondSample: Float32Array) => {
      const pndm = createScheduler(raw, { numInferenceSteps: 50 });
      const first = pndm.step(output, 0, sample);
      const second = pndm.step(sample, 1, secondSample);
      return { first, second, ac: (pndm as PndmScheduler).alphasCumprod };
    };
    const a = run(sample);
    const b = run(new Float32Array([7, 7, 7, 7]));
    // The sample given at loop index 1 is ignored (ALGORITHM.md 2.3's quirk).
    expect(Array.from(b.second)).toEqual(Array.from(a.second));
    const averaged = Array.from(output, (v, k) => (v + sample[k]) / 2);
    expectClose(a.second, pndmPrev(sample, averaged, a.ac[981], a.ac[961]));
  });

  it('uses the 2nd, 3rd and 4th order Adams-Bashforth combinations from loop index 2 on', () => {
    const pndm = createScheduler(raw, { numInferenceSteps: 50 });
    const ac = (pndm as PndmScheduler).alphasCumprod;
    const e = [0, 1, 2, 3, 4].map((i) => Float32Array.from(output, (v) => v + i * 0.1));
    const xs: Float32Array[] = [sample];
    for (let i = 0; i < 5; i++) xs.push(pndm.step(e[i], i, xs[i]));
    // ets grows [e0], [e0] (loop index 1 stores nothing), [e0, e2], [e0, e2, e3], [e0, e2, e3, e4].
    const second = Array.from(e[2], (v, k) => (3 * v - e[0][k]) / 2);
    expectClose(xs[3], pndmPrev(xs[2], second, ac[961], ac[941]));
    const third = Array.from(e[3], (v, k) => (23 * v - 16 * e[2][k] + 5 * e[0][k]) / 12);
    expectClose(xs[4], pndmPrev(xs[3], third, ac[941], ac[921]));
    const fourth = Array.from(e[4], (v, k) => (55 * v - 59 * e[3][k] + 37 * e[2][k] - 9 * e[0][k]) / 24);
    expectClose(xs[5], pndmPrev(xs[4], fourth, ac[921], ac[901]));
  });

  it('insists on steps in order and starts over after reset()', () => {
    const pndm = createScheduler(raw, { numInferenceSteps: 50 });
    expect(() => pndm.step(output, 1, sample)).toThrow(/next step is 0/);
    const first = pndm.step(output, 0, sample);
    pndm.reset();
    expect(Array.from(pndm.step(output, 0, sample))).toEqual(Array.from(first));
  });

  it('without skip_prk_steps: 12 Runge-Kutta stages, then PLMS from the last 3 stored outputs', () => {
    const pndm = createScheduler({ ...raw, skip_prk_steps: false }, { numInferenceSteps: 50 });
    const ac = (pndm as PndmScheduler).alphasCumprod;
    expect(pndm.timesteps.slice(0, 14)).toEqual([
      981, 971, 971, 961, 961, 951, 951, 941, 941, 931, 931, 921, 921, 901,
    ]);
    expect(pndm.timesteps).toHaveLength(12 + 47);
    const e = [0, 1, 2, 3].map((i) => Float32Array.from(output, (v) => v * (1 + i)));
    const results: Float32Array[] = [];
    let x = sample;
    for (let i = 0; i < 4; i++) {
      x = pndm.step(e[i], i, i === 0 ? sample : x);
      results.push(x);
    }
    // Stage 0: half step 981 -> 971 with e0; stage 1: same span from the stored sample with e1;
    // stage 3: the full step 981 -> 961 with the RK4 blend.
    expectClose(results[0], pndmPrev(sample, e[0], ac[981], ac[971]));
    expectClose(results[1], pndmPrev(sample, e[1], ac[981], ac[971]));
    const blend = Array.from(e[0], (v, k) => v / 6 + e[1][k] / 3 + e[2][k] / 3 + e[3][k] / 6);
    expectClose(results[3], pndmPrev(sample, blend, ac[981], ac[961]));
    for (let i = 4; i < 13; i++) x = pndm.step(output, i, x);
    expect(x.every(Number.isFinite)).toBe(true);
    expect(() => createScheduler({ ...raw, skip_prk_steps: false }, { numInferenceSteps: 3 })).toThrow(
      /at least 4/,
    );
  });
});

describe('DDIM (eta = 0)', () => {
  const at = Math.fround(0.504);
  const ap = Math.fround(0.9);
  const config = { ...tinyBetas, clip_sample: false, set_alpha_to_one: false };

  it('lays out leading timesteps and steps epsilon, v_prediction and sample predictions', () => {
    for (const prediction of ['epsilon', 'v_prediction', 'sample']) {
      const ddim = createScheduler(
        { ...config, prediction_type: prediction },
        { kind: 'ddim', numInferenceSteps: 2 },
      );
      expect(ddim.timesteps).toEqual([2, 0]);
      expect((ddim as DdimScheduler).alphasCumprod[2]).toBe(at);
      const [a, b] = [Math.sqrt(at), Math.sqrt(1 - at)];
      let x0: number[];
      let eps: number[];
      if (prediction === 'epsilon') {
        x0 = Array.from(sample, (x, k) => (x - b * output[k]) / a);
        eps = Array.from(output);
      } else if (prediction === 'v_prediction') {
        x0 = Array.from(sample, (x, k) => a * x - b * output[k]);
        eps = Array.from(sample, (x, k) => a * output[k] + b * x);
      } else {
        x0 = Array.from(output);
        eps = Array.from(sample, (x, k) => (x - a * output[k]) / b);
      }
      const expected = x0.map((v, k) => Math.sqrt(ap) * v + Math.sqrt(1 - ap) * eps[k]);
      expectClose(ddim.step(output, 0, sample), expected);
    }
  });

  it('v_prediction on hand-computed numbers: x = 1, v = 0.5 at alphā = 0.504 -> 0.9', () => {
    const ddim = createScheduler(
      { ...config, prediction_type: 'v_prediction' },
      { kind: 'ddim', numInferenceSteps: 2 },
    );
    // x0 = √.504·1 − √.496·0.5 = 0.3577933; eps = √.504·0.5 + √.496·1 = 1.0592382;
    // x_prev = √.9·x0 + √.1·eps = 0.6743910.
    const [next] = ddim.step(new Float32Array([0.5]), 0, new Float32Array([1]));
    expect(next).toBeCloseTo(0.674391, 5);
  });

  it('goes to final_alpha_cumprod at the last step and clips x0 when clip_sample is on', () => {
    const ddim = createScheduler({ ...tinyBetas }, { kind: 'ddim', numInferenceSteps: 2 });
    expect(ddim.config['clip_sample']).toBe(true);
    expect(ddim.config['set_alpha_to_one']).toBe(true);
    // Last step: t = 0 -> prev = -2, so alphā_prev = 1 and x_prev = clip(x0).
    const big = new Float32Array([10, -10, 0.1, 0]);
    const x0 = Array.from(big, (x, k) =>
      Math.min(1, Math.max(-1, (x - Math.sqrt(0.1) * output[k]) / Math.sqrt(0.9))),
    );
    expectClose(ddim.step(output, 1, big), x0);
  });

  it('from_config of the SD PNDM config keeps "leading" and the config values', () => {
    const ddim = createScheduler(raw, { kind: 'ddim', numInferenceSteps: 50 });
    expect(ddim.config).toMatchObject({
      timestep_spacing: 'leading',
      clip_sample: false,
      set_alpha_to_one: false,
    });
    expect(ddim.timesteps.slice(0, 3)).toEqual([981, 961, 941]);
  });
});

describe('Euler', () => {
  it('scales the model input by 1/sqrt(sigma² + 1) and steps epsilon and v_prediction', () => {
    for (const prediction of ['epsilon', 'v_prediction']) {
      const euler = createScheduler(
        { ...raw, prediction_type: prediction },
        { kind: 'euler', numInferenceSteps: 10 },
      );
      const sigmas = euler.sigmas!;
      const [s, next] = [sigmas[3], sigmas[4]];
      expectClose(
        euler.scaleModelInput(sample, 3),
        Array.from(sample, (x) => x / Math.sqrt(s * s + 1)),
      );
      const x0 = Array.from(sample, (x, k) =>
        prediction === 'epsilon'
          ? x - s * output[k]
          : output[k] * (-s / Math.sqrt(s * s + 1)) + x / (s * s + 1),
      );
      const expected = Array.from(sample, (x, k) => x + ((x - x0[k]) / s) * (next - s));
      expectClose(euler.step(output, 3, sample), expected);
    }
  });

  it('leading spacing uses init_noise_sigma = sqrt(sigma_max² + 1)', () => {
    const euler = createScheduler(
      { ...raw, timestep_spacing: 'leading' },
      { kind: 'euler', numInferenceSteps: 10 },
    );
    expect(euler.timesteps).toEqual([901, 801, 701, 601, 501, 401, 301, 201, 101, 1]);
    const max = euler.sigmas![0];
    expect(euler.initNoiseSigma).toBeCloseTo(Math.sqrt(max * max + 1), 5);
  });

  it('log_linear interpolation gives n + 1 geometric sigmas between the extremes', () => {
    const euler = createScheduler(
      { ...raw, interpolation_type: 'log_linear' },
      { kind: 'euler', numInferenceSteps: 4 },
    );
    const s = euler.sigmas!;
    expect(s).toHaveLength(6);
    expect(s[0]).toBeCloseTo(14.614645, 4);
    expect(s[4]).toBeCloseTo(0.0291675, 6);
    expect(s[1] / s[0]).toBeCloseTo(s[2] / s[1], 5);
    expect(s[5]).toBe(0);
  });
});

describe('Euler ancestral', () => {
  it('draws one randn(shape) per step and adds it times sigma_up after stepping to sigma_down', () => {
    const calls: (readonly number[])[] = [];
    const noise = new Float32Array([0.3, -1.2, 0.7, 2]);
    const randn = (shape: readonly number[]) => {
      calls.push(shape);
      return noise.slice();
    };
    const euler = createScheduler(raw, {
      kind: 'euler-a',
      numInferenceSteps: 10,
      randn,
      sampleShape: [1, 1, 2, 2],
    });
    expect(euler.initNoiseSigma).toBe(Math.fround(14.614645004272461));
    const sigmas = euler.sigmas!;
    const [from, to] = [sigmas[2], sigmas[3]];
    const up = Math.sqrt((to * to * (from * from - to * to)) / (from * from));
    const down = Math.sqrt(to * to - up * up);
    const expected = Array.from(sample, (x, k) => x + output[k] * (down - from) + noise[k] * up);
    expectClose(euler.step(output, 2, sample), expected);
    expect(calls).toEqual([[1, 1, 2, 2]]);
    expect(() => createScheduler(raw, { kind: 'euler-a', numInferenceSteps: 10 })).toThrow(/randn/);
  });
});

describe('DPM-Solver++ (2M)', () => {
  /** Float64 DPM-Solver++ from the scheduler's float32 alpha/sigma/lambda tables. */
  function reference(dpm: DpmSolverMultistepScheduler, outputs: Float32Array[], xInit: Float32Array) {
    const { alphaT: a, sigmaT: s, lambdaT: l } = dpm;
    const ts = [...dpm.timesteps, 0];
    const x0s: number[][] = [];
    let x = Array.from(xInit);
    ts.slice(0, outputs.length).forEach((t, i) => {
      const x0 = x.map((v, k) => (v - s[t] * outputs[i][k]) / a[t]);
      x0s.push(x0);
      const to = ts[i + 1];
      const h = l[to] - l[t];
      const lastStep = i === dpm.timesteps.length - 1;
      if (i === 0 || lastStep) {
        x = x.map((v, k) => (s[to] / s[t]) * v - a[to] * (Math.exp(-h) - 1) * x0[k]);
      } else {
        const r0 = (l[t] - l[ts[i - 1]]) / h;
        const prev = x0s[i - 1];
        x = x.map((v, k) => {
          const d1 = (x0[k] - prev[k]) / r0;
          return (
            (s[to] / s[t]) * v - a[to] * (Math.exp(-h) - 1) * x0[k] - 0.5 * a[to] * (Math.exp(-h) - 1) * d1
          );
        });
      }
    });
    return x;
  }

  it('runs first order, then the 2M midpoint update, and first order again at the last of < 15 steps', () => {
    const dpm = createScheduler(raw, { kind: 'dpm++', numInferenceSteps: 10 }) as DpmSolverMultistepScheduler;
    const outputs = Array.from({ length: 10 }, (_, i) =>
      Float32Array.from(output, (v, k) => v + 0.05 * i * k),
    );
    let x = sample;
    for (let i = 0; i < 10; i++) {
      x = dpm.step(outputs[i], i, x);
      expectClose(x, reference(dpm, outputs.slice(0, i + 1), sample));
    }
    expect(() => dpm.step(output, 0, sample)).toThrow(/next step is 10/);
  });

  it('its first-order step is DDIM: x = sqrt(ā_prev)·x0 + sqrt(1 − ā_prev)·eps', () => {
    const dpm = createScheduler(raw, { kind: 'dpm++', numInferenceSteps: 10 }) as DpmSolverMultistepScheduler;
    const [t, prev] = [999, 899];
    const [a, s] = [dpm.alphaT, dpm.sigmaT];
    const ddim = Array.from(sample, (x, k) => {
      const x0 = (x - s[t] * output[k]) / a[t];
      return a[prev] * x0 + s[prev] * output[k];
    });
    expect(maxRelativeError(dpm.step(output, 0, sample), ddim)).toBeLessThan(1e-5);
  });

  it('lambda_min_clipped drops the timesteps whose lambda is below it; Karras timesteps are unique', () => {
    const clipped = createScheduler(
      { ...raw, lambda_min_clipped: -2 },
      { kind: 'dpm++', numInferenceSteps: 10 },
    );
    const dpm = clipped as DpmSolverMultistepScheduler;
    const below = Array.from(dpm.lambdaT).filter((l) => l < -2).length;
    expect(below).toBeGreaterThan(0);
    expect(clipped.timesteps[0]).toBe(Math.round(999 - below));
    const karras = createScheduler(raw, { kind: 'dpm++', numInferenceSteps: 100, karras: true });
    expect(new Set(karras.timesteps).size).toBe(karras.timesteps.length);
    expect(karras.timesteps.length).toBeLessThan(100);
  });

  /**
   * Float64 DPM-Solver multistep of diffusers 0.21.4 (Lu et al. 2022, DPM-Solver++ eqs. for orders 1-3 and the
   * heun variant of order 2) from the scheduler's float32 tables. D0 = m0, D1_0 = (m0 − m1)/r0,
   * D1_1 = (m1 − m2)/r1, 3rd order: D1 = D1_0 + r0/(r0 + r1)·(D1_0 − D1_1), D2 = (D1_0 − D1_1)/(r0 + r1);
   * `++` works on x0 = (x − σ·ε)/α, plain DPM-Solver on ε. Orders per step: min(order, steps so far + 1),
   * lowered to 2 at the second-to-last and 1 at the last step of a run shorter than 15 steps.
   */
  function variantReference(
    dpm: DpmSolverMultistepScheduler,
    outputs: Float32Array[],
    xInit: Float32Array,
    { plus, heun, order }: { plus: boolean; heun: boolean; order: number },
  ) {
    const { alphaT: a, sigmaT: s, lambdaT: l } = dpm;
    const ts = [...dpm.timesteps, 0];
    const n = dpm.timesteps.length;
    const ms: number[][] = [];
    let x = Array.from(xInit);
    for (let i = 0; i < outputs.length; i++) {
      const [t, to] = [ts[i], ts[i + 1]];
      ms.push(plus ? x.map((v, k) => (v - s[t] * outputs[i][k]) / a[t]) : Array.from(outputs[i]));
      let stepOrder = Math.min(order, i + 1);
      if (i === n - 2) stepOrder = Math.min(stepOrder, 2);
      if (i === n - 1) stepOrder = 1;
      const h = l[to] - l[t];
      const [m0, m1, m2] = [ms[i], ms[i - 1], ms[i - 2]];
      const r0 = i > 0 ? (l[t] - l[ts[i - 1]]) / h : 0;
      const r1 = i > 1 ? (l[ts[i - 1]] - l[ts[i - 2]]) / h : 0;
      // Coefficients of x, D0, D1, D2: ++ with e^{−h}, plain with e^{h} (φ_k as in the paper's Taylor terms).
      const e = plus ? Math.exp(-h) - 1 : Math.exp(h) - 1;
      const c = plus ? a[to] : s[to];
      const cx = plus ? s[to] / s[t] : a[to] / a[t];
      const sign = plus ? 1 : -1;
      x = x.map((v, k) => {
        let value = cx * v - c * e * m0[k];
        if (stepOrder === 2) {
          const d1 = (m0[k] - m1[k]) / r0;
          value += heun ? sign * c * (e / h + sign) * d1 : -0.5 * c * e * d1;
        } else if (stepOrder === 3) {
          const d10 = (m0[k] - m1[k]) / r0;
          const d11 = (m1[k] - m2[k]) / r1;
          const d1 = d10 + (r0 / (r0 + r1)) * (d10 - d11);
          const d2 = (d10 - d11) / (r0 + r1);
          value += sign * c * (e / h + sign) * d1 - c * ((e + sign * h) / (h * h) - 0.5) * d2;
        }
        return value;
      });
    }
    return x;
  }

  it('heun, order 3 and plain DPM-Solver follow their float64 updates step by step', () => {
    const outputs = Array.from({ length: 5 }, (_, i) =>
      Float32Array.from(output, (v, k) => v + 0.05 * i * k + 0.03 * i * i),
    );
    for (const [extra, variant] of [
      [{ solver_type: 'heun' }, { plus: true, heun: true, order: 2 }],
      [{ solver_order: 3 }, { plus: true, heun: false, order: 3 }],
      [
        { algorithm_type: 'dpmsolver', solver_order: 3 },
        { plus: false, heun: false, order: 3 },
      ],
      [
        { algorithm_type: 'dpmsolver', solver_type: 'heun' },
        { plus: false, heun: true, order: 2 },
      ],
    ] as const) {
      const dpm = createScheduler({ ...raw, ...extra }, { kind: 'dpm++', numInferenceSteps: 5 });
      let x = sample;
      for (let i = 0; i < 5; i++) {
        x = dpm.step(outputs[i], i, x);
        const expected = variantReference(
          dpm as DpmSolverMultistepScheduler,
          outputs.slice(0, i + 1),
          sample,
          variant,
        );
        expect(maxRelativeError(x, expected), `${JSON.stringify(extra)} step ${i}`).toBeLessThan(TOLERANCE);
      }
    }
  });
});
