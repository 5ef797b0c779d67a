import { describe, expect, it } from 'vitest';
import { loadPromptSet } from '../../src/benchmark/promptSets.ts';
import { COLORS } from '../../src/benchmark/sets/wordLists.ts';
import {
  COUNT_CHOICES,
  promptQuestions,
  structuredQuestions,
} from '../../src/benchmark/structuredQuestions.ts';

const SCENE_CHOICES = [
  'street',
  'library',
  'kitchen',
  'forest',
  'beach',
  'desert',
  'bedroom',
  'park',
  'river',
];

async function prompt(set: string, text: string) {
  const loaded = await loadPromptSet(set);
  const found = loaded.prompts.find((candidate) => candidate.text === text);
  expect(found, text).toBeDefined();
  return { set: loaded, prompt: found! };
}

describe('TIFA-style questions from the structure', () => {
  it('asks for each object, its colour and the scene of "a black cat and a red suitcase in the library"', async () => {
    const { set, prompt: cat } = await prompt(
      'color-obj-scene',
      'a black cat and a red suitcase in the library',
    );
    expect(promptQuestions(cat, set)).toEqual([
      {
        question: 'is there a cat?',
        choices: ['yes', 'no'],
        answer: 'yes',
        category: 'animal/human',
        element: 'cat',
      },
      {
        question: 'what color is the cat?',
        choices: COLORS,
        answer: 'black',
        category: 'color',
        element: 'black',
      },
      {
        question: 'is there a suitcase?',
        choices: ['yes', 'no'],
        answer: 'yes',
        category: 'object',
        element: 'suitcase',
      },
      {
        question: 'what color is the suitcase?',
        choices: COLORS,
        answer: 'red',
        category: 'color',
        element: 'red',
      },
      {
        question: 'is this a library?',
        choices: ['yes', 'no'],
        answer: 'yes',
        category: 'location',
        element: 'library',
      },
      {
        question: 'where is this?',
        choices: SCENE_CHOICES,
        answer: 'library',
        category: 'location',
        element: 'library',
      },
    ]);
  });

  it('counts every Multi-Object entity, "one cat" included, with TIFA’s number choices', async () => {
    const { set, prompt: cats } = await prompt('multi-object', 'one cat and two dogs');
    expect(promptQuestions(cats, set)).toEqual([
      {
        question: 'is there a cat?',
        choices: ['yes', 'no'],
        answer: 'yes',
        category: 'animal/human',
        element: 'cat',
      },
      {
        question: 'how many cats are there?',
        choices: COUNT_CHOICES,
        answer: '1',
        category: 'counting',
        element: 'one',
      },
      {
        question: 'are there dogs?',
        choices: ['yes', 'no'],
        answer: 'yes',
        category: 'animal/human',
        element: 'dogs',
      },
      {
        question: 'how many dogs are there?',
        choices: COUNT_CHOICES,
        answer: '2',
        category: 'counting',
        element: 'two',
      },
    ]);
    const { prompt: geese } = await prompt('multi-object', 'three geese floating in the middle of a river');
    expect(promptQuestions(geese, set).map((q) => [q.question, q.answer])).toEqual([
      ['are there geese?', 'yes'],
      ['how many geese are there?', '3'],
      ['is this a river?', 'yes'],
      ['where is this?', 'river'],
    ]);
  });

  it('uses "an", asks no count for an article, no colour where the prompt names none, and reads "glasses" as plural', async () => {
    const { prompt: elephant } = await prompt('animal-object', 'an elephant with a bow');
    expect(structuredQuestions(elephant).map((q) => q.question)).toEqual([
      'is there an elephant?',
      'is there a bow?',
    ]);
    const { prompt: glasses } = await prompt('color-object', 'a green glasses and a black crown');
    expect(structuredQuestions(glasses).map((q) => q.question)).toEqual([
      'are there glasses?',
      'what color are the glasses?',
      'is there a crown?',
      'what color is the crown?',
    ]);
  });

  it('widens the number choices for larger counts and asks yes/no for an attribute that is not a colour', () => {
    const questions = structuredQuestions({
      objects: [{ word: 'chairs', count: 6 }],
      attributes: [{ word: 'wooden', object: 0 }],
    });
    expect(questions.slice(1)).toEqual([
      {
        question: 'how many chairs are there?',
        choices: ['1', '2', '3', '4', '5', '6'],
        answer: '6',
        category: 'counting',
        element: '6',
      },
      {
        question: 'are the chairs wooden?',
        choices: ['yes', 'no'],
        answer: 'yes',
        category: 'attribute',
        element: 'wooden',
      },
    ]);
  });

  it('gives every shipped prompt answerable questions: per set, how many of each category', async () => {
    const totals: Record<string, Record<string, number>> = {};
    for (const name of [
      'animal-animal',
      'animal-object',
      'color-object',
      'animal-scene',
      'color-obj-scene',
      'multi-object',
    ]) {
      const set = await loadPromptSet(name);
      const counts: Record<string, number> = {};
      for (const shipped of set.prompts) {
        for (const question of promptQuestions(shipped, set)) {
          expect(question.choices, question.question).toContain(question.answer);
          expect(new Set(question.choices).size).toBe(question.choices.length);
          counts[question.category!] = (counts[question.category!] ?? 0) + 1;
        }
      }
      totals[name] = counts;
    }
    expect(totals).toEqual({
      'animal-animal': { 'animal/human': 132 },
      'animal-object': { 'animal/human': 144, object: 144, color: 108 },
      'color-object': { object: 132, color: 132 },
      'animal-scene': { 'animal/human': 132, location: 132 },
      'color-obj-scene': { 'animal/human': 2, object: 136, color: 138, location: 138 },
      'multi-object': { 'animal/human': 131, object: 16, counting: 147, location: 2 },
    });
    // Every Multi-Object entity is counted: 3 in the fixed prompts, 32 pairs, 16 pairs, 16 triples.
    expect(totals['multi-object'].counting).toBe(3 + 32 * 2 + 16 * 2 + 16 * 3);
  });
});
