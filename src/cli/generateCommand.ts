import { type Command, Option } from 'commander';
import { METHODS } from '../guidance/methods/index.ts';
import type { GenerateOptions } from './generateOptions.ts';
import {
  addGsnSettingOptions,
  addModelOption,
  addRuntimeOptions,
  addSamplingOptions,
  GUIDANCE_OPTIONS_HEADING,
} from './generationOptions.ts';
import { integerList, positiveInteger, seed, wordList } from './optionParsers.ts';
import { runGenerate } from './runGenerate.ts';

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
  const command = program
    .command('generate')
    .description('Generate images with Stable Diffusion, Attend & Excite or Divide & Bind.')
    .argument('<prompt>', 'what the image shows');
  addModelOption(command)
    .requiredOption('-o, --out <file.png>', 'where to write the image (several: FILE-0.png, FILE-1.png, …)')
    .addOption(
      new Option('--method <method>', `sd (plain) or a guidance method: ${METHODS.slice(1).join(', ')}`)
        .choices(METHODS)
        .default('sd'),
    )
    .option('--seed <n>', 'seed of the PyTorch-compatible generator (default: random, printed)', seed);
  addSamplingOptions(command)
    .option(
      '--num-images <n>',
      'images from one draw of noise (default: 1, or the --latents batch)',
      positiveInteger,
    )
    .option('--latents <file>', 'start from the tensor "latents" [N,4,H/8,W/8] of a safetensors file')
    .option('--save-latents <file>', 'write the final latents (before decoding) as tensor "latents"')
    .option('--overwrite', 'replace existing output, latents and trace files (default: refuse)')
    .optionsGroup(GUIDANCE_OPTIONS_HEADING)
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
    .option('--attributes <words>', 'attribute word of each object, - = none, e.g. purple,green', wordList);
  addGsnSettingOptions(command).option(
    '--trace <file.json>',
    'write what the guidance did at each step (several images: FILE-0.json, …)',
  );
  return addRuntimeOptions(command)
    .addHelpText('after', EXAMPLES)
    .action((prompt: string, options: GenerateOptions) => runGenerate(prompt, options));
}
