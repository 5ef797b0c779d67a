/**
 * The command-line options that `dnb generate` and `dnb benchmark run` share: sampling, GSN settings and
 * runtime. Each command adds the groups it takes, so a flag, its parser, its help text and its default are
 * written once.
 */
import { type Command, Option } from 'commander';
import { GUIDANCE_METHODS } from '../guidance/methods/index.ts';
import { defaultSettings, type GsnSettings } from '../guidance/settings.ts';
import { DEVICES, setRuntimeLogging } from '../runtime/providers.ts';
import { SCHEDULER_CLASS_NAMES } from '../schedulers/index.ts';
import {
  finiteNumber,
  integerPair,
  nonNegativeInteger,
  numberPair,
  positiveInteger,
  thresholds,
} from './optionParsers.ts';

/** "A&E x; D&B y", or just "x" where the methods agree: the help shows the official values from the code. */
function officialDefault(show: (settings: GsnSettings) => string): string {
  const shown = GUIDANCE_METHODS.map((method) => [method.shortLabel, show(defaultSettings(method.name))]);
  if (shown.every(([, value]) => value === shown[0][1])) return `default: ${shown[0][1]}`;
  return `default: ${shown.map(([label, value]) => `${label} ${value}`).join('; ')}`;
}

/** The heading of the guidance options, naming the methods they apply to. */
export const GUIDANCE_OPTIONS_HEADING = `Guidance options (${GUIDANCE_METHODS.map((m) => m.name).join(', ')}; defaults are the official values):`;

const showThresholds = (s: GsnSettings) => [...s.thresholds].map(([i, v]) => `${i}:${v}`).join(',');

/** -m/--model: the model to load, and where a single-file checkpoint's configs come from. */
export function addModelOption(command: Command): Command {
  return command
    .requiredOption(
      '-m, --model <dir|repo|file>',
      'diffusers model folder, Hugging Face repo id to download, or single-file .safetensors checkpoint',
    )
    .option(
      '--config-from <dir|repo>',
      "a single-file checkpoint's configs and tokenizers (default: its family's base model on the Hub)",
    );
}

/** Negative prompt, generator, steps, CFG scale, size, scheduler. */
export function addSamplingOptions(command: Command): Command {
  return command
    .option(
      '-n, --negative-prompt <text>',
      'what the image should not show (default: none; SDXL then uses zero embeddings, "" is encoded)',
    )
    .addOption(
      new Option(
        '--rng <device>',
        "which PyTorch generator's noise to reproduce (official examples used cuda)",
      )
        .choices(['cpu', 'cuda'])
        .default('cpu'),
    )
    .option('--steps <n>', 'denoising steps', positiveInteger, 50)
    .option(
      '--guidance <scale>',
      "classifier-free guidance scale (default: the model's, 7.5 SD, 5 SDXL)",
      finiteNumber,
    )
    .option(
      '--guidance-rescale <phi>',
      'rescale the guided noise towards the conditional std (diffusers guidance_rescale, e.g. 0.7; default 0)',
      finiteNumber,
    )
    .option(
      '--height <px>',
      "image height, a multiple of 8 (default: the model's, 512 for SD 1.5)",
      positiveInteger,
    )
    .option('--width <px>', "image width, a multiple of 8 (default: the model's)", positiveInteger)
    .addOption(
      new Option(
        '--scheduler <name>',
        "sampler (default: the model's scheduler_config.json, PNDM for SD 1.5)",
      ).choices(Object.keys(SCHEDULER_CLASS_NAMES)),
    )
    .option('--karras', 'Karras sigmas (euler and dpm++ only)')
    .optionsGroup('SDXL micro-conditioning (defaults as diffusers: the image size, no crop):')
    .option('--original-size <h,w>', 'the size the UNet is told the training image had', integerPair)
    .option('--crop <top,left>', 'the crop offset the UNet is told of', integerPair)
    .option('--target-size <h,w>', 'the size the UNet is told to aim for', integerPair);
}

/** The GSN settings of the guided methods; unset means the method's official value. */
export function addGsnSettingOptions(command: Command): Command {
  return command
    .option(
      '--max-iter-to-alter <n>',
      `update the latent at loop indices below n (${officialDefault((s) => `${s.maxIterToAlter}`)})`,
      nonNegativeInteger,
    )
    .option(
      '--scale-factor <x>',
      `step size of the latent update (${officialDefault((s) => `${s.scaleFactor}`)})`,
      finiteNumber,
    )
    .option(
      '--scale-range <a,b>',
      `step size scale runs from sqrt(a) to sqrt(b) over the loop (${officialDefault((s) => s.scaleRange.join(','))})`,
      numberPair,
    )
    .option(
      '--thresholds <i:v,…>',
      `refine at loop index i until the indicator reaches v (${officialDefault(showThresholds)})`,
      thresholds,
    )
    .option(
      '--refinement-caps <first,later>',
      `most refinement iterations at loop index 0 and later (${officialDefault((s) => s.refinementCaps.join(','))})`,
      integerPair,
    )
    .addOption(
      new Option(
        '--tv <variant>',
        "D&B total variation: the released code's or the paper's (default: official)",
      ).choices(['official', 'paper']),
    )
    .option('--attention-res <n>', 'side of the object attention maps (default: 16)', positiveInteger);
}

/** Where and how ONNX Runtime runs, and which weights and graph cache it uses. */
export function addRuntimeOptions(command: Command): Command {
  return command
    .optionsGroup('Runtime options:')
    .addOption(
      new Option('--device <device>', 'where ONNX Runtime runs the graphs').choices(DEVICES).default('cpu'),
    )
    .addOption(
      new Option(
        '--dtype <dtype>',
        'UNet compute precision; fp16 keeps attention softmax and norms in fp32 (text encoder and VAE stay fp32)',
      )
        .choices(['fp32', 'fp16'])
        .default('fp32'),
    )
    .option('--threads <n>', "ONNX Runtime's intra-op threads (default: all cores)", positiveInteger)
    .option('--variant <name>', 'weights variant to load or download, e.g. fp16')
    .option(
      '--cache-dir <dir>',
      'where compiled graphs are cached (default: $DNB_CACHE_DIR or ~/.cache/divide-and-bind)',
    )
    .option(
      '--no-optimized-cache',
      "cache only the graphs, not ONNX Runtime's optimised copies of them (about the UNet's size each); every start then optimises again",
    )
    .option('--verbose', "show ONNX Runtime's own warnings and errors (quiet by default)")
    .on('option:verbose', () => setRuntimeLogging(true));
}
