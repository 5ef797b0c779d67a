import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Graph } from '../src/graph/index.ts';
import { expectedTensors } from '../src/models/parameterSource.ts';
import {
  clipTextHiddenStates,
  parseTextEncoderConfig,
  textProjection,
} from '../src/models/textEncoder/index.ts';
import { parseUNetConfig, TEXT_TIME_IDS, unetForward } from '../src/models/unet/index.ts';
import { parseAutoencoderKLConfig, vaeDecoder } from '../src/models/vae/index.ts';
import { writeSafetensors } from '../src/weights/safetensorsWriter.ts';
import { WeightIndex } from '../src/weights/weightIndex.ts';
import { randomTensors } from './randomWeights.ts';
import { MODEL_INDEX, SCHEDULER, TEXT_ENCODER, TEXT_ENCODER_2, UNET, VAE } from './sdxlConfigs.ts';
import { vaeEncoderTensors } from './vaeEncoderTensors.ts';

/** The weights variant the SDXL benchmark model is written in (and loaded with). */
export const SDXL_BENCH_VARIANT = 'fp16';

/** tiny-sdxl's two tokenizers: CLIP's BPE files with SDXL's two pad tokens (`<|endoftext|>` and `!`). */
const TOKENIZER_SOURCE = new URL('../test/fixtures/sdxl/tiny-sdxl/', import.meta.url);
const TOKENIZER_FILES = ['merges.txt', 'special_tokens_map.json', 'tokenizer_config.json', 'vocab.json'];

const COMPONENTS = {
  text_encoder: { config: TEXT_ENCODER, file: 'model' },
  text_encoder_2: { config: TEXT_ENCODER_2, file: 'model' },
  unet: { config: UNET, file: 'diffusion_pytorch_model' },
  vae: { config: VAE, file: 'diffusion_pytorch_model' },
} as const;
type Component = keyof typeof COMPONENTS;

/** Names and shapes our builders read for each SDXL component (no weights exist yet, so `has` answers no). */
function componentTensors(): Record<Component, Map<string, readonly number[]>> {
  const none = new WeightIndex('(random weights)', [], new Map());
  const unet = parseUNetConfig('unet/config.json', UNET);
  const vae = parseAutoencoderKLConfig('vae/config.json', VAE);
  const text = (component: Component, raw: Record<string, unknown>) => {
    const config = parseTextEncoderConfig(`${component}/config.json`, raw);
    return expectedTensors(none, (p) => {
      const ids = p.graph.input('input_ids', [1, 77], 'int64');
      const states = clipTextHiddenStates(p, config, ids);
      // The projection reads a pooled row; any [1, hidden] value reaches its weight.
      if (config.projectionDim !== null) {
        textProjection(p, p.graph.input('pooled', [1, config.hiddenSize]), config.projectionDim);
      }
      return states;
    });
  };
  return {
    text_encoder: text('text_encoder', TEXT_ENCODER),
    text_encoder_2: text('text_encoder_2', TEXT_ENCODER_2),
    unet: expectedTensors(none, (p) => {
      const g: Graph = p.graph;
      unetForward(p, unet, {
        sample: g.input('sample', [1, 4, 8, 8]),
        timestep: g.input('timestep', []),
        encoderHiddenStates: g.input('encoder_hidden_states', [1, 77, UNET.cross_attention_dim]),
        textEmbeds: g.input('text_embeds', [1, TEXT_ENCODER_2.projection_dim]),
        timeIds: g.input('time_ids', [1, TEXT_TIME_IDS]),
      });
    }),
    vae: new Map([
      ...vaeEncoderTensors(VAE),
      ...expectedTensors(none, (p) => vaeDecoder(p, vae, p.graph.input('latents', [1, 4, 1, 1]))),
    ]),
  };
}

/**
 * Writes (once) a diffusers StableDiffusionXLPipeline folder with SDXL base 1.0's configs, tiny-sdxl's two
 * tokenizers and seeded random weights under `<cacheDir>/bench/`, and returns its path. The weights are fp16 files
 * (`*.fp16.safetensors`, load them with variant `fp16`: 3.5 G parameters are 7 GB there, 14 GB in fp32), and the
 * UNet's also in fp32 (10.3 GB) for a float32 UNet.
 * A marker file written last says the folder is complete.
 */
export async function sdxlBenchModel(
  cacheDir: string,
  { seed = 0, log = console.log }: { seed?: number; log?: (s: string) => void },
): Promise<string> {
  const root = join(cacheDir, 'bench', `sdxl-random-${seed}`);
  const marker = join(root, '.complete');
  if (await stat(marker).catch(() => null)) return root;
  log(`writing SDXL-shaped random fp16 weights to ${root} (once)…`);
  const json = (path: string, value: unknown) =>
    writeFile(join(root, path), `${JSON.stringify(value, null, 2)}\n`);
  for (const dir of [...Object.keys(COMPONENTS), 'tokenizer', 'tokenizer_2', 'scheduler']) {
    await mkdir(join(root, dir), { recursive: true });
  }
  await json('model_index.json', MODEL_INDEX);
  await json('scheduler/scheduler_config.json', SCHEDULER);
  for (const [component, { config }] of Object.entries(COMPONENTS))
    await json(`${component}/config.json`, config);
  for (const tokenizer of ['tokenizer', 'tokenizer_2']) {
    for (const file of TOKENIZER_FILES) {
      await copyFile(new URL(`${tokenizer}/${file}`, TOKENIZER_SOURCE), join(root, tokenizer, file));
    }
  }
  for (const [component, shapes] of Object.entries(componentTensors())) {
    const base = COMPONENTS[component as Component].file;
    const files: ['F32' | 'F16', string][] = [['F16', `${base}.${SDXL_BENCH_VARIANT}.safetensors`]];
    // The UNet also in fp32 (as the real repository has it), for a float32 UNet: from the fp16 file ONNX Runtime
    // keeps the fp16 originals beside the fp32 weights it casts (a float16 UNet held 16 GiB of RSS for the batch-2
    // step at 512 px; a float32 one was stopped at 4 GiB of free memory).
    if (component === 'unet') files.push(['F32', `${base}.safetensors`]);
    for (const [dtype, name] of files) {
      const path = join(root, component, name);
      if (await stat(path).catch(() => null)) continue;
      const started = performance.now();
      await writeSafetensors(path, randomTensors(shapes, seed, dtype, { direct: true }), {
        metadata: { format: 'pt' },
      });
      const parameters = [...shapes.values()].reduce((n, shape) => n + shape.reduce((a, b) => a * b, 1), 0);
      log(
        `  ${component}/${name}: ${shapes.size} tensors, ${(parameters / 1e9).toFixed(3)} G parameters in ` +
          `${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
  await writeFile(marker, `${new Date().toISOString()}\n`);
  return root;
}
