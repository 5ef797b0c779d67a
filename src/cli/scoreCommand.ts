import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { type AeImageTextScores, aeImageTextSimilarity } from '../metrics/aeImageText.ts';
import { type AeTextTextScore, aeTextTextSimilarity } from '../metrics/aeTextText.ts';
import { clipScoreTexts, clipSimilarity } from '../metrics/clipScore.ts';
import { BlipCaptioner } from '../models/blip/blipCaptioner.ts';
import { ClipEmbedder } from '../models/clip/clipEmbedder.ts';
import { embedImageFiles } from '../models/clip/clipImageFiles.ts';
import { resolveTransformersModel } from '../weights/resolveTransformersModel.ts';
import { addScoringRuntimeOptions, type ClipRuntimeFlags, runtimeOf } from './clipScoreCommand.ts';
import { nonNegativeInteger, positiveInteger } from './optionParsers.ts';

const METRICS = ['clip-score', 'ae-image-text', 'ae-text-text'] as const;
type Metric = (typeof METRICS)[number];

/** A&E's text-text setting: LAVIS blip_caption base_coco's generate defaults. */
const AE_CAPTION = { prefix: 'a picture of ', numBeams: 3, maxLength: 30, minLength: 10 } as const;

interface ScoreFlags extends ClipRuntimeFlags {
  prompt: string;
  metrics?: Metric[];
  clipModel: string;
  captionModel?: string;
  captionPrefix: string;
  beams: number;
  maxLength: number;
  minLength: number;
  hesselPrefix?: boolean;
  json?: boolean;
}

export interface ScoreRow {
  image: string;
  prompt: string;
  clipScore?: number;
  aeImageText?: AeImageTextScores;
  aeTextText?: AeTextTextScore;
}

export function addScoreCommand(program: Command): Command {
  const command = program
    .command('score')
    .description(
      "Scores images against their prompt with the papers' metrics: CLIPScore, Attend & Excite's CLIP image-text " +
        'similarity (full prompt and both halves, 80 ImageNet templates) and its BLIP-caption text-text similarity.',
    )
    .argument('<images...>', 'image files generated from the prompt')
    .requiredOption('-p, --prompt <text>', 'the prompt the images were generated from')
    .option(
      '--metrics <list>',
      `comma-separated, of ${METRICS.join(', ')} (default: all whose models are given)`,
      metricList,
    )
    .requiredOption(
      '--clip-model <dir|repo>',
      'CLIPModel folder or Hugging Face repo id (A&E used openai/clip-vit-base-patch16)',
    )
    .option(
      '--caption-model <dir|repo>',
      'BlipForConditionalGeneration folder or repo id, for ae-text-text (A&E: Salesforce/blip-image-captioning-base)',
    )
    .option('--caption-prefix <text>', 'text the caption continues and is cut from', AE_CAPTION.prefix)
    .option('--beams <n>', 'caption beam width', positiveInteger, AE_CAPTION.numBeams)
    .option(
      '--max-length <n>',
      'caption length limit, counting the prefix',
      positiveInteger,
      AE_CAPTION.maxLength,
    )
    .option(
      '--min-length <n>',
      'caption minimum length, counting the prefix',
      nonNegativeInteger,
      AE_CAPTION.minLength,
    )
    .option('--hessel-prefix', 'CLIPScore of "A photo depicts " + prompt, as clipscore.py does')
    .option('--json', 'print one JSON object instead of a table');
  return addScoringRuntimeOptions(command).action(async (images: string[], flags: ScoreFlags) => {
    const metrics = new Set(
      flags.metrics ?? METRICS.filter((m) => m !== 'ae-text-text' || flags.captionModel),
    );
    if (metrics.has('ae-text-text') && !flags.captionModel) {
      throw new UserError('the ae-text-text metric needs --caption-model (a BLIP captioning model folder)');
    }
    const rows = await scoreImages(images, flags, metrics);
    process.stdout.write(flags.json ? `${JSON.stringify({ results: rows })}\n` : formatTable(rows));
  });
}

