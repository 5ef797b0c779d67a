import { copyFile, mkdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { buildBlipModelTensors } from '../src/models/blip/blipModel.ts';
import { parseBlipConfig } from '../src/models/blip/config.ts';
import { buildClipModelTensors } from '../src/models/clip/clipModel.ts';
import { parseClipConfig } from '../src/models/clip/config.ts';
import { expectedTensors, type ParameterSource } from '../src/models/parameterSource.ts';
import { writeSafetensors } from '../src/weights/safetensorsWriter.ts';
import { WeightIndex } from '../src/weights/weightIndex.ts';
import {
  BLIP_CAPTION_BASE,
  BLIP_PREPROCESSOR,
  BLIP_VQA_BASE,
  CLIP_B16,
  CLIP_PREPROCESSOR,
} from './evalConfigs.ts';
import { randomTensors } from './randomWeights.ts';

const FIXTURES = new URL('../test/fixtures/eval/', import.meta.url).pathname;

interface EvalModelSpec {
  name: string;
  config: Record<string, unknown>;
  preprocessor: Record<string, unknown>;
  /** Tokenizer files copied from the fixture folder of the same family (real vocabularies). */
  tokenizerFrom: string;
  tokenizerFiles: string[];
  record: (params: ParameterSource) => void;
}

const SPECS: EvalModelSpec[] = [
  {
    name: 'clip-vit-base-patch16',
    config: CLIP_B16,
    preprocessor: CLIP_PREPROCESSOR,
    tokenizerFrom: 'clip-tiny',
    tokenizerFiles: ['vocab.json', 'merges.txt', 'tokenizer_config.json', 'special_tokens_map.json'],
    record: (params) => buildClipModelTensors(params, parseClipConfig('config.json', CLIP_B16)),
  },
  {
    name: 'blip-image-captioning-base',
    config: BLIP_CAPTION_BASE,
    preprocessor: BLIP_PREPROCESSOR,
    tokenizerFrom: 'blip-caption-tiny',
    tokenizerFiles: ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'],
    record: (params) => buildBlipModelTensors(params, parseBlipConfig('config.json', BLIP_CAPTION_BASE)),
  },
  {
    name: 'blip-vqa-base',
    config: BLIP_VQA_BASE,
    preprocessor: BLIP_PREPROCESSOR,
    tokenizerFrom: 'blip-vqa-tiny',
    tokenizerFiles: ['vocab.txt', 'tokenizer_config.json', 'special_tokens_map.json'],
    record: (params) => buildBlipModelTensors(params, parseBlipConfig('config.json', BLIP_VQA_BASE)),
  },
];

export type EvalModelName = 'clip-vit-base-patch16' | 'blip-image-captioning-base' | 'blip-vqa-base';

/**
 * Writes (once) the three evaluation models with their Hub repos' shapes, real tokenizer files and seeded random
 * weights under `<cacheDir>/bench/eval/`, and returns each folder. A marker written last says a folder is complete.
 */
export async function evalBenchModels(
  cacheDir: string,
  { seed = 0, log = console.log }: { seed?: number; log?: (s: string) => void } = {},
): Promise<Record<EvalModelName, string>> {
  const folders = {} as Record<EvalModelName, string>;
  for (const spec of SPECS) {
    const dir = join(cacheDir, 'bench', 'eval', `${spec.name}-random-${seed}`);
    folders[spec.name as EvalModelName] = dir;
    const marker = join(dir, '.complete');
    if (await stat(marker).catch(() => null)) continue;
    log(`writing ${spec.name}-shaped random weights to ${dir} (once)…`);
    await mkdir(dir, { recursive: true });
    const json = (file: string, value: unknown) =>
      writeFile(join(dir, file), `${JSON.stringify(value, null, 2)}\n`);
    await json('config.json', spec.config);
    await json('preprocessor_config.json', spec.preprocessor);
    for (const file of spec.tokenizerFiles) {
      await copyFile(join(FIXTURES, spec.tokenizerFrom, file), join(dir, file));
    }
    const none = new WeightIndex('(random weights)', [], new Map());
    const shapes = expectedTensors(none, spec.record);
    await writeSafetensors(join(dir, 'model.safetensors'), randomTensors(shapes, seed, 'F32'), {
      metadata: { format: 'pt' },
    });
    await writeFile(marker, `${new Date().toISOString()}\n`);
  }
  return folders;
}
