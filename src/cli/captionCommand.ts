import type { Command } from 'commander';
import { BlipCaptioner, type Caption } from '../models/blip/blipCaptioner.ts';
import { loadRgbImage } from '../models/imageProcessing/rgbImage.ts';
import { resolveTransformersModel } from '../weights/resolveTransformersModel.ts';
import { addScoringRuntimeOptions, type ClipRuntimeFlags, runtimeOf } from './clipScoreCommand.ts';
import { nonNegativeInteger, positiveInteger } from './optionParsers.ts';

interface CaptionFlags extends ClipRuntimeFlags {
  model: string;
  beams?: number;
  maxLength?: number;
  minLength?: number;
  prefix?: string;
  json?: boolean;
}

export interface CaptionRow {
  image: string;
  /** The decoded text with the prefix removed. */
  caption: string;
  /** The whole decoded text (special tokens skipped), the prefix included. */
  text: string;
  tokenIds: number[];
}

export function addCaptionCommand(program: Command): Command {
  const command = program
    .command('caption')
    .description(
      'Caption images with a BLIP captioning model (BlipForConditionalGeneration, e.g. ' +
        'Salesforce/blip-image-captioning-base), as transformers 4.33 generates.',
    )
    .argument('<images...>', 'image files (PNG, JPEG, WebP, …)')
    .requiredOption('-m, --model <dir|repo>', 'BLIP captioning model folder or Hugging Face repo id')
    .option(
      '--beams <n>',
      "beams of the beam search; 1 = greedy (default: the model's generation default)",
      positiveInteger,
    )
    .option(
      '--max-length <n>',
      "longest sequence, counting [DEC] and the prefix (default: the model's, 20)",
      positiveInteger,
    )
    .option(
      '--min-length <n>',
      'shortest sequence before [SEP] may end it, counted the same way',
      nonNegativeInteger,
    )
    .option('--prefix <text>', 'text the caption continues, e.g. "a picture of"')
    .option('--json', 'print one JSON object instead of a line per image (path, tab, caption)');
  return addScoringRuntimeOptions(command).action(async (images: string[], flags: CaptionFlags) => {
    const rows = await captionRows(images, flags);
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ results: rows })}\n`
        : rows.map((row) => `${row.image}\t${row.caption}\n`).join(''),
    );
  });
}

async function captionRows(images: string[], flags: CaptionFlags): Promise<CaptionRow[]> {
  // Every image is read before the model loads, so a bad file fails fast.
  const decoded = await Promise.all(images.map((image) => loadRgbImage(image)));
  const folder = await resolveTransformersModel(flags.model, { files: 'blip' });
  const captioner = await BlipCaptioner.load(folder, runtimeOf(flags));
  try {
    const captions: Caption[] = await captioner.caption(decoded, {
      prefix: flags.prefix,
      numBeams: flags.beams,
      maxLength: flags.maxLength,
      minLength: flags.minLength,
      prefixCut: 'prefix',
    });
    return captions.map(({ caption, text, tokenIds }, i) => ({ image: images[i], caption, text, tokenIds }));
  } finally {
    await captioner.release();
  }
}
