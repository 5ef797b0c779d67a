import { ConfigReader } from '../configValues.ts';

/** diffusers' `get_activation` names the decoder can use (swish is silu). */
export const VAE_ACTIVATIONS = ['silu', 'swish', 'gelu', 'relu'] as const;
export type VaeActivation = (typeof VAE_ACTIVATIONS)[number];

/** diffusers' `AutoencoderKL` config, the part that shapes the decoder. */
export interface AutoencoderKLConfig {
  outChannels: number;
  latentChannels: number;
  /** Encoder order; the decoder runs them reversed. */
  blockOutChannels: number[];
  layersPerBlock: number;
  normNumGroups: number;
  actFn: VaeActivation;
  /** Latents the pipeline holds are the VAE's latents times this (SD 1.x and 2.x: 0.18215). */
  scalingFactor: number;
  /**
   * diffusers runs an fp16 VAE in float32 when set. This decoder always computes in float32 (half
   * weights are widened on load), so the flag changes nothing; it is read to validate it.
   */
  forceUpcast: boolean;
  /** Newer diffusers configs can drop post_quant_conv; 0.21.4 always has it. */
  usePostQuantConv: boolean;
  /** Newer diffusers configs can drop the mid-block attention; 0.21.4 always has it. */
  midBlockAddAttention: boolean;
}

/** Reads a vae/config.json with diffusers' `AutoencoderKL` defaults for keys that are absent. */
export function parseAutoencoderKLConfig(path: string, raw: Record<string, unknown>): AutoencoderKLConfig {
  const c = new ConfigReader(path, raw);
  if (raw['_class_name'] !== undefined && raw['_class_name'] !== 'AutoencoderKL') {
    throw c.unsupported('_class_name', 'the VAE must be an AutoencoderKL');
  }
  const blockOutChannels = c.positiveInts('block_out_channels', [64]);
  const upBlockTypes = c.strings('up_block_types', ['UpDecoderBlock2D']);
  if (upBlockTypes.length !== blockOutChannels.length || upBlockTypes.some((t) => t !== 'UpDecoderBlock2D')) {
    throw c.unsupported(
      'up_block_types',
      `expected "UpDecoderBlock2D" once per block_out_channels entry (${blockOutChannels.length})`,
    );
  }
  // Keys of later VAEs (SD3, Flux, SDXL statistics) that change how latents map to the decoder's input.
  c.nullOrAbsent('shift_factor', 'latents with a shift factor (SD3/Flux VAEs) are not supported');
  c.nullOrAbsent('latents_mean', 'per-channel latent statistics are not supported');
  c.nullOrAbsent('latents_std', 'per-channel latent statistics are not supported');
  const config: AutoencoderKLConfig = {
    outChannels: c.positiveInt('out_channels', 3),
    latentChannels: c.positiveInt('latent_channels', 4),
    blockOutChannels,
    layersPerBlock: c.positiveInt('layers_per_block', 1),
    normNumGroups: c.positiveInt('norm_num_groups', 32),
    actFn: c.oneOf('act_fn', 'silu', VAE_ACTIVATIONS),
    scalingFactor: c.positiveNumber('scaling_factor', 0.18215),
    forceUpcast: c.boolean('force_upcast', true),
    usePostQuantConv: c.boolean('use_post_quant_conv', true),
    midBlockAddAttention: c.boolean('mid_block_add_attention', true),
  };
  const indivisible = blockOutChannels.find((ch) => ch % config.normNumGroups !== 0);
  if (indivisible !== undefined) {
    throw c.unsupported(
      'norm_num_groups',
      `every block_out_channels entry must split into the groups; ${indivisible} does not`,
    );
  }
  return config;
}

/** How many pixels one latent covers along each axis: 2^(number of blocks − 1). */
export function vaeScaleFactor(config: AutoencoderKLConfig): number {
  return 2 ** (config.blockOutChannels.length - 1);
}
