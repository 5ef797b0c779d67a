import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  openDiffusersFolder,
  openWeights,
  pipelineComponents,
  SD_COMPONENTS,
  SDXL_COMPONENTS,
} from '../../src/weights/diffusersFolder.ts';
import { float32ToFloat16 } from '../../src/weights/halfFloat.ts';
import { resolveModel } from '../../src/weights/resolveModel.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { type TensorToWrite, writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { readTree } from '../helpers/files.ts';
import { FIXTURES } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { type FakeHub, startFakeHub } from './fakeHub.ts';
import { useTempDirs } from './tempDir.ts';

const TINY_SDXL = join(FIXTURES, 'sdxl/tiny-sdxl');
const REPO = 'test-org/tiny-sdxl';
const COMMIT = 'fedcba9876543210fedcba9876543210fedcba98';
const quiet = { progress: 'none' as const, log: () => {} };
const tempDir = useTempDirs();

/** What stabilityai/stable-diffusion-xl-base-1.0 also holds, which an SDXL pipeline must not download. */
const UNUSED_FILES: Record<string, string> = {
  'README.md': '# sdxl',
  'sd_xl_base_1.0.safetensors': 'the single-file checkpoint',
  'sd_xl_base_1.0_0.9vae.safetensors': 'the single-file checkpoint with the 0.9 VAE',
  'sd_xl_offset_example-lora_1.0.safetensors': 'a LoRA',
  'vae_1_0/config.json': '{}',
  'vae_1_0/diffusion_pytorch_model.safetensors': 'another VAE',
  'vae_decoder/model.onnx': 'onnx',
  'vae_encoder/model.onnx': 'onnx',
  'unet/model.onnx': 'onnx',
  'unet/model.onnx_data': 'onnx',
  'unet/openvino_model.bin': 'openvino',
  'unet/openvino_model.xml': 'openvino',
  'text_encoder_2/flax_model.msgpack': 'flax',
  'text_encoder_2/model.onnx': 'onnx',
  'text_encoder/openvino_model.xml': 'openvino',
};

const WEIGHT_FILES = {
  text_encoder: 'text_encoder/model',
  text_encoder_2: 'text_encoder_2/model',
  unet: 'unet/diffusion_pytorch_model',
  vae: 'vae/diffusion_pytorch_model',
};

const CONFIG_AND_TOKENIZER_FILES = [
  'model_index.json',
  'scheduler/scheduler_config.json',
  'text_encoder/config.json',
  'text_encoder_2/config.json',
  'tokenizer/merges.txt',
  'tokenizer/special_tokens_map.json',
  'tokenizer/tokenizer_config.json',
  'tokenizer/vocab.json',
  'tokenizer_2/merges.txt',
  'tokenizer_2/special_tokens_map.json',
  'tokenizer_2/tokenizer_config.json',
  'tokenizer_2/vocab.json',
  'unet/config.json',
  'vae/config.json',
];

/** A float16 copy of a component's weights, as the Hub's `*.fp16.safetensors` variant files are. */
async function fp16Copy(path: string, dir: string): Promise<Buffer> {
  const file = await openSafetensors(path);
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, info] of file.tensors) {
    tensors[name] = { dtype: 'F16', shape: info.shape, data: float32ToFloat16(await file.readFloat32(name)) };
  }
  const copy = join(dir, 'fp16.safetensors');
  await writeSafetensors(copy, tensors, { metadata: { format: 'pt' }, overwrite: true });
  return readFile(copy);
}

let hub: FakeHub | undefined;
afterEach(async () => {
  await hub?.close();
  hub = undefined;
});

/** A fake Hub serving tiny-sdxl laid out like SDXL base 1.0 (fp16 variants and unused files included). */
async function setUp(modelIndex?: Record<string, unknown>) {
  const dir = await tempDir();
  const files = await readTree(TINY_SDXL);
  for (const [path, contents] of Object.entries(UNUSED_FILES)) files.set(path, Buffer.from(contents));
  for (const base of Object.values(WEIGHT_FILES)) {
    files.set(`${base}.fp16.safetensors`, await fp16Copy(join(TINY_SDXL, `${base}.safetensors`), dir));
  }
  if (modelIndex) files.set('model_index.json', Buffer.from(JSON.stringify(modelIndex)));
  hub = await startFakeHub([{ repoId: REPO, commit: COMMIT, files }]);
  const cache = join(dir, 'cache');
  const env: NodeJS.ProcessEnv = {
    HF_ENDPOINT: hub.endpoint,
    HF_HUB_CACHE: cache,
    HF_HOME: join(dir, 'home'),
  };
  return { env, files, hub, snapshot: join(cache, 'models--test-org--tiny-sdxl/snapshots', COMMIT) };
}

/** The repo files the Hub was asked about (HEAD or GET on a resolve URL), sorted. */
function resolvedFiles(requests: FakeHub['requests']): string[] {
  const files = requests.flatMap((r) => /\/resolve\/[^/]+\/(.+)$/.exec(r.path)?.[1] ?? []);
  return [...new Set(files)].sort();
}

