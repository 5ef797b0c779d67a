import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnyTypedArray } from '../../src/weights/dtypes.ts';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';

/**
 * Writes original-layout (LDM / SGM) single-file checkpoints from diffusers folders, with the key table below
 * written from diffusers 0.21.4's convert_from_ckpt.py in the diffusers → LDM direction (the reverse of what the
 * code under test does, written independently of it), so that a test can compare what the loader makes of
 * the file with the diffusers folder it came from.
 */

/** ResnetBlock2D layer → LDM ResBlock Sequential index (renew_resnet_paths). */
const UNET_RESNET: [RegExp, string][] = [
  [/\.norm1\./, '.in_layers.0.'],
  [/\.conv1\./, '.in_layers.2.'],
  [/\.norm2\./, '.out_layers.0.'],
  [/\.conv2\./, '.out_layers.3.'],
  [/\.time_emb_proj\./, '.emb_layers.1.'],
  [/\.conv_shortcut\./, '.skip_connection.'],
];

export interface UNetLayout {
  layersPerBlock: number;
  /** Whether each up block has attentions (its upsampler is then the block's third module, else its second). */
  upBlockHasAttention: boolean[];
}

/** The LDM key of a diffusers UNet tensor, without the `model.diffusion_model.` prefix. */
export function ldmUNetKey(name: string, { layersPerBlock: L, upBlockHasAttention }: UNetLayout): string {
  const fixed: [RegExp, string][] = [
    [/^time_embedding\.linear_1\./, 'time_embed.0.'],
    [/^time_embedding\.linear_2\./, 'time_embed.2.'],
    [/^add_embedding\.linear_1\./, 'label_emb.0.0.'],
    [/^add_embedding\.linear_2\./, 'label_emb.0.2.'],
    [/^conv_in\./, 'input_blocks.0.0.'],
    [/^conv_norm_out\./, 'out.0.'],
    [/^conv_out\./, 'out.2.'],
  ];
  for (const [pattern, ldm] of fixed) if (pattern.test(name)) return name.replace(pattern, ldm);
  const resnet = (key: string) => UNET_RESNET.reduce((k, [pattern, ldm]) => k.replace(pattern, ldm), key);
  let m = /^down_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name);
  if (m) return resnet(`input_blocks.${1 + Number(m[1]) * (L + 1) + Number(m[2])}.0.${m[3]}`);
  m = /^down_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/.exec(name);
  if (m) return `input_blocks.${1 + Number(m[1]) * (L + 1) + Number(m[2])}.1.${m[3]}`;
  m = /^down_blocks\.(\d+)\.downsamplers\.0\.conv\.(.+)$/.exec(name);
  if (m) return `input_blocks.${(Number(m[1]) + 1) * (L + 1)}.0.op.${m[2]}`;
  m = /^mid_block\.resnets\.([01])\.(.+)$/.exec(name);
  if (m) return resnet(`middle_block.${m[1] === '0' ? 0 : 2}.${m[2]}`);
  m = /^mid_block\.attentions\.0\.(.+)$/.exec(name);
  if (m) return `middle_block.1.${m[1]}`;
  m = /^up_blocks\.(\d+)\.resnets\.(\d+)\.(.+)$/.exec(name);
  if (m) return resnet(`output_blocks.${Number(m[1]) * (L + 1) + Number(m[2])}.0.${m[3]}`);
  m = /^up_blocks\.(\d+)\.attentions\.(\d+)\.(.+)$/.exec(name);
  if (m) return `output_blocks.${Number(m[1]) * (L + 1) + Number(m[2])}.1.${m[3]}`;
  m = /^up_blocks\.(\d+)\.upsamplers\.0\.conv\.(.+)$/.exec(name);
  if (m) {
    const block = Number(m[1]);
    return `output_blocks.${block * (L + 1) + L}.${upBlockHasAttention[block] ? 2 : 1}.conv.${m[2]}`;
  }
  throw new Error(`no LDM key for UNet tensor ${name}`);
}

