import { cp, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { float32ToFloat16 } from '../../src/weights/halfFloat.ts';
import { writeSafetensors } from '../../src/weights/safetensorsWriter.ts';

const CONFIGS = join(dirname(fileURLToPath(import.meta.url)), '../fixtures/weights/tiny-sd-configs');

/** Small stand-in tensors per component: the loader code does not care about the values. */
export const TINY_TENSORS: Record<string, Record<string, number[]>> = {
  text_encoder: {
    'text_model.embeddings.token_embedding.weight': [8, 4],
    'text_model.final_layer_norm.bias': [4],
  },
  unet: { 'conv_in.weight': [4, 4, 3, 3], 'conv_in.bias': [4], 'conv_out.bias': [4] },
  vae: { 'decoder.conv_in.bias': [4], 'post_quant_conv.weight': [4, 4, 1, 1] },
};

/** Deterministic values that differ per tensor, so a test can tell which file a tensor came from. */
export function tinyValues(name: string, shape: number[], offset = 0): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const seed = [...name].reduce((a, c) => a + c.charCodeAt(0), 0) % 97;
  return Float32Array.from({ length: n }, (_, i) => (seed + i) / 8 + offset);
}

export interface TinyFolderOptions {
  /** Also write `*.fp16.safetensors` variant files (values offset by 100 so they are recognisable). */
  fp16?: boolean;
  /** Write the plain weights (default true). */
  plain?: boolean;
  /** Split the UNet into two shards with an index. */
  shardedUnet?: boolean;
  /** Extra files, relative path -> contents, e.g. pickles or safety-checker weights the Hub holds. */
  extraFiles?: Record<string, string | Uint8Array>;
}

/** Writes a small but real diffusers folder layout: tiny-sd's configs and synthetic safetensors. */
export async function writeTinyPipelineFolder(root: string, options: TinyFolderOptions = {}): Promise<void> {
  await mkdir(root, { recursive: true });
  await cp(CONFIGS, root, { recursive: true });
  await mkdir(join(root, 'tokenizer'), { recursive: true });
  await writeFile(join(root, 'tokenizer/vocab.json'), JSON.stringify({ a: 0, '</w>': 1 }));
  await writeFile(join(root, 'tokenizer/merges.txt'), '#version: 0.2\na </w>\n');
  await writeFile(join(root, 'tokenizer/tokenizer_config.json'), JSON.stringify({ model_max_length: 77 }));
  await writeFile(join(root, 'tokenizer/special_tokens_map.json'), '{}');

  for (const [component, tensors] of Object.entries(TINY_TENSORS)) {
    const base = component === 'text_encoder' ? 'model' : 'diffusion_pytorch_model';
    const dir = join(root, component);
    if (options.plain !== false) {
      const plain = Object.fromEntries(
        Object.entries(tensors).map(([name, shape]) => [
          name,
          { dtype: 'F32' as const, shape, data: tinyValues(name, shape) },
        ]),
      );
      if (component === 'unet' && options.shardedUnet) {
        await writeShards(dir, base, '', plain);
      } else {
        await writeSafetensors(join(dir, `${base}.safetensors`), plain, { metadata: { format: 'pt' } });
      }
    }
    if (options.fp16) {
      const half = Object.fromEntries(
        Object.entries(tensors).map(([name, shape]) => [
          name,
          { dtype: 'F16' as const, shape, data: float32ToFloat16(tinyValues(name, shape, 100)) },
        ]),
      );
      if (component === 'unet' && options.shardedUnet) {
        await writeShards(dir, base, '.fp16', half);
      } else {
        await writeSafetensors(join(dir, `${base}.fp16.safetensors`), half, { metadata: { format: 'pt' } });
      }
    }
  }
  for (const [path, contents] of Object.entries(options.extraFiles ?? {})) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), contents);
  }
}

/** Two shards named and indexed the way diffusers' save_pretrained does it. */
async function writeShards(
  dir: string,
  base: string,
  variant: string,
  tensors: Record<string, Parameters<typeof writeSafetensors>[1][string]>,
): Promise<void> {
  const names = Object.keys(tensors).sort();
  const halves = [names.slice(0, 1), names.slice(1)];
  const weightMap: Record<string, string> = {};
  for (const [i, half] of halves.entries()) {
    const shard = `${base}${variant}-0000${i + 1}-of-00002.safetensors`;
    await writeSafetensors(join(dir, shard), Object.fromEntries(half.map((n) => [n, tensors[n]])));
    for (const n of half) weightMap[n] = shard;
  }
  const index = variant ? `${base}.safetensors${variant}.index.json` : `${base}.safetensors.index.json`;
  await writeFile(join(dir, index), JSON.stringify({ metadata: { total_size: 0 }, weight_map: weightMap }));
}