async function scoreImages(
  images: string[],
  flags: ScoreFlags,
  metrics: ReadonlySet<Metric>,
): Promise<ScoreRow[]> {
  const rows: ScoreRow[] = images.map((image) => ({ image, prompt: flags.prompt }));
  const clipFolder = await resolveTransformersModel(flags.clipModel, { files: 'clip' });
  const embedder = await ClipEmbedder.load(clipFolder, runtimeOf(flags));
  try {
    if (metrics.has('clip-score') || metrics.has('ae-image-text')) {
      const imageEmbeds = await embedImageFiles(embedder, images);
      if (metrics.has('clip-score')) {
        const [text] = await embedder.embedTexts(clipScoreTexts([flags.prompt], flags));
        const { clipScore } = clipSimilarity(imageEmbeds, [text], embedder.logitScale);
        rows.forEach((row, i) => {
          row.clipScore = clipScore[i][0];
        });
      }
      if (metrics.has('ae-image-text')) {
        const scores = await aeImageTextSimilarity(embedder, imageEmbeds, flags.prompt);
        rows.forEach((row, i) => {
          row.aeImageText = scores[i];
        });
      }
    }
    if (metrics.has('ae-text-text')) {
      const scores = await captionSimilarities(embedder, images, flags);
      rows.forEach((row, i) => {
        row.aeTextText = scores[i];
      });
    }
  } finally {
    await embedder.release();
  }
  return rows;
}

async function captionSimilarities(
  embedder: ClipEmbedder,
  images: string[],
  flags: ScoreFlags,
): Promise<AeTextTextScore[]> {
  const captionFolder = await resolveTransformersModel(flags.captionModel!, { files: 'blip' });
  const captioner = await BlipCaptioner.load(captionFolder, runtimeOf(flags));
  try {
    const options = {
      prefix: flags.captionPrefix === '' ? undefined : flags.captionPrefix,
      numBeams: flags.beams,
      maxLength: flags.maxLength,
      minLength: flags.minLength,
      repetitionPenalty: 1,
    };
    const caption = async (image: string) => (await captioner.caption([image], options))[0].caption;
    return await aeTextTextSimilarity(embedder, images, flags.prompt, caption);
  } finally {
    await captioner.release();
  }
}

function metricList(text: string): Metric[] {
  const names = text.split(',').map((name) => name.trim());
  const unknown = names.filter((name) => !(METRICS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    throw new UserError(
      `unknown metric "${unknown[0] ?? text}" in --metrics; choose from ${METRICS.join(', ')}`,
    );
  }
  return names as Metric[];
}

function formatTable(rows: readonly ScoreRow[]): string {
  const number = (x: number | null | undefined) =>
    x === undefined ? undefined : x === null ? '-' : x.toFixed(4);
  const columns: [string, (row: ScoreRow) => string | undefined][] = [
    ['image', (r) => r.image],
    ['CLIPScore', (r) => number(r.clipScore)],
    ['A&E full', (r) => number(r.aeImageText?.full)],
    ['1st half', (r) => number(r.aeImageText?.firstHalf)],
    ['2nd half', (r) => number(r.aeImageText?.secondHalf)],
    ['min half', (r) => number(r.aeImageText?.minHalf)],
    ['text-text', (r) => number(r.aeTextText?.similarity)],
    ['caption', (r) => r.aeTextText?.caption],
  ];
  const shown = columns.filter(([, cell]) => rows.some((row) => cell(row) !== undefined));
  const cells = rows.map((row) => shown.map(([, cell]) => cell(row) ?? ''));
  const widths = shown.map(([title], c) => Math.max(title.length, ...cells.map((row) => row[c].length)));
  const numeric = (c: number) => shown[c][0] !== 'image' && shown[c][0] !== 'caption';
  const line = (row: string[]) =>
    row
      .map((cell, c) => (numeric(c) ? cell.padStart(widths[c]) : cell.padEnd(widths[c])))
      .join('  ')
      .trimEnd();
  return `prompt: ${rows[0]?.prompt ?? ''}\n${[shown.map(([title]) => title), ...cells].map(line).join('\n')}\n`;
}
