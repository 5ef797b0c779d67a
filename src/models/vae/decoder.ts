import { UserError } from '../../errors.ts';
import {
  add,
  conv2d,
  div,
  erf,
  groupNorm,
  linear,
  matmul,
  mul,
  relu,
  reshape,
  sigmoid,
  softmax,
  transpose,
  transposeLast2,
  upsampleNearest,
  type Value,
} from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';
import type { AutoencoderKLConfig, VaeActivation } from './config.ts';

/** diffusers builds every decoder norm (resnets, attention, conv_norm_out) with eps 1e-6. */
const EPS = 1e-6;

export interface VaeDecodeOptions {
  /**
   * Whether the input is the pipeline's scaled latents, which the graph divides by `scaling_factor`
   * first, as `vae.decode(latents / scaling_factor)` does (default true). False: the input is already z.
   */
  scaledInput?: boolean;
}

/**
 * diffusers' `AutoencoderKL.decode(z).sample` (0.21.4): post_quant_conv, then the `Decoder`: conv_in, the
 * mid block (resnet, single-head attention, resnet), the up blocks (resnets, nearest ×2 + conv), GroupNorm,
 * activation, conv_out. `latents` [B, latent_channels, h, w] float32 → image [B, out_channels, h·f, w·f],
 * f = 2^(blocks − 1), roughly in [−1, 1] and not clamped.
 */
export function vaeDecoder(
  params: ParameterSource,
  config: AutoencoderKLConfig,
  latents: Value,
  options: VaeDecodeOptions = {},
): Value {
  const lc = config.latentChannels;
  if (latents.rank !== 4 || latents.shape[1] !== lc || latents.dtype !== 'float32') {
    throw new UserError(
      `the VAE decoder needs latents of shape [batch, ${lc}, h, w] float32, got ${latents}`,
    );
  }
  let z = options.scaledInput === false ? latents : div(latents, config.scalingFactor);
  if (config.usePostQuantConv) {
    z = conv2d(
      z,
      params.get('post_quant_conv.weight', [lc, lc, 1, 1]),
      params.get('post_quant_conv.bias', [lc]),
    );
  }
  const d = params.scope('decoder');
  const channels = [...config.blockOutChannels].reverse();
  let h = conv3x3(d.scope('conv_in'), z, channels[0]);

  const mid = d.scope('mid_block');
  h = resnet(mid.scope('resnets.0'), config, h, channels[0]);
  if (config.midBlockAddAttention) h = attention(mid.scope('attentions.0'), config, h);
  h = resnet(mid.scope('resnets.1'), config, h, channels[0]);

  for (const [i, out] of channels.entries()) {
    const block = d.scope(`up_blocks.${i}`);
    for (let j = 0; j <= config.layersPerBlock; j++) h = resnet(block.scope(`resnets.${j}`), config, h, out);
    if (i < channels.length - 1) {
      h = conv3x3(block.scope('upsamplers.0.conv'), upsampleNearest(h, 2), out);
    }
  }
  h = activation(config.actFn, norm(d.scope('conv_norm_out'), config, h));
  return conv3x3(d.scope('conv_out'), h, config.outChannels);
}

function conv3x3(p: ParameterSource, x: Value, out: number): Value {
  const weight = p.get('weight', [out, x.shape[1], 3, 3]);
  return conv2d(x, weight, p.get('bias', [out]), { padding: 1 });
}

function norm(p: ParameterSource, config: AutoencoderKLConfig, x: Value): Value {
  const c = x.shape[1];
  return groupNorm(x, p.get('weight', [c]), p.get('bias', [c]), config.normNumGroups, EPS);
}

/** ResnetBlock2D without a time embedding, output_scale_factor 1 (a division by 1 is left out). */
function resnet(p: ParameterSource, config: AutoencoderKLConfig, x: Value, out: number): Value {
  let h = conv3x3(p.scope('conv1'), activation(config.actFn, norm(p.scope('norm1'), config, x)), out);
  h = conv3x3(p.scope('conv2'), activation(config.actFn, norm(p.scope('norm2'), config, h)), out);
  const cin = x.shape[1];
  const shortcut =
    cin === out
      ? x
      : conv2d(x, p.get('conv_shortcut.weight', [out, cin, 1, 1]), p.get('conv_shortcut.bias', [out]));
  return add(shortcut, h);
}

/** Names of the mid-block attention's projections: diffusers' own, then the pre-0.14 names it renames on load. */
const PROJECTIONS = [
  { q: 'to_q', k: 'to_k', v: 'to_v', out: 'to_out.0' },
  { q: 'query', k: 'key', v: 'value', out: 'proj_attn' },
];

/**
 * The mid block's `Attention` (one head of width C over the H·W positions, AttnProcessor of diffusers
 * 0.21.4): GroupNorm, q/k/v projections, scores = (q·kᵀ)·C^-0.5, float32 softmax, out projection, residual.
 */
function attention(p: ParameterSource, config: AutoencoderKLConfig, x: Value): Value {
  const [batch, c, height, width] = x.shape;
  const names = PROJECTIONS.find((n) => p.has(`${n.q}.weight`)) ?? PROJECTIONS[0];
  const tokens = transposeLast2(reshape(norm(p.scope('group_norm'), config, x), [batch, c, height * width]));
  const project = (name: string, v: Value) =>
    linear(v, p.get(`${name}.weight`, [c, c]), p.get(`${name}.bias`, [c]));
  const q = project(names.q, tokens);
  const k = project(names.k, tokens);
  const v = project(names.v, tokens);
  const probs = softmax(mul(matmul(q, transposeLast2(k)), c ** -0.5), -1);
  const out = project(names.out, matmul(probs, v));
  return add(reshape(transpose(out, [0, 2, 1]), [batch, c, height, width]), x);
}

/** diffusers' `get_activation`, in PyTorch's op order where it matters. */
function activation(name: VaeActivation, x: Value): Value {
  switch (name) {
    case 'silu':
    case 'swish':
      return mul(x, sigmoid(x));
    case 'gelu':
      return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
    case 'relu':
      return relu(x);
  }
}