/** The LDM key of a diffusers VAE tensor (without `first_stage_model.`); `levels` = len(block_out_channels). */
export function ldmVaeKey(name: string, levels: number): string {
  const rules: [RegExp, (m: RegExpExecArray) => string][] = [
    [/^encoder\.down_blocks\.(\d+)\.resnets\.(\d+)\./, (m) => `encoder.down.${m[1]}.block.${m[2]}.`],
    [/^encoder\.down_blocks\.(\d+)\.downsamplers\.0\./, (m) => `encoder.down.${m[1]}.downsample.`],
    [
      /^decoder\.up_blocks\.(\d+)\.resnets\.(\d+)\./,
      (m) => `decoder.up.${levels - 1 - Number(m[1])}.block.${m[2]}.`,
    ],
    [
      /^decoder\.up_blocks\.(\d+)\.upsamplers\.0\./,
      (m) => `decoder.up.${levels - 1 - Number(m[1])}.upsample.`,
    ],
    [/^(encoder|decoder)\.mid_block\.resnets\.([01])\./, (m) => `${m[1]}.mid.block_${Number(m[2]) + 1}.`],
    [/^(encoder|decoder)\.mid_block\.attentions\.0\./, (m) => `${m[1]}.mid.attn_1.`],
    [/^(encoder|decoder)\.conv_norm_out\./, (m) => `${m[1]}.norm_out.`],
  ];
  let key = name;
  for (const [pattern, ldm] of rules) {
    const m = pattern.exec(key);
    if (m) key = key.replace(pattern, ldm(m));
  }
  return key
    .replace('.conv_shortcut.', '.nin_shortcut.')
    .replace('.attn_1.group_norm.', '.attn_1.norm.')
    .replace(/\.attn_1\.to_([qkv])\./, '.attn_1.$1.')
    .replace('.attn_1.to_out.0.', '.attn_1.proj_out.');
}

/** The OpenCLIP key of a transformers CLIP text tensor other than q/k/v and text_projection. */
export function openClipKey(name: string): string {
  const fixed: Record<string, string> = {
    'text_model.embeddings.position_embedding.weight': 'positional_embedding',
    'text_model.embeddings.token_embedding.weight': 'token_embedding.weight',
    'text_model.final_layer_norm.weight': 'ln_final.weight',
    'text_model.final_layer_norm.bias': 'ln_final.bias',
  };
  if (fixed[name]) return fixed[name];
  const m = /^text_model\.encoder\.layers\.(\d+)\.(.+)$/.exec(name);
  if (!m) throw new Error(`no OpenCLIP key for ${name}`);
  const rest = m[2]
    .replace(/^layer_norm1\./, 'ln_1.')
    .replace(/^layer_norm2\./, 'ln_2.')
    .replace(/^mlp\.fc1\./, 'mlp.c_fc.')
    .replace(/^mlp\.fc2\./, 'mlp.c_proj.')
    .replace(/^self_attn\.out_proj\./, 'attn.out_proj.');
  return `transformer.resblocks.${m[1]}.${rest}`;
}

type Tensors = Record<string, TensorToWrite>;

async function readAll(
  path: string,
): Promise<{ file: SafetensorsFile; tensors: Map<string, AnyTypedArray> }> {
  const file = await openSafetensors(path);
  const tensors = new Map<string, AnyTypedArray>();
  for (const name of file.tensors.keys()) tensors.set(name, await file.readTyped(name));
  return { file, tensors };
}

/** A UNet's tensors under LDM keys. */
export async function ldmUNet(dir: string, layout: UNetLayout): Promise<Tensors> {
  const { file, tensors } = await readAll(join(dir, 'diffusion_pytorch_model.safetensors'));
  const out: Tensors = {};
  for (const [name, data] of tensors) {
    const info = file.tensors.get(name)!;
    out[`model.diffusion_model.${ldmUNetKey(name, layout)}`] = { dtype: info.dtype, shape: info.shape, data };
  }
  return out;
}

/** A VAE's tensors under LDM keys, the mid-block attention projections as 1×1 convolutions. */
export async function ldmVae(dir: string): Promise<Tensors> {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8'));
  const { file, tensors } = await readAll(join(dir, 'diffusion_pytorch_model.safetensors'));
  const out: Tensors = {};
  for (const [name, data] of tensors) {
    const info = file.tensors.get(name)!;
    const conv = /mid_block\.attentions\.0\.(to_[qkv]|to_out\.0)\.weight$/.test(name);
    const shape = conv ? [...info.shape, 1, 1] : info.shape;
    out[`first_stage_model.${ldmVaeKey(name, config.block_out_channels.length)}`] = {
      dtype: info.dtype,
      shape,
      data,
    };
  }
  return out;
}

