import { type Command, Option } from 'commander';
import { UserError } from '../errors.ts';
import { clipScoreTexts, clipSimilarity } from '../metrics/clipScore.ts';
import { ClipEmbedder } from '../models/clip/clipEmbedder.ts';
import { embedImageFiles } from '../models/clip/clipImageFiles.ts';
import { DEVICES, type Device } from '../runtime/providers.ts';
import type { RuntimeOptions } from '../runtime/session.ts';
import { resolveTransformersModel } from '../weights/resolveTransformersModel.ts';
import { positiveInteger } from './optionParsers.ts';

export interface ClipRuntimeFlags {
  device: Device;
  threads?: number;
  cacheDir?: string;
}

/** --device, --threads and --cache-dir, shared by the scoring commands. */
export function addScoringRuntimeOptions(command: Command): Command {
  return command
    .addOption(
      new Option('--device <device>', 'where ONNX Runtime runs the models').choices(DEVICES).default('cpu'),
    )
    .option('--threads <n>', "ONNX Runtime's intra-op threads (default: all cores)", positiveInteger)
    .option(
      '--cache-dir <dir>',
      'where compiled graphs are cached (default: $DNB_CACHE_DIR or ~/.cache/divide-and-bind)',
    );
}

export function runtimeOf(flags: ClipRuntimeFlags): RuntimeOptions {
  return { device: flags.device, threads: flags.threads, cacheDir: flags.cacheDir };
}

interface ClipScoreFlags extends ClipRuntimeFlags {
  text: string[];
  model: string;
  hesselPrefix?: boolean;
  json?: boolean;
}

export interface ClipScoreRow {
  image: string;
  text: string;
  cosine: number;
  clipScore: number;
}

export function addClipScoreCommand(program: Command): Command {
  const command = program
    .command('clip-score')
    .description(
      'CLIPScore (Hessel et al. 2021: 2.5·max(cos, 0)) of every image with every text, with a Hugging Face ' +
        'CLIPModel (a folder, or a repo id such as openai/clip-vit-base-patch16: only the files it reads are downloaded).',
    )
    .argument('<images...>', 'image files (PNG, JPEG, WebP, …)')
    .option('-t, --text <text>', 'a text to score the images against (repeat for several)', collect, [])
    .requiredOption('-m, --model <dir|repo>', 'CLIPModel folder or Hugging Face repo id')
    .option('--hessel-prefix', 'prefix every text with "A photo depicts ", as clipscore.py does')
    .option('--json', 'print one JSON object instead of a table');
  return addScoringRuntimeOptions(command).action(async (images: string[], flags: ClipScoreFlags) => {
    if (flags.text.length === 0)
      throw new UserError('clip-score needs at least one --text to score the images against');
    const rows = await clipScoreRows(images, flags);
    process.stdout.write(flags.json ? `${JSON.stringify({ results: rows })}\n` : formatTable(rows));
  });
}

async function clipScoreRows(images: string[], flags: ClipScoreFlags): Promise<ClipScoreRow[]> {
  const folder = await resolveTransformersModel(flags.model, { files: 'clip' });
  const embedder = await ClipEmbedder.load(folder, runtimeOf(flags));
  try {
    const imageEmbeds = await embedImageFiles(embedder, images);
    const texts = clipScoreTexts(flags.text, { hesselPrefix: flags.hesselPrefix });
    const similarity = clipSimilarity(imageEmbeds, await embedder.embedTexts(texts), embedder.logitScale);
    return images.flatMap((image, i) =>
      flags.text.map((text, j) => ({
        image,
        text,
        cosine: similarity.cosine[i][j],
        clipScore: similarity.clipScore[i][j],
      })),
    );
  } finally {
    await embedder.release();
  }
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function formatTable(rows: readonly ClipScoreRow[]): string {
  const header = ['image', 'text', 'cosine', 'CLIPScore'];
  const cells = rows.map((r) => [r.image, r.text, r.cosine.toFixed(4), r.clipScore.toFixed(4)]);
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c].length)));
  const line = (row: string[]) =>
    row
      .map((cell, c) => (c >= 2 ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return `${[header, ...cells].map(line).join('\n')}\n`;
}
