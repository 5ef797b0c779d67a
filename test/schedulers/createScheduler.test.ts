import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { alphasCumprodFrom, betasFor, torchLinspaceFloat32 } from '../../src/schedulers/betaSchedule.ts';
import { createScheduler, DdimScheduler, kindOfClassName } from '../../src/schedulers/index.ts';
import { numpyArange, numpyLinspace, roundHalfEven } from '../../src/schedulers/numpyArrays.ts';
import { sdSchedulerConfig } from './fixtures.ts';

const raw = sdSchedulerConfig();

describe('createScheduler', () => {
  it('picks the class from _class_name, and kind overrides it like X.from_config(config)', () => {
    expect(createScheduler(raw, { numInferenceSteps: 5 }).className).toBe('PNDMScheduler');
    const euler = createScheduler(
      { ...raw, _class_name: 'EulerDiscreteScheduler' },
      { numInferenceSteps: 5 },
    );
    expect(euler.kind).toBe('euler');
    expect(createScheduler(raw, { kind: 'ddim', numInferenceSteps: 5 })).toBeInstanceOf(DdimScheduler);
  });

  it('rejects an unknown or missing _class_name, listing the supported schedulers', () => {
    const unknown = () =>
      createScheduler({ ...raw, _class_name: 'LMSDiscreteScheduler' }, { numInferenceSteps: 5 });
    expect(unknown).toThrow(UserError);
    expect(unknown).toThrow(
      /"LMSDiscreteScheduler".*PNDMScheduler \(pndm\).*DDIMScheduler \(ddim\).*EulerDiscreteScheduler \(euler\).*EulerAncestralDiscreteScheduler \(euler-a\).*DPMSolverMultistepScheduler \(dpm\+\+\)/,
    );
    expect(() => kindOfClassName(undefined)).toThrow(/no _class_name/);
  });

  it('rejects bad options and unsupported settings with UserErrors that name them', () => {
    const cases: [Record<string, unknown>, Parameters<typeof createScheduler>[1], RegExp][] = [
      [raw, { numInferenceSteps: 0 }, /positive integer/],
      [raw, { numInferenceSteps: 10, karras: true }, /Karras sigmas are available for the euler and dpm\+\+/],
      [{ ...raw, beta_schedule: 'sigmoid' }, { numInferenceSteps: 10 }, /beta_schedule "sigmoid"/],
      [
        { ...raw, prediction_type: 'sample' },
        { numInferenceSteps: 10 },
        /prediction_type "sample".*"epsilon", "v_prediction"/,
      ],
      [
        { ...raw, timestep_spacing: 'uniform' },
        { kind: 'ddim', numInferenceSteps: 10 },
        /timestep_spacing "uniform"/,
      ],
      [{ ...raw, thresholding: true }, { kind: 'dpm++', numInferenceSteps: 10 }, /thresholding/],
      [
        { ...raw, algorithm_type: 'sde-dpmsolver++' },
        { kind: 'dpm++', numInferenceSteps: 10 },
        /algorithm_type/,
      ],
      [{ ...raw, steps_offset: '1' }, { numInferenceSteps: 10 }, /"steps_offset" should be a number/],
      [{ ...raw, trained_betas: [0.1, 0.2] }, { numInferenceSteps: 10 }, /trained_betas has 2 entries/],
      [
        { ...raw, prediction_type: 'sample' },
        { kind: 'euler-a', numInferenceSteps: 10, randn: () => new Float32Array() },
        /not implemented/,
      ],
    ];
    for (const [config, options, message] of cases) {
      expect(() => createScheduler(config, options)).toThrow(UserError);
      expect(() => createScheduler(config, options)).toThrow(message);
    }
  });

  it('fills missing keys with each class default (diffusers 0.21.4)', () => {
    const empty = { _class_name: 'DDIMScheduler' };
    expect(createScheduler(empty, { numInferenceSteps: 10 }).config).toMatchObject({
      beta_schedule: 'linear',
      beta_start: 0.0001,
      beta_end: 0.02,
      clip_sample: true,
      set_alpha_to_one: true,
      timestep_spacing: 'leading',
      steps_offset: 0,
    });
    expect(createScheduler(empty, { kind: 'euler', numInferenceSteps: 10 }).config).toMatchObject({
      timestep_spacing: 'linspace',
      interpolation_type: 'linear',
      use_karras_sigmas: false,
    });
    expect(createScheduler(empty, { kind: 'dpm++', numInferenceSteps: 10 }).config).toMatchObject({
      solver_order: 2,
      algorithm_type: 'dpmsolver++',
      lower_order_final: true,
      lambda_min_clipped: Number.NEGATIVE_INFINITY,
    });
    const dpm = createScheduler(
      { ...raw, lambda_min_clipped: '-Infinity', solver_type: 'bh2' },
      { kind: 'dpm++', numInferenceSteps: 10 },
    );
    expect(dpm.config).toMatchObject({
      lambda_min_clipped: Number.NEGATIVE_INFINITY,
      solver_type: 'midpoint',
    });
    expect(createScheduler(raw, { kind: 'pndm', numInferenceSteps: 10 }).config).not.toHaveProperty(
      'clip_sample',
    );
  });
});