/** A Hugging Face CLIP text model's tensors under `prefix` (names unchanged). */
export async function ldmClipText(dir: string, prefix: string): Promise<Tensors> {
  const { file, tensors } = await readAll(join(dir, 'model.safetensors'));
  const out: Tensors = {};
  for (const [name, data] of tensors) {
    const info = file.tensors.get(name)!;
    out[`${prefix}${name}`] = { dtype: info.dtype, shape: info.shape, data };
  }
  return out;
}

/**
 * A CLIP text model's tensors as OpenCLIP stores them under `prefix`: q/k/v fused into in_proj_weight/bias (rows
 * q, k, v), text_projection transposed, plus logit_scale and, with `extraLayer`, one more resblock (SD 2.x files
 * hold 24 layers where diffusers runs 23) made of copies of layer 0.
 */
export async function ldmOpenClipText(dir: string, prefix: string, extraLayer = false): Promise<Tensors> {
  const { file, tensors } = await readAll(join(dir, 'model.safetensors'));
  const out: Tensors = {};
  const layers = new Set<number>();
  for (const [name, data] of tensors) {
    const info = file.tensors.get(name)!;
    if (name === 'text_model.embeddings.position_ids') continue;
    if (name === 'text_projection.weight') {
      const [rows, cols] = info.shape;
      const t = new Float32Array(rows * cols);
      for (let r = 0; r < rows; r++)
        for (let c = 0; c < cols; c++) t[c * rows + r] = (data as Float32Array)[r * cols + c];
      out[`${prefix}text_projection`] = { dtype: 'F32', shape: [cols, rows], data: t };
      continue;
    }
    const qkv = /^text_model\.encoder\.layers\.(\d+)\.self_attn\.([qkv])_proj\.(weight|bias)$/.exec(name);
    if (qkv) {
      layers.add(Number(qkv[1]));
      continue;
    }
    out[`${prefix}${openClipKey(name)}`] = { dtype: info.dtype, shape: info.shape, data };
  }
  for (const layer of layers) {
    for (const kind of ['weight', 'bias'] as const) {
      const parts = (['q', 'k', 'v'] as const).map(
        (p) => `text_model.encoder.layers.${layer}.self_attn.${p}_proj.${kind}`,
      );
      const shape = file.tensors.get(parts[0])!.shape;
      const fused = new Float32Array(3 * shape.reduce((a, b) => a * b, 1));
      for (const [i, part] of parts.entries())
        fused.set(tensors.get(part) as Float32Array, (i * fused.length) / 3);
      out[`${prefix}transformer.resblocks.${layer}.attn.in_proj_${kind}`] = {
        dtype: 'F32',
        shape: [3 * shape[0], ...shape.slice(1)],
        data: fused,
      };
    }
  }
  if (extraLayer) {
    const next = layers.size;
    for (const [key, tensor] of Object.entries(out)) {
      const m = new RegExp(`^${prefix.replaceAll('.', '\\.')}transformer\\.resblocks\\.0\\.(.+)$`).exec(key);
      if (m) out[`${prefix}transformer.resblocks.${next}.${m[1]}`] = tensor;
    }
  }
  out[`${prefix}logit_scale`] = { dtype: 'F32', shape: [], data: Float32Array.of(4.6052) };
  return out;
}

/** What original checkpoints hold besides the models: the DDPM schedule and an EMA counter. */
export function ldmExtras(): Tensors {
  return {
    alphas_cumprod: { dtype: 'F32', shape: [4], data: Float32Array.of(0.99, 0.9, 0.5, 0.1) },
    'model_ema.num_updates': { dtype: 'I32', shape: [], data: Int32Array.of(1) },
  };
}

export function writeCheckpoint(path: string, ...parts: Tensors[]): Promise<void> {
  return writeSafetensors(path, Object.assign({}, ...parts));
}
