import { UserError } from '../errors.ts';
import { fma32 } from '../random/float32Fma.ts';

/**
 * The noise schedule every diffusers scheduler builds in `__init__`: betas as a float32 torch tensor,
 * `alphas = 1 - betas` and `alphas_cumprod = torch.cumprod(alphas)`, reproduced bit for bit.
 */

const f32 = Math.fround;

export type BetaScheduleName = 'linear' | 'scaled_linear' | 'squaredcos_cap_v2';

export interface BetaScheduleConfig {
  num_train_timesteps: number;
  beta_start: number;
  beta_end: number;
  beta_schedule: string;
  trained_betas: readonly number[] | null;
}

/** The float32 betas of `config`, as diffusers 0.21.4 computes them. */
export function betasFor(config: BetaScheduleConfig, schedulerName: string): Float32Array {
  const n = config.num_train_timesteps;
  if (config.trained_betas !== null) {
    if (config.trained_betas.length !== n) {
      throw new UserError(
        `${schedulerName}: trained_betas has ${config.trained_betas.length} entries but num_train_timesteps is ${n}`,
      );
    }
    return Float32Array.from(config.trained_betas);
  }
  switch (config.beta_schedule) {
    case 'linear':
      return torchLinspaceFloat32(config.beta_start, config.beta_end, n);
    case 'scaled_linear': {
      const roots = torchLinspaceFloat32(Math.sqrt(config.beta_start), Math.sqrt(config.beta_end), n);
      return roots.map((r) => f32(r * r));
    }
    case 'squaredcos_cap_v2':
      return cosineBetas(n);
    default:
      throw new UserError(
        `${schedulerName}: beta_schedule "${config.beta_schedule}" is not supported; use linear, scaled_linear or squaredcos_cap_v2`,
      );
  }
}

/** `torch.cumprod(1 - betas)` in float32. PyTorch's CPU cumprod accumulates in double. */
export function alphasCumprodFrom(betas: Float32Array): Float32Array {
  const out = new Float32Array(betas.length);
  let product = 1;
  for (let i = 0; i < betas.length; i++) {
    product *= f32(1 - betas[i]);
    out[i] = product;
  }
  return out;
}

/**
 * `torch.linspace(start, end, steps, dtype=torch.float32)` on CPU as PyTorch 1.13's AVX2 kernel fills
 * it: the first half counts up from `start`, the second half down from `end`, 8 lanes at a time,
 * each lane `base + j·step` as a fused multiply-add, the last `steps mod 16` entries one by one.
 * Checked against the golden PNDM step: a plain `start + i·step` gives alphas_cumprod 2 ulps off.
 */
export function torchLinspaceFloat32(start: number, end: number, steps: number): Float32Array {
  const out = new Float32Array(steps);
  if (steps === 0) return out;
  const s = f32(start);
  const e = f32(end);
  if (steps === 1) {
    out[0] = s;
    return out;
  }
  const step = f32(f32(e - s) / (steps - 1));
  const halfway = Math.floor(steps / 2);
  const lane = (index: number): number =>
    index < halfway ? fma32(step, index, s) : fma32(-step, steps - index - 1, e);
  const vectorWidth = 8;
  const vectorized = steps - (steps % (2 * vectorWidth));
  let i = 0;
  for (; i < vectorized; i += vectorWidth) {
    const base = lane(i);
    for (let j = 0; j < vectorWidth; j++) out[i + j] = fma32(j, step, base);
  }
  for (; i < steps; i++) out[i] = lane(i);
  return out;
}

/** diffusers' `betas_for_alpha_bar` (cosine, max_beta 0.999): Python floats, then a float32 tensor. */
function cosineBetas(n: number): Float32Array {
  // Same operation order as the Python expression `math.cos((t + 0.008) / 1.008 * math.pi / 2) ** 2`.
  const alphaBar = (t: number): number => {
    const c = Math.cos((((t + 0.008) / 1.008) * Math.PI) / 2);
    return c * c;
  };
  const betas = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    betas[i] = Math.min(1 - alphaBar((i + 1) / n) / alphaBar(i / n), 0.999);
  }
  return betas;
}

/**
 * diffusers' `rescale_zero_terminal_snr` (DDIM's `rescale_betas_zero_snr`): shift and scale
 * sqrt(alphas_cumprod) so the last one is 0, then back to betas, every op a float32 tensor op.
 */
export function rescaleZeroTerminalSnr(betas: Float32Array): Float32Array {
  const n = betas.length;
  const roots = alphasCumprodFrom(betas).map((a) => Math.sqrt(a));
  const first = roots[0];
  const last = roots[n - 1];
  const scale = f32(first / f32(first - last));
  const alphasBar = roots.map((r) => {
    const shifted = f32(f32(r - last) * scale);
    return shifted * shifted;
  });
  const rescaled = new Float32Array(n);
  rescaled[0] = f32(1 - alphasBar[0]);
  for (let i = 1; i < n; i++) rescaled[i] = f32(1 - f32(alphasBar[i] / alphasBar[i - 1]));
  return rescaled;
}
