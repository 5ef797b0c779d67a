import { describe, expect, it } from 'vitest';
import { createScheduler } from '../../src/schedulers/index.ts';
import {
  goldenSchedulers,
  maxRelativeError,
  numpyReference,
  PROMPTS,
  pndmFirstStep,
  sdSchedulerConfig,
} from './fixtures.ts';

const golden = goldenSchedulers();
const raw = sdSchedulerConfig();

/** The manifest's resolved config, less bookkeeping keys and the keys the class does not take. */
function expectResolvedConfig(
  actual: Readonly<Record<string, unknown>>,
  expected: Record<string, unknown>,
): void {
  for (const [key, value] of Object.entries(actual)) {
    const want = expected[key] === '-Infinity' ? Number.NEGATIVE_INFINITY : expected[key];
    expect([key, value]).toEqual([key, want]);
  }
  // Every manifest key is either one of the class's parameters or carried over from the raw config.
  for (const key of Object.keys(expected)) {
    if (key.startsWith('_')) continue;
    expect(key in actual || key in raw, key).toBe(true);
  }
}

describe('schedulers against the diffusers 0.21.4 golden manifest (SD 1.5 PNDM config)', () => {
  it('PNDM from the raw config: resolved config and the 51 loop timesteps of 50 steps', () => {
    const pndm = createScheduler(raw, { numInferenceSteps: 50 });
    expect(pndm.className).toBe('PNDMScheduler');
    expectResolvedConfig(pndm.config, golden.pndm.config);
    expect(pndm.timesteps).toEqual(golden.pndm.timesteps);
    expect(pndm.timesteps.slice(0, 4)).toEqual([981, 961, 961, 941]);
    expect(pndm.timesteps.at(-1)).toBe(1);
    expect(pndm.initNoiseSigma).toBe(1);
  });

  it('PNDM with 20 steps: the 21 timesteps of the stable runs', () => {
    expect(createScheduler(raw, { numInferenceSteps: 20 }).timesteps).toEqual(golden.pndm_20_steps_timesteps);
  });

  const kinds = { ddim: 'ddim', euler: 'euler', dpmpp2m: 'dpm++' } as const;
  for (const prompt of PROMPTS) {
    for (const [key, kind] of Object.entries(kinds)) {
      it(`${prompt}: ${key} from_config(PNDM config), 10 steps: config, timesteps, init_noise_sigma`, () => {
        const expected = golden.prompts[prompt][key as keyof typeof kinds];
        const scheduler = createScheduler(raw, { kind, numInferenceSteps: 10 });
        expect(scheduler.className).toBe(expected.class);
        expectResolvedConfig(scheduler.config, expected.config);
        expect(scheduler.timesteps).toEqual(expected.timesteps);
        // init_noise_sigma is Euler's sigma at t = 999 (float32): an exact check of alphas_cumprod[999].
        expect(scheduler.initNoiseSigma).toBe(expected.init_noise_sigma);
      });
    }
  }

  // The loop's first PNDM step from the golden CFG noise prediction. The reference is float32 torch
  // on CPU; with alphas_cumprod built like torch's AVX2 linspace (fused multiply-adds) and its
  // double-accumulating cumprod, the result is bit-identical. The brief's 1e-6 relative tolerance
  // (≈ 4 ulp at the latents' max |4.4|) is asserted, and equality is also expected: a plain
  // `start + i·step` linspace leaves alphas_cumprod 2 ulp off and ~25 % of the values 1 ulp off.
  for (const prompt of PROMPTS) {
    it(`${prompt}: PNDM.step(noise_pred_cfg, 0, init_latent) = gen_sd/latents_after_step00`, async () => {
      const tensors = await pndmFirstStep(prompt);
      const pndm = createScheduler(raw, { numInferenceSteps: 50 });
      const latent = tensors['init_latent'];
      const model = pndm.scaleModelInput(latent, 0);
      expect(model).toBe(latent);
      const next = pndm.step(tensors['t_first/noise_pred_cfg'], 0, latent);
      const expected = tensors['gen_sd/latents_after_step00'];
      expect(maxRelativeError(next, expected)).toBeLessThanOrEqual(1e-6);
      expect(Array.from(next)).toEqual(Array.from(expected));
    });
  }
});

describe('timestep and sigma layouts against numpy running the same set_timesteps arithmetic', () => {
  for (const c of numpyReference().cases) {
    it(`${c.kind}, ${c.steps} steps, ${c.timestep_spacing}${c.karras ? ', Karras' : ''}`, () => {
      const scheduler = createScheduler(
        { ...raw, timestep_spacing: c.timestep_spacing },
        { kind: c.kind, numInferenceSteps: c.steps, karras: c.karras },
      );
      if (c.kind === 'dpm++' || !c.karras) {
        expect(scheduler.timesteps).toEqual(c.timesteps);
      } else {
        // Fractional Karras timesteps interpolate float32 log sigmas. numpy 1.24 takes those logs with
        // its SIMD logf, 1 ulp off the correctly rounded log for ~19 % of the table (CPU-dependent),
        // and low - high cancels at small t: measured up to 1.1e-5 apart (a float32 ulp of t there).
        const worst = Math.max(...scheduler.timesteps.map((t, i) => Math.abs(t - c.timesteps[i])));
        expect(worst).toBeLessThan(5e-5);
      }
      if (c.sigmas) expect(Array.from(scheduler.sigmas!)).toEqual(c.sigmas);
    });
  }
});
