import type { Command } from 'commander';
import { UserError } from '../errors.ts';
import { BlipVqa } from '../models/blip/blipVqa.ts';
import { loadRgbImage } from '../models/imageProcessing/rgbImage.ts';
import { resolveTransformersModel } from '../weights/resolveTransformersModel.ts';
import { addScoringRuntimeOptions, type ClipRuntimeFlags, runtimeOf } from './clipScoreCommand.ts';
import { positiveInteger } from './optionParsers.ts';

interface VqaFlags extends ClipRuntimeFlags {
  model: string;
  question?: string[];
  maxLength?: number;
  batch?: boolean;
  json?: boolean;
}

export interface VqaRow {
  image: string;
  question: string;
  answer: string;
  tokenIds: number[];
}

export function addVqaCommand(program: Command): Command {
  const command = program
    .command('vqa')
    .description(
      'Answer questions about an image with a BLIP VQA model (BlipForQuestionAnswering, e.g. ' +
        'Salesforce/blip-vqa-base), greedily, as TIFA asks them.',
    )
    .argument('<image>', 'an image file (PNG, JPEG, WebP, …)')
    .option('-q, --question <text>', 'a question about the image (repeat for several)', collect)
    .requiredOption('-m, --model <dir|repo>', 'BLIP VQA model folder or Hugging Face repo id')
    .option(
      '--max-length <n>',
      "longest answer, counting [DEC] and [SEP] (default: the model's, 20; TIFA uses 50)",
      positiveInteger,
    )
    .option(
      '--batch',
      "ask the questions as one padded batch, as transformers does (its all-ones mask lets a short question's answer read the padding)",
    )
    .option('--json', 'print one JSON object instead of a line per question (question, tab, answer)');
  return addScoringRuntimeOptions(command).action(async (image: string, flags: VqaFlags) => {
    const questions = flags.question ?? [];
    if (questions.length === 0) throw new UserError('vqa needs at least one --question about the image');
    const rows = await vqaRows(image, questions, flags);
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ results: rows })}\n`
        : rows.map((row) => `${row.question}\t${row.answer}\n`).join(''),
    );
  });
}

async function vqaRows(image: string, questions: string[], flags: VqaFlags): Promise<VqaRow[]> {
  for (const [i, question] of questions.entries()) {
    if (question.trim() === '')
      throw new UserError(`--question ${i + 1} is empty: ask something about the image`);
  }
  const decoded = await loadRgbImage(image);
  const folder = await resolveTransformersModel(flags.model, { files: 'blip' });
  const vqa = await BlipVqa.load(folder, runtimeOf(flags));
  try {
    const answers = await vqa.answer(decoded, questions, {
      maxLength: flags.maxLength,
      together: flags.batch,
    });
    return answers.map(({ question, answer, tokenIds }) => ({ image, question, answer, tokenIds }));
  } finally {
    await vqa.release();
  }
}

function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
