import { UserError } from '../errors.ts';
import { numberOfWord } from '../prompt/numberWords.ts';
import type { TextEmbedder } from './embedders.ts';
import { cosine } from './vectors.ts';

/** One TIFA question about an image: multiple choice, with the answer the prompt implies. */
export interface TifaQuestion {
  question: string;
  choices: readonly string[];
  answer: string;
  /** TIFA's element type ("object", "color", "counting", …), carried into the record for per-type accuracy. */
  elementType?: string;
}

/** A VQA model's free-form answer to a question about the image being scored (BLIP VQA in TIFA). */
export type FreeFormAnswerer = (question: string) => Promise<string>;

export interface TifaRecord {
  question: string;
  choices: readonly string[];
  answer: string;
  elementType?: string;
  freeFormAnswer: string;
  /** The choice the free-form answer was mapped to. */
  chosen: string;
  /** `exact`: the answer is a choice (after normalisation); `embedding`: the closest choice by CLIP text cosine. */
  matchedBy: 'exact' | 'embedding';
  correct: boolean;
}

export interface TifaResult {
  records: TifaRecord[];
  /** Mean of `correct` over the questions: TIFA's `tifa_score` of one image. */
  accuracy: number;
}

/**
 * The form answers and choices are compared in: lower case, spaces collapsed, surrounding punctuation dropped
 * ("Yes." = "yes"), and number words as digits ("two" = "2").
 */
export function normalizeAnswer(text: string): string {
  const plain = text
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/^[\s.,!?;:'"]+|[\s.,!?;:'"]+$/g, '');
  // TIFA's counting choices and VQA answers mix number words with digits.
  const number = numberOfWord(plain);
  return number === undefined ? plain : String(number);
}

/**
 * TIFA accuracy (Hu et al. 2023, `tifa/tifa_score.py` + `vqa_models.py`) of one image: each question is answered
 * free-form; an answer that is one of the choices is taken as it is, otherwise the closest choice is taken; the
 * question counts as correct when that choice is the expected answer.
 *
 * Differences from TIFA, on purpose: the closest choice is found by CLIP text-embedding cosine (`choiceEmbedder`),
 * where TIFA uses SBERT `sentence-transformers/all-mpnet-base-v2` embeddings (this project runs no SBERT), so an
 * off-choice answer can map to another choice than TIFA's; and answers and choices are compared after
 * `normalizeAnswer` (TIFA compares exact strings, so "2" ≠ "two" and "Yes" ≠ "yes" there).
 */
export async function tifaAccuracy(
  questions: readonly TifaQuestion[],
  answer: FreeFormAnswerer,
  choiceEmbedder: TextEmbedder,
): Promise<TifaResult> {
  if (questions.length === 0) throw new UserError('TIFA needs at least one question');
  const records: TifaRecord[] = [];
  for (const q of questions) {
    checkQuestion(q);
    const freeFormAnswer = await answer(q.question);
    const exact = q.choices.find((choice) => normalizeAnswer(choice) === normalizeAnswer(freeFormAnswer));
    const chosen = exact ?? (await closestChoice(choiceEmbedder, freeFormAnswer, q.choices));
    records.push({
      question: q.question,
      choices: q.choices,
      answer: q.answer,
      ...(q.elementType === undefined ? {} : { elementType: q.elementType }),
      freeFormAnswer,
      chosen,
      matchedBy: exact === undefined ? 'embedding' : 'exact',
      correct: normalizeAnswer(chosen) === normalizeAnswer(q.answer),
    });
  }
  return { records, accuracy: records.filter((r) => r.correct).length / records.length };
}

function checkQuestion(q: TifaQuestion): void {
  if (q.choices.length === 0) throw new UserError(`TIFA question "${q.question}" has no choices`);
  if (!q.choices.some((choice) => normalizeAnswer(choice) === normalizeAnswer(q.answer))) {
    throw new UserError(
      `TIFA question "${q.question}": its answer "${q.answer}" is not one of its choices (${q.choices.join(', ')})`,
    );
  }
}

/** The first choice of highest cosine with the answer (PyTorch's argmax keeps the first of ties). */
async function closestChoice(
  embedder: TextEmbedder,
  answer: string,
  choices: readonly string[],
): Promise<string> {
  const [answerEmbedding, ...choiceEmbeddings] = await embedder.embedTexts([answer, ...choices]);
  let best = 0;
  let bestCosine = Number.NEGATIVE_INFINITY;
  choiceEmbeddings.forEach((embedding, i) => {
    const c = cosine(answerEmbedding, embedding);
    if (c > bestCosine) {
      best = i;
      bestCosine = c;
    }
  });
  return choices[best];
}
