import { UserError } from '../../errors.ts';
import {
  cast,
  concat,
  cos,
  type DType,
  exp,
  expand,
  mul,
  pad,
  reshape,
  sin,
  type Value,
} from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { UNetConfig } from './config.ts';
import { linear, silu } from './layers.ts';

/**
 * diffusers' `get_timestep_embedding` (the `Timesteps` module), [batch] → [batch, dim], in PyTorch's float32
 * arithmetic: exponent_i = fl(fl(−ln 10000)·i) / (half − shift) (constants, rounded here as PyTorch rounds
 * them), freq = exp(exponent), arg = t·freq, then [sin, cos] or, with `flipSinToCos`, [cos, sin]; an odd `dim`
 * gets a zero column.
 */
export function sinusoidalEmbedding(
  timesteps: Value,
  dim: number,
  { flipSinToCos, freqShift }: { flipSinToCos: boolean; freqShift: number },
): Value {
  const half = Math.floor(dim / 2);
  const logMaxPeriod = Math.fround(-Math.log(10000));
  const divisor = Math.fround(half - freqShift);
  // Each step is one float32 operation; computing it in double and rounding once is exactly that.
  const exponent = Float32Array.from({ length: half }, (_, i) => Math.fround(logMaxPeriod * i) / divisor);
  const graph = timesteps.graph;
  const freqs = exp(graph.constant(exponent, [1, half], timesteps.dtype));
  const args = mul(reshape(timesteps, [timesteps.shape[0], 1]), freqs);
  const emb = flipSinToCos ? concat([cos(args), sin(args)], 1) : concat([sin(args), cos(args)], 1);
  return dim % 2 === 1
    ? pad(emb, [
        [0, 0],
        [0, 1],
      ])
    : emb;
}

/**
 * The timestep as one value per sample: a scalar, [1] or [batch] float32 input becomes [batch] (diffusers
 * broadcasts a scalar timestep over the batch).
 */
export function timestepsForBatch(timestep: Value, batch: number): Value {
  if (timestep.dtype !== 'float32') {
    throw new UserError(`the UNet's timestep must be float32, got ${timestep.dtype}`);
  }
  if (timestep.rank === 0 || (timestep.rank === 1 && timestep.shape[0] === 1)) {
    return expand(reshape(timestep, [1]), [batch]);
  }
  if (timestep.rank === 1 && timestep.shape[0] === batch) return timestep;
  throw new UserError(`the UNet's timestep must be a scalar, [1] or [${batch}], got ${timestep}`);
}

/** diffusers' `TimestepEmbedding` with act_fn silu: linear_1 → SiLU → linear_2. */
export function timestepMlp(p: ParameterSource, x: Value, timeEmbedDim: number): Value {
  return linear(p.scope('linear_2'), silu(linear(p.scope('linear_1'), x, timeEmbedDim)), timeEmbedDim);
}

/**
 * The UNet's time embedding [batch, time_embed_dim]: `time_embedding(time_proj(t).to(dtype))`, the sinusoids in
 * float32 whatever the compute dtype (diffusers casts them to the sample's dtype before the MLP).
 */
export function timeEmbedding(
  p: ParameterSource,
  config: UNetConfig,
  timestep: Value,
  batch: number,
  dtype: DType,
): Value {
  const sinusoids = sinusoidalEmbedding(
    timestepsForBatch(timestep, batch),
    config.blockOutChannels[0],
    config,
  );
  return timestepMlp(p.scope('time_embedding'), cast(sinusoids, dtype), config.timeEmbedDim);
}
