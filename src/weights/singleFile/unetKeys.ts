/**
 * The UNet's keys in an original (LDM / SGM) checkpoint, under `model.diffusion_model.`, and their diffusers
 * names, as diffusers 0.21.4's `convert_ldm_unet_checkpoint` maps them. The LDM UNet is a flat list of blocks:
 *
 *   input_blocks.0            conv_in
 *   input_blocks.1 + b·(L+1) + j   level b, layer j < L: [ResBlock, SpatialTransformer?]
 *   input_blocks.(b+1)·(L+1)  level b's downsampler (`.0.op`)
 *   middle_block.0 / .1 / .2  mid_block.resnets.0 / attentions.0 / resnets.1
 *   output_blocks.b·(L+1) + j up level b, layer j ≤ L: [ResBlock, SpatialTransformer?, Upsample?]
 *
 * with L = `layers_per_block` (the up path has one layer more). Inside a block only the ResBlock's names change;
 * a SpatialTransformer's (norm, proj_in, transformer_blocks.*, proj_out) are diffusers' already.
 */

/** Whole modules that are renamed as they are. */
const FIXED_MODULES: Readonly<Record<string, string>> = {
  'time_embed.0': 'time_embedding.linear_1',
  'time_embed.2': 'time_embedding.linear_2',
  // SDXL's micro-conditioning MLP (`num_classes: sequential`, `addition_embed_type: text_time`).
  'label_emb.0.0': 'add_embedding.linear_1',
  'label_emb.0.2': 'add_embedding.linear_2',
  'input_blocks.0.0': 'conv_in',
  'out.0': 'conv_norm_out',
  'out.2': 'conv_out',
};

/** A ResBlock's layers: LDM's Sequential indices → diffusers' ResnetBlock2D names. */
const RESNET_LAYERS: Readonly<Record<string, string>> = {
  'in_layers.0': 'norm1',
  'in_layers.2': 'conv1',
  'out_layers.0': 'norm2',
  'out_layers.3': 'conv2',
  'emb_layers.1': 'time_emb_proj',
  skip_connection: 'conv_shortcut',
};

const RESNET_LAYER = new RegExp(
  `^(${Object.keys(RESNET_LAYERS).join('|').replaceAll('.', '\\.')})\\.(weight|bias)$`,
);
const TRANSFORMER_PART = /^(norm|proj_in|proj_out)\.(weight|bias)$|^transformer_blocks\.\d+\./;
const MIDDLE = ['resnets.0', 'attentions.0', 'resnets.1'];

/** The diffusers name of a UNet key (its `model.diffusion_model.` prefix removed), or undefined if unknown. */
export function unetDiffusersName(key: string, layersPerBlock: number): string | undefined {
  const fixed = /^(.+)\.(weight|bias)$/.exec(key);
  if (fixed && Object.hasOwn(FIXED_MODULES, fixed[1])) return `${FIXED_MODULES[fixed[1]]}.${fixed[2]}`;
  const perLevel = layersPerBlock + 1;

  const input = /^input_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (input) {
    const index = Number(input[1]) - 1;
    if (index < 0) return undefined;
    const level = Math.floor(index / perLevel);
    const layer = index % perLevel;
    const [part, rest] = [input[2], input[3]];
    if (layer === layersPerBlock) {
      const op = /^op\.(weight|bias)$/.exec(rest);
      return part === '0' && op ? `down_blocks.${level}.downsamplers.0.conv.${op[1]}` : undefined;
    }
    if (part === '0') return resnet(`down_blocks.${level}.resnets.${layer}`, rest);
    if (part === '1') return transformer(`down_blocks.${level}.attentions.${layer}`, rest);
    return undefined;
  }

  const middle = /^middle_block\.([012])\.(.+)$/.exec(key);
  if (middle) {
    const target = `mid_block.${MIDDLE[Number(middle[1])]}`;
    return middle[1] === '1' ? transformer(target, middle[2]) : resnet(target, middle[2]);
  }

  const output = /^output_blocks\.(\d+)\.(\d+)\.(.+)$/.exec(key);
  if (output) {
    const index = Number(output[1]);
    const level = Math.floor(index / perLevel);
    const layer = index % perLevel;
    const [part, rest] = [output[2], output[3]];
    if (part === '0') return resnet(`up_blocks.${level}.resnets.${layer}`, rest);
    // The upsampler follows the ResBlock (index 1) or the ResBlock and the transformer (index 2).
    const upsample = /^conv\.(weight|bias)$/.exec(rest);
    if (upsample && layer === layersPerBlock && (part === '1' || part === '2')) {
      return `up_blocks.${level}.upsamplers.0.conv.${upsample[1]}`;
    }
    if (part === '1') return transformer(`up_blocks.${level}.attentions.${layer}`, rest);
  }
  return undefined;
}

function resnet(target: string, rest: string): string | undefined {
  const match = RESNET_LAYER.exec(rest);
  return match ? `${target}.${RESNET_LAYERS[match[1]]}.${match[2]}` : undefined;
}

function transformer(target: string, rest: string): string | undefined {
  return TRANSFORMER_PART.test(rest) ? `${target}.${rest}` : undefined;
}