describe('beta schedules', () => {
  it('torch.linspace in float32: exact ends, the AVX2 fill between them', () => {
    const values = torchLinspaceFloat32(0.1, 0.9, 33);
    expect(values[0]).toBe(Math.fround(0.1));
    expect(values[32]).toBe(Math.fround(0.9));
    expect(values[16]).toBeCloseTo(0.5, 7);
    expect(Array.from(torchLinspaceFloat32(2, 3, 1))).toEqual([2]);
  });

  it('linear, scaled_linear, squaredcos_cap_v2 and trained betas give the known alphas_cumprod', () => {
    const base = { num_train_timesteps: 1000, beta_start: 0.00085, beta_end: 0.012, trained_betas: null };
    const scaled = alphasCumprodFrom(betasFor({ ...base, beta_schedule: 'scaled_linear' }, 'test'));
    // Values of the SD 1.5 schedule (float32), as printed by diffusers.
    expect(scaled[0]).toBe(Math.fround(0.99915));
    expect(scaled[999]).toBeCloseTo(0.0046600960195064545, 10);
    const linear = betasFor({ ...base, beta_start: 0.0001, beta_end: 0.02, beta_schedule: 'linear' }, 'test');
    expect(linear[0]).toBe(Math.fround(0.0001));
    expect(linear[999]).toBe(Math.fround(0.02));
    const cosine = betasFor({ ...base, beta_schedule: 'squaredcos_cap_v2' }, 'test');
    expect(cosine[999]).toBe(Math.fround(0.999));
    const ac = alphasCumprodFrom(cosine);
    expect(ac[499]).toBeCloseTo(
      Math.cos((((0.5 + 0.008) / 1.008) * Math.PI) / 2) ** 2 / Math.cos(((0.008 / 1.008) * Math.PI) / 2) ** 2,
      5,
    );
    const trained = alphasCumprodFrom(
      betasFor(
        { ...base, beta_schedule: 'linear', num_train_timesteps: 2, trained_betas: [0.5, 0.5] },
        'test',
      ),
    );
    expect(Array.from(trained)).toEqual([0.5, 0.25]);
  });

  it('rescale_betas_zero_snr makes the last alphā zero and keeps the first', () => {
    const ddim = createScheduler(
      { ...raw, rescale_betas_zero_snr: true },
      { kind: 'ddim', numInferenceSteps: 10 },
    );
    const ac = (ddim as DdimScheduler).alphasCumprod;
    expect(ac[999]).toBe(0);
    expect(ac[0]).toBeCloseTo(0.99915, 6);
  });
});

describe('numpy semantics used for timesteps', () => {
  it('rounds half to even, fills arange from its first two values, ends linspace exactly', () => {
    expect([0.5, 1.5, 2.5, -1.5, 499.5, 2.4999].map(roundHalfEven)).toEqual([0, 2, 2, -2, 500, 2]);
    expect(numpyArange(1000, 0, -1000 / 3)).toEqual([1000, 666.6666666666667, 333.3333333333335]);
    expect(numpyLinspace(0, 999, 11).map(roundHalfEven)).toEqual([
      0, 100, 200, 300, 400, 500, 599, 699, 799, 899, 999,
    ]);
  });
});
