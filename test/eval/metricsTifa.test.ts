import { describe, expect, it } from 'vitest';
import type { TextEmbedder } from '../../src/metrics/embedders.ts';
import { normalizeAnswer, type TifaQuestion, tifaAccuracy } from '../../src/metrics/tifa.ts';
import { userErrorOf } from '../helpers/userError.ts';

/** A text embedder with hand-placed 2-D vectors, that records what it was asked to embed. */
function fakeEmbedder(vectors: Record<string, [number, number]>): TextEmbedder & { asked: string[][] } {
  const asked: string[][] = [];
  return {
    asked,
    embedTexts(texts) {
      asked.push([...texts]);
      return Promise.resolve(
        texts.map((text) => {
          const v = vectors[text];
          if (!v) throw new Error(`no vector for "${text}"`);
          return Float32Array.from(v);
        }),
      );
    },
  };
}

/** A VQA model that answers from a table. */
const answerer = (answers: Record<string, string>) => (question: string) =>
  Promise.resolve(answers[question]);

const QUESTIONS: TifaQuestion[] = [
  { question: 'is there a dog?', choices: ['yes', 'no'], answer: 'yes', elementType: 'object' },
  {
    question: 'how many cats are there?',
    choices: ['one', 'two', 'three'],
    answer: 'two',
    elementType: 'counting',
  },
  {
    question: 'what color is the crown?',
    choices: ['black', 'green', 'yellow'],
    answer: 'green',
    elementType: 'color',
  },
];

describe('TIFA accuracy', () => {
  it('takes answers that are choices as they are, after normalising case, punctuation and numbers', async () => {
    const embedder = fakeEmbedder({});
    const result = await tifaAccuracy(
      QUESTIONS,
      answerer({
        'is there a dog?': 'Yes.',
        'how many cats are there?': '2',
        'what color is the crown?': 'yellow',
      }),
      embedder,
    );
    expect(result.records.map((r) => [r.freeFormAnswer, r.chosen, r.matchedBy, r.correct])).toEqual([
      ['Yes.', 'yes', 'exact', true],
      ['2', 'two', 'exact', true],
      ['yellow', 'yellow', 'exact', false],
    ]);
    expect(result.records[1].elementType).toBe('counting');
    expect(result.accuracy).toBeCloseTo(2 / 3, 15);
    // Nothing needed an embedding.
    expect(embedder.asked).toEqual([]);
  });

  it('maps an answer that is no choice to the choice of highest text-embedding cosine', async () => {
    const embedder = fakeEmbedder({
      'pale green': [0.9, 0.3],
      black: [-1, 0],
      green: [1, 0.1],
      yellow: [0.6, 0.8],
    });
    const result = await tifaAccuracy(
      [QUESTIONS[2]],
      answerer({ 'what color is the crown?': 'pale green' }),
      embedder,
    );
    expect(result.records[0]).toMatchObject({ chosen: 'green', matchedBy: 'embedding', correct: true });
    expect(embedder.asked).toEqual([['pale green', 'black', 'green', 'yellow']]);
    expect(result.accuracy).toBe(1);
  });

  it('keeps the first of equally close choices, as argmax does', async () => {
    const embedder = fakeEmbedder({ maybe: [1, 0], yes: [0, 1], no: [0, -1] });
    const result = await tifaAccuracy([QUESTIONS[0]], answerer({ 'is there a dog?': 'maybe' }), embedder);
    expect(result.records[0]).toMatchObject({ chosen: 'yes', matchedBy: 'embedding' });
  });

  it('normalises yes/no and number words', () => {
    expect(normalizeAnswer('  YES! ')).toBe('yes');
    expect(normalizeAnswer('No.')).toBe('no');
    expect(normalizeAnswer('Two')).toBe('2');
    expect(normalizeAnswer('twenty')).toBe('20');
    expect(normalizeAnswer('a  red   car')).toBe('a red car');
    expect(normalizeAnswer('twenty one')).toBe('twenty one');
  });

  it('refuses questions whose answer is not a choice, without choices, or none at all', async () => {
    const embedder = fakeEmbedder({});
    const bad = await userErrorOf(
      tifaAccuracy(
        [{ question: 'what animal?', choices: ['cat', 'dog'], answer: 'frog' }],
        answerer({}),
        embedder,
      ),
    );
    expect(bad.message).toBe(
      'TIFA question "what animal?": its answer "frog" is not one of its choices (cat, dog)',
    );
    const empty = await userErrorOf(
      tifaAccuracy([{ question: 'what animal?', choices: [], answer: 'cat' }], answerer({}), embedder),
    );
    expect(empty.message).toBe('TIFA question "what animal?" has no choices');
    expect((await userErrorOf(tifaAccuracy([], answerer({}), embedder))).message).toBe(
      'TIFA needs at least one question',
    );
  });
});
