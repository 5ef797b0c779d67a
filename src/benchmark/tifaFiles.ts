/**
 * TIFA v1.0's two files (Yushi-Hu/tifa, tifa_v1.0/README.md) and the prompt set made of them:
 *
 *   tifa_v1.0_text_inputs.json        [{ "id": "coco_301091", "caption": "On a gray day …", "coco_val_id": "380711" }, …]
 *   tifa_v1.0_question_answers.json   [{ "id", "caption", "question", "choices": […], "answer", "element_type",
 *                                        "element", "coco_val_id"? }, …]  (one entry per question)
 *
 * `coco_val_id` is there for COCO captions only. Captions are kept verbatim, trailing spaces included: TIFA
 * matches images to questions by id, and the id is the prompt's id here.
 */
import type { BenchmarkPrompt, PromptSet, TifaQuestion } from './promptSet.ts';
import { isSafePromptId } from './promptSetIds.ts';

export interface TifaTextInput {
  id: string;
  caption: string;
  coco_val_id?: string;
}

export interface TifaQuestionAnswer {
  id: string;
  caption: string;
  question: string;
  choices: string[];
  answer: string;
  element_type?: string;
  element?: string;
  coco_val_id?: string;
}

/** A file that is not in TIFA v1.0's format; the message says which entry and field. */
export class TifaFormatError extends Error {
  override name = 'TifaFormatError';
}

export function parseTifaTextInputs(text: string): TifaTextInput[] {
  return entries(text).map((entry, i) => {
    const input: TifaTextInput = { id: idOf(entry, i), caption: stringField(entry, 'caption', i) };
    if (entry.coco_val_id !== undefined) input.coco_val_id = stringField(entry, 'coco_val_id', i);
    return input;
  });
}

export function parseTifaQuestionAnswers(text: string): TifaQuestionAnswer[] {
  return entries(text).map((entry, i) => {
    const choices = entry.choices;
    if (!Array.isArray(choices) || choices.length === 0 || !choices.every((c) => typeof c === 'string')) {
      throw new TifaFormatError(
        `entry ${i} (${String(entry.id)}): "choices" must be a non-empty list of strings`,
      );
    }
    const pair: TifaQuestionAnswer = {
      id: idOf(entry, i),
      caption: stringField(entry, 'caption', i),
      question: stringField(entry, 'question', i),
      choices: choices as string[],
      answer: stringField(entry, 'answer', i),
    };
    for (const field of ['element_type', 'element', 'coco_val_id'] as const) {
      if (entry[field] !== undefined) pair[field] = stringField(entry, field, i);
    }
    return pair;
  });
}

/**
 * The set `tifa-v1.0`: one prompt per text input, in the file's order, with its questions in theirs. A
 * question whose id has no text input (not expected) brings its own caption as a prompt, after the others.
 * TIFA's captions are free-form, so they carry no structure: generation chooses their tokens automatically.
 */
export function tifaPromptSet(
  inputs: readonly TifaTextInput[],
  pairs: readonly TifaQuestionAnswer[],
  fields: Pick<PromptSet, 'name' | 'label' | 'source'>,
): PromptSet {
  const prompts = new Map<string, BenchmarkPrompt>();
  const add = (id: string, caption: string) => {
    if (!prompts.has(id)) {
      prompts.set(id, {
        id,
        text: caption,
        objects: [],
        attributes: [],
        questions: [],
        structureSource: 'none',
      });
    }
    return prompts.get(id)!;
  };
  for (const input of inputs) add(input.id, input.caption);
  for (const pair of pairs) {
    const question: TifaQuestion = {
      question: pair.question,
      choices: [...pair.choices],
      answer: pair.answer,
    };
    if (pair.element_type !== undefined) question.category = pair.element_type;
    if (pair.element !== undefined) question.element = pair.element;
    add(pair.id, pair.caption).questions!.push(question);
  }
  return { ...fields, reconstructed: false, prompts: [...prompts.values()] };
}

function entries(text: string): Record<string, unknown>[] {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TifaFormatError(`it is not complete JSON (${(error as Error).message.replace(/\s+/g, ' ')})`);
  }
  if (!Array.isArray(value)) throw new TifaFormatError('it is not a JSON list of entries');
  if (value.length === 0) throw new TifaFormatError('it has no entries');
  return value.map((entry, i) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      throw new TifaFormatError(`entry ${i} is not an object`);
    }
    return entry as Record<string, unknown>;
  });
}

function stringField(entry: Record<string, unknown>, field: string, i: number): string {
  const value = entry[field];
  if (typeof value !== 'string') {
    throw new TifaFormatError(`entry ${i} (${String(entry.id)}): "${field}" must be a string`);
  }
  return value;
}

function idOf(entry: Record<string, unknown>, i: number): string {
  const id = stringField(entry, 'id', i);
  if (!isSafePromptId(id)) throw new TifaFormatError(`entry ${i}: id "${id}" cannot name an image folder`);
  return id;
}
