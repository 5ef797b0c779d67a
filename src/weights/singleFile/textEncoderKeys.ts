import type { KeyRule, MappedTensor } from './tensorView.ts';

/**
 * The text encoders' keys in an original checkpoint and their transformers names, as diffusers 0.21.4's
 * `convert_ldm_clip_checkpoint` and `convert_open_clip_checkpoint` map them.
 *
 * Hugging Face CLIP (SD 1.x `cond_stage_model.transformer.`, SDXL `conditioner.embedders.0.transformer.`):
 * the names under the prefix are transformers' already (`text_model.…`).
 *
 * OpenCLIP (SD 2.x `cond_stage_model.model.`, SDXL `conditioner.embedders.1.model.`):
 *   positional_embedding              → text_model.embeddings.position_embedding.weight
 *   token_embedding.weight            → text_model.embeddings.token_embedding.weight
 *   ln_final.*                        → text_model.final_layer_norm.*
 *   text_projection [width, proj]     → text_projection.weight [proj, width] (stored transposed)
 *   transformer.resblocks.n.ln_1 / ln_2            → text_model.encoder.layers.n.layer_norm1 / layer_norm2
 *   transformer.resblocks.n.mlp.c_fc / c_proj      → ….mlp.fc1 / fc2
 *   transformer.resblocks.n.attn.out_proj          → ….self_attn.out_proj
 *   transformer.resblocks.n.attn.in_proj_{weight,bias} [3·width, …] → ….self_attn.{q,k,v}_proj, rows 0-w, w-2w, 2w-3w
 *   logit_scale                       (CLIP's contrastive temperature: not part of the text model)
 */

/** What the target text model is: how many layers it runs, and whether it has `text_projection`. */
export interface TextModelShape {
  /** `num_hidden_layers`: SD 2.x's diffusers text encoder runs 23 of OpenCLIP's 24 layers. */
  readonly layers: number;
  /** A CLIPTextModelWithProjection (SDXL's text_encoder_2) reads `text_projection`; a CLIPTextModel does not. */
  readonly hasProjection: boolean;
}

/** The tensors of a Hugging Face CLIP key (its prefix removed), or undefined if it is not a text-model key. */
export function clipTextTensor(key: string, source: string): MappedTensor | undefined {
  return key.startsWith('text_model.') ? { name: key, source } : undefined;
}

const TOP_LEVEL: Readonly<Record<string, string>> = {
  positional_embedding: 'text_model.embeddings.position_embedding.weight',
  'token_embedding.weight': 'text_model.embeddings.token_embedding.weight',
  'ln_final.weight': 'text_model.final_layer_norm.weight',
  'ln_final.bias': 'text_model.final_layer_norm.bias',
};

const LAYER_MODULES: Readonly<Record<string, string>> = {
  ln_1: 'layer_norm1',
  ln_2: 'layer_norm2',
  'mlp.c_fc': 'mlp.fc1',
  'mlp.c_proj': 'mlp.fc2',
  'attn.out_proj': 'self_attn.out_proj',
};

/** The tensors of an OpenCLIP key (its prefix removed), `ignored`, or undefined if unknown. */
export function openClipTextTensors(key: string, source: string, model: TextModelShape): KeyRule | undefined {
  if (Object.hasOwn(TOP_LEVEL, key)) return [{ name: TOP_LEVEL[key], source }];
  if (key === 'logit_scale') return 'ignored';
  if (key === 'text_projection') {
    return model.hasProjection
      ? [{ name: 'text_projection.weight', source, view: { kind: 'transpose' } }]
      : 'ignored';
  }
  const layer = /^transformer\.resblocks\.(\d+)\.(.+)$/.exec(key);
  if (!layer) return undefined;
  const index = Number(layer[1]);
  const rest = layer[2];
  const target = `text_model.encoder.layers.${index}`;
  const fused = /^attn\.in_proj_(weight|bias)$/.exec(rest);
  const module = /^(.+)\.(weight|bias)$/.exec(rest);
  let tensors: MappedTensor[] | undefined;
  if (fused) {
    tensors = (['q', 'k', 'v'] as const).map((projection, part) => ({
      name: `${target}.self_attn.${projection}_proj.${fused[1]}`,
      source,
      view: { kind: 'rows', part, parts: 3 },
    }));
  } else if (module && Object.hasOwn(LAYER_MODULES, module[1])) {
    tensors = [{ name: `${target}.${LAYER_MODULES[module[1]]}.${module[2]}`, source }];
  }
  if (!tensors) return undefined;
  // Like diffusers for SD 2.x: the layers past the config's num_hidden_layers are not run, so not read.
  return index < model.layers ? tensors : 'ignored';
}