describe('SDXL pipelines from the Hub', () => {
  it('downloads the seven SDXL components and nothing else (no single file, ONNX, extra VAE)', async () => {
    const { env, files, hub, snapshot } = await setUp();
    expect(await resolveModel(REPO, { env, ...quiet })).toBe(snapshot);
    const expected = [
      ...CONFIG_AND_TOKENIZER_FILES,
      ...Object.values(WEIGHT_FILES).map((base) => `${base}.safetensors`),
    ].sort();
    expect(resolvedFiles(hub.requests)).toEqual(expected);
    expect([...(await readTree(snapshot)).keys()].sort()).toEqual(expected);
    expect(hub.requests.some((r) => r.path.includes('.fp16.'))).toBe(false);

    const folder = await openDiffusersFolder(snapshot);
    expect(folder.pipelineClass).toBe('StableDiffusionXLPipeline');
    expect([...folder.components.keys()]).toEqual([...SDXL_COMPONENTS]);
    const textEncoder2 = await openWeights(folder, 'text_encoder_2');
    const stored = await readFile(textEncoder2.files[0].path);
    // Buffer.equals: vitest's deep equality walks a 7 MB buffer byte by byte for minutes.
    expect(stored.equals(files.get('text_encoder_2/model.safetensors')!)).toBe(true);
  });

  it('downloads the fp16 variant of the four weighted components on request', async () => {
    const { env, hub, snapshot } = await setUp();
    await resolveModel(REPO, { env, variant: 'fp16', ...quiet });
    const weights = resolvedFiles(hub.requests).filter((file) => file.endsWith('.safetensors'));
    expect(weights).toEqual(Object.values(WEIGHT_FILES).map((base) => `${base}.fp16.safetensors`));
    const unet = await openWeights(await openDiffusersFolder(snapshot), 'unet', { variant: 'fp16' });
    expect(unet.get('conv_in.weight').info.dtype).toBe('F16');
  });

  it('fetches only the two tokenizers when asked; offline, a full request names what is missing', async () => {
    const { env, hub } = await setUp();
    await resolveModel(REPO, { env, components: ['tokenizer', 'tokenizer_2'], ...quiet });
    expect(resolvedFiles(hub.requests)).toEqual(
      CONFIG_AND_TOKENIZER_FILES.filter((f) => f === 'model_index.json' || f.startsWith('tokenizer')),
    );
    hub.requests.length = 0;
    const offline = { ...env, HF_HUB_OFFLINE: '1' };
    const message = (await userErrorOf(resolveModel(REPO, { env: offline, ...quiet }))).message;
    expect(message).toMatch(
      new RegExp(
        `test-org/tiny-sdxl@main is not in the Hugging Face cache .*\\(the snapshot of commit ${COMMIT} holds ` +
          'no text_encoder/, text_encoder_2/, unet/, vae/, scheduler/\\) and HF_HUB_OFFLINE is set',
      ),
    );
    expect(hub.requests).toEqual([]);
  });

  it('refuses a pipeline class it does not run (the SDXL refiner) after reading only model_index.json', async () => {
    const refiner = {
      _class_name: 'StableDiffusionXLImg2ImgPipeline',
      text_encoder: [null, null],
      text_encoder_2: ['transformers', 'CLIPTextModelWithProjection'],
      tokenizer: [null, null],
      tokenizer_2: ['transformers', 'CLIPTokenizer'],
      unet: ['diffusers', 'UNet2DConditionModel'],
      vae: ['diffusers', 'AutoencoderKL'],
      scheduler: ['diffusers', 'EulerDiscreteScheduler'],
    };
    const { env, hub } = await setUp(refiner);
    const message = (await userErrorOf(resolveModel(REPO, { env, ...quiet }))).message;
    expect(message).toBe(
      `${REPO}@main/model_index.json: StableDiffusionXLImg2ImgPipeline is not a pipeline this program runs ` +
        '(it runs StableDiffusionPipeline and StableDiffusionXLPipeline)',
    );
    expect(resolvedFiles(hub.requests)).toEqual(['model_index.json']);
  });
});

describe('pipelineComponents and SDXL folders', () => {
  it('chooses the components from _class_name', () => {
    expect(pipelineComponents({ _class_name: 'StableDiffusionPipeline' })).toEqual(SD_COMPONENTS);
    expect(pipelineComponents({ _class_name: 'StableDiffusionXLPipeline' })).toEqual(SDXL_COMPONENTS);
    expect(() => pipelineComponents({ _class_name: 'StableDiffusionInpaintPipeline' }, 'x.json')).toThrow(
      'x.json: StableDiffusionInpaintPipeline is not a pipeline this program runs',
    );
    expect(() => pipelineComponents({ unet: ['diffusers', 'UNet2DConditionModel'] }, 'x.json')).toThrow(
      'x.json: has no "_class_name"',
    );
    // A key inherited from Object.prototype is no pipeline class.
    expect(() => pipelineComponents({ _class_name: 'constructor' })).toThrow(/not a pipeline/);
  });

  it('opens the tiny-sdxl folder with its seven components, or the ones asked for', async () => {
    const folder = await openDiffusersFolder(TINY_SDXL);
    expect([...folder.components.keys()]).toEqual([...SDXL_COMPONENTS]);
    expect(folder.components.get('text_encoder_2')).toEqual({
      name: 'text_encoder_2',
      library: 'transformers',
      className: 'CLIPTextModelWithProjection',
      dir: join(TINY_SDXL, 'text_encoder_2'),
    });
    const tokenizers = await openDiffusersFolder(TINY_SDXL, { components: ['tokenizer_2'] });
    expect([...tokenizers.components.keys()]).toEqual(['tokenizer_2']);
  });
});
