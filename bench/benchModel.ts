import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Graph } from '../src/graph/index.ts';
import { expectedTensors } from '../src/models/parameterSource.ts';
import { clipTextModel, parseClipTextConfig } from '../src/models/textEncoder/index.ts';
import { parseUNetConfig, unetForward } from '../src/models/unet/index.ts';
import { parseAutoencoderKLConfig, vaeDecoder } from '../src/models/vae/index.ts';
import { writeSafetensors } from '../src/weights/safetensorsWriter.ts';
import { WeightIndex } from '../src/weights/weightIndex.ts';
import { randomTensors } from './randomWeights.ts';
import { MODEL_INDEX, SCHEDULER, TEXT_ENCODER, UNET, VAE } from './sd15Configs.ts';
import { vaeEncoderTensors } from './vaeEncoderTensors.ts';

const TOKENIZER_FILES = ['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json'];
const TOKENIZER_SOURCE = new URL('../test/fixtures/tokenizer/', import.meta.url);

/** Names and shapes our builders read for each component; no weights exist yet, so `has` answers no. */
function componentTensors(): Record<'text_encoder' | 'unet' | 'vae', Map<string, readonly number[]>> {
  const none = new WeightIndex('(random weights)', [], new Map());
  const text = parseClipTextConfig('text_encoder/config.json', TEXT_ENCODER);
  const unet = parseUNetConfig('unet/config.json', UNET);
  const vae = parseAutoencoderKLConfig('vae/config.json', VAE);
  return {
    text_encoder: expectedTensors(none, (p) =>
      clipTextModel(p, text, p.graph.input('input_ids', [1, 77], 'int64')),
    ),
    unet: expectedTensors(none, (p) => {
      const g: Graph = p.graph;
      unetForward(p, unet, {
        sample: g.input('sample', [1, 4, 8, 8]),
        timestep: g.input('timestep', []),
        encoderHiddenStates: g.input('encoder_hidden_states', [1, 77, 768]),
      });
    }),
    vae: new Map([
      ...vaeEncoderTensors(VAE),
      ...expectedTensors(none, (p) => vaeDecoder(p, vae, p.graph.input('latents', [1, 4, 1, 1]))),
    ]),
  };
}

const WEIGHT_FILE = {
  text_encoder: 'model',
  unet: 'diffusion_pytorch_model',
  vae: 'diffusion_pytorch_model',
};

/**
 * Writes (once) a diffusers folder with SD 1.5's configs, its tokenizer and seeded random weights under
 * `<cacheDir>/bench/`, and returns its path. A marker file written last says the folder is complete.
 */
export async function benchModel(
  cacheDir: string,
  { seed = 0, fp16 = false, log = console.log }: { seed?: number; fp16?: boolean; log?: (s: string) => void },
): Promise<string> {
  const root = join(cacheDir, 'bench', `sd15-random-${seed}`);
  const marker = join(root, fp16 ? '.complete-fp16' : '.complete');
  if (await stat(marker).catch(() => null)) return root;
  log(`writing SD 1.5-shaped random weights to ${root} (once)…`);
  const json = (path: string, value: unknown) =>
    writeFile(join(root, path), `${JSON.stringify(value, null, 2)}\n`);
  for (const dir of ['text_encoder', 'tokenizer', 'unet', 'vae', 'scheduler']) {
    await mkdir(join(root, dir), { recursive: true });
  }
  await json('model_index.json', MODEL_INDEX);
  await json('scheduler/scheduler_config.json', SCHEDULER);
  await json('text_encoder/config.json', TEXT_ENCODER);
  await json('unet/config.json', UNET);
  await json('vae/config.json', VAE);
  for (const file of TOKENIZER_FILES) {
    await copyFile(new URL(file, TOKENIZER_SOURCE), join(root, 'tokenizer', file));
  }
  for (const [component, shapes] of Object.entries(componentTensors())) {
    const base = WEIGHT_FILE[component as keyof typeof WEIGHT_FILE];
    const variants: ['F32' | 'F16', string][] = [['F32', `${base}.safetensors`]];
    if (fp16) variants.push(['F16', `${base}.fp16.safetensors`]);
    for (const [dtype, name] of variants) {
      const path = join(root, component, name);
      if (await stat(path).catch(() => null)) continue;
      const started = performance.now();
      await writeSafetensors(path, randomTensors(shapes, seed, dtype), { metadata: { format: 'pt' } });
      log(
        `  ${component}/${name}: ${shapes.size} tensors in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return root;
}
