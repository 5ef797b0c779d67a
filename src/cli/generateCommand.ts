import { type Command, Option } from 'commander';
import { defaultSettings, type GsnSettings } from '../guidance/settings.ts';
import { DEVICES } from '../runtime/providers.ts';
import { SCHEDULER_CLASS_NAMES } from '../schedulers/index.ts';
import type { GenerateOptions } from './generateOptions.ts';
import {
  finiteNumber,
  integerList,
  integerPair,
  nonNegativeInteger,
  numberPair,
  positiveInteger,
  seed,
  thresholds,
  wordList,
} from './optionParsers.ts';
import { runGenerate } from './runGenerate.ts';

const AE = defaultSettings('attend-excite');
const DNB = defaultSettings('divide-bind');

/** "A&E x; D&B y", or just "x" where the methods agree: the help shows the official values from the code. */
function officialDefault(show: (settings: GsnSettings) => string): string {
  const [ae, dnb] = [show(AE), show(DNB)];
  return ae === dnb ? `default: ${ae}` : `default: A&E ${ae}; D&B ${dnb}`;
}

const showThresholds = (s: GsnSettings) => [...s.thresholds].map(([i, v]) => `${i}:${v}`).join(',');

const EXAMPLES = `
Examples:
  $ dnb generate "a purple dog and a green crown" --model stable-diffusion-v1-5/stable-diffusion-v1-5 \\
      --method divide-bind --seed 2702 --rng cuda --out dog.png
  $ dnb generate "a cat and a frog" --model ./sd15 --method attend-excite --objects cat,frog --out cat.png
  $ dnb generate "a lighthouse at dusk" --model ./sd15 --num-images 4 --out lighthouse.png
      (writes lighthouse-0.png … lighthouse-3.png)

Only the written image paths go to stdout; progress, the chosen tokens and warnings go to stderr.
Each PNG carries its generation parameters (A1111 "parameters" text and a "dnb" JSON chunk).`;

export function addGenerateCommand(program: Command): Command {
  return program
    .command('generate')
    .description('Generate images with Stable Diffusion, Attend & Excite or Divide & Bind.')
    .argument('<prompt>', 'what the image shows')
    .requiredOption('-m, --model <dir|repo>', 'diffusers model folder, or Hugging Face repo id to download')
    .requiredOption('-o, --out <file.png>', 'where to write the image (several: FILE-0.png, FILE-1.png, …)')
    .addOption(
      new Option('--method <method>', 'sd (plain), attend-excite or divide-bind')
        .choices(['sd', 'attend-excite', 'divide-bind'])
        .default('sd'),
    )
    .option('-n, --negative-prompt <text>', 'what the image should not show', '')
    .option('--seed <n>', 'seed of the PyTorch-compatible generator (default: random, printed)', seed)
    .addOption(
      new Option(
        '--rng <device>',
        "which PyTorch generator's noise to reproduce (official examples used cuda)",
      )
        .choices(['cpu', 'cuda'])
        .default('cpu'),
    )
    .option('--steps <n>', 'denoising steps', positiveInteger, 50)
    .option('--guidance <scale>', 'classifier-free guidance scale', finiteNumber, 7.5)
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
    .option(
      '--num-images <n>',
      'images from one draw of noise (default: 1, or the --latents batch)',
      positiveInteger,
    )
    .option('--latents <file>', 'start from the tensor "latents" [N,4,H/8,W/8] of a safetensors file')
    .option('--save-latents <file>', 'write the final latents (before decoding) as tensor "latents"')
    .option('--overwrite', 'replace existing output, latents and trace files (default: refuse)')
    .optionsGroup('Guidance options (attend-excite, divide-bind; defaults are the official values):')
    .option(
      '--token-indices <list>',
      'object tokens by index, start token = 0 (see dnb tokens), e.g. 3,7',
      integerList,
    )
    .option(
      '--attribute-indices <list>',
      'D&B attribute token of each object, 0 = none, e.g. 2,6',
      integerList,
    )
    .option('--objects <words>', 'object tokens by word, e.g. dog,crown (dog#2: the second "dog")', wordList)
    .option('--attributes <words>', 'attribute word of each object, - = none, e.g. purple,green', wordList)
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
    .option('--attention-res <n>', 'side of the object attention maps (default: 16)', positiveInteger)
    .option(
      '--trace <file.json>',
      'write what the guidance did at each step (several images: FILE-0.json, …)',
    )
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
    .addHelpText('after', EXAMPLES)
    .action((prompt: string, options: GenerateOptions) => runGenerate(prompt, options));
}
