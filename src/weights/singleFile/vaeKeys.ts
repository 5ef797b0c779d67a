import type { MappedTensor } from './tensorView.ts';

/**
 * The VAE's keys in an original checkpoint, under `first_stage_model.`, and their diffusers names, as diffusers
 * 0.21.4's `convert_ldm_vae_checkpoint` maps them:
 *
 *   {encoder,decoder}.norm_out           → conv_norm_out (conv_in, conv_out, quant_conv, post_quant_conv keep their names)
 *   encoder.down.i.block.j / .downsample → encoder.down_blocks.i.resnets.j / .downsamplers.0
 *   decoder.up.k.block.j / .upsample     → decoder.up_blocks.(n-1-k).resnets.j / .upsamplers.0 (LDM numbers the
 *                                          decoder's levels from the lowest resolution up, diffusers in call order)
 *   *.mid.block_1 / block_2              → mid_block.resnets.0 / 1
 *   *.mid.attn_1.{norm,q,k,v,proj_out}   → mid_block.attentions.0.{group_norm,to_q,to_k,to_v,to_out.0}; the
 *                                          weights are 1×1 convs [C, C, 1, 1], read as linear [C, C]
 *   ResBlock nin_shortcut                → conv_shortcut (norm1, conv1, norm2, conv2 keep their names)
 */

const ATTENTION_LAYERS: Readonly<Record<string, string>> = {
  norm: 'group_norm',
  q: 'to_q',
  k: 'to_k',
  v: 'to_v',
  proj_out: 'to_out.0',
};

const RESNET_LAYER = /^(norm1|conv1|norm2|conv2|nin_shortcut)\.(weight|bias)$/;

/**
 * The diffusers tensor of a VAE key (its `first_stage_model.` prefix removed), or undefined if unknown;
 * `upBlocks` is the number of decoder levels (the length of the config's `block_out_channels`).
 */
export function vaeTensor(key: string, source: string, upBlocks: number): MappedTensor | undefined {
  const name = (diffusers: string | undefined) =>
    diffusers === undefined ? undefined : { name: diffusers, source };

  const plain =
    /^(encoder\.conv_in|encoder\.conv_out|decoder\.conv_in|decoder\.conv_out|quant_conv|post_quant_conv)\.(weight|bias)$/.exec(
      key,
    );
  if (plain) return name(key);
  const normOut = /^(encoder|decoder)\.norm_out\.(weight|bias)$/.exec(key);
  if (normOut) return name(`${normOut[1]}.conv_norm_out.${normOut[2]}`);

  const down = /^encoder\.down\.(\d+)\.(.+)$/.exec(key);
  if (down) {
    const [level, rest] = [down[1], down[2]];
    const sampler = /^downsample\.conv\.(weight|bias)$/.exec(rest);
    if (sampler) return name(`encoder.down_blocks.${level}.downsamplers.0.conv.${sampler[1]}`);
    const block = /^block\.(\d+)\.(.+)$/.exec(rest);
    return block ? name(resnet(`encoder.down_blocks.${level}.resnets.${block[1]}`, block[2])) : undefined;
  }

  const up = /^decoder\.up\.(\d+)\.(.+)$/.exec(key);
  if (up) {
    const level = upBlocks - 1 - Number(up[1]);
    if (level < 0) return undefined;
    const rest = up[2];
    const sampler = /^upsample\.conv\.(weight|bias)$/.exec(rest);
    if (sampler) return name(`decoder.up_blocks.${level}.upsamplers.0.conv.${sampler[1]}`);
    const block = /^block\.(\d+)\.(.+)$/.exec(rest);
    return block ? name(resnet(`decoder.up_blocks.${level}.resnets.${block[1]}`, block[2])) : undefined;
  }

  const midResnet = /^(encoder|decoder)\.mid\.block_([12])\.(.+)$/.exec(key);
  if (midResnet) {
    return name(resnet(`${midResnet[1]}.mid_block.resnets.${Number(midResnet[2]) - 1}`, midResnet[3]));
  }
  const midAttention = /^(encoder|decoder)\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$/.exec(key);
  if (midAttention) {
    const [, side, layer, parameter] = midAttention;
    const diffusers = `${side}.mid_block.attentions.0.${ATTENTION_LAYERS[layer]}.${parameter}`;
    // diffusers' conv_attn_to_linear: the projections' 1×1-conv weights become linear weights.
    return layer !== 'norm' && parameter === 'weight'
      ? { name: diffusers, source, view: { kind: 'squeeze' } }
      : { name: diffusers, source };
  }
  return undefined;
}

function resnet(target: string, rest: string): string | undefined {
  const match = RESNET_LAYER.exec(rest);
  if (!match) return undefined;
  return `${target}.${match[1] === 'nin_shortcut' ? 'conv_shortcut' : match[1]}.${match[2]}`;
}
