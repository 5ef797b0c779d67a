/**
 * TIFA-style questions (Hu et al., ICCV 2023) from a prompt's structure instead of from a language model: the
 * templated sets know what they asked for, so their questions and answers are exact. Each question has TIFA
 * v1.0's fields and one of its element types:
 *
 * - each object: "is there a cat?" / "are there dogs?" (yes/no), type `animal/human` for animals (TIFA
 *   merges the two) and `object` otherwise;
 * - each stated count (more than one, or any count a number word states, as in Multi-Object's "one cat"):
 *   "how many dogs are there?" with TIFA's number choices 1-4 (wider when the count is);
 * - each attribute: "what color is the car?" with the set's colour words as choices, or "is the car wooden?"
 *   (yes/no, type `attribute`) for a word that is not a colour;
 * - the scene: "is this a street?" (yes/no) and "where is this?" with the set's scene nouns as choices.
 *
 * The colour and scene questions offer every word of the set's list rather than TIFA's four: the VQA answer
 * is mapped to the nearest choice, and a choice list without the true colour's neighbours would flatter a
 * wrong answer.
 */
import type { BenchmarkPrompt, PromptObject, PromptSet, TifaQuestion } from './promptSet.ts';
import { ANIMAL_PLURALS, COLORS, SCENES } from './sets/wordLists.ts';

/** TIFA v1.0's choices for "how many" questions. */
export const COUNT_CHOICES: readonly string[] = ['1', '2', '3', '4'];

const YES_NO = ['yes', 'no'];

const ANIMAL_WORDS: ReadonlySet<string> = new Set([
  ...Object.keys(ANIMAL_PLURALS),
  ...Object.values(ANIMAL_PLURALS),
  'goose',
  'geese',
]);

/** Nouns that are plural in form even for one thing: A&E's "a glasses" is asked about as "are there glasses?". */
const PLURAL_ONLY: ReadonlySet<string> = new Set(['glasses', 'scissors', 'pants', 'trousers', 'jeans']);

/** Whether questions treat the object as plural ("are there …", "what color are …"). */
function readsPlural(object: PromptObject): boolean {
  return object.count > 1 || PLURAL_ONLY.has(object.word);
}

/** The answer choices a set's questions draw from; the shipped word lists where the set gives none. */
export interface QuestionVocabulary {
  colors: readonly string[];
  scenes: readonly string[];
}

export function questionVocabulary(set?: Pick<PromptSet, 'vocabulary'>): QuestionVocabulary {
  return {
    colors: set?.vocabulary?.colors ?? COLORS,
    scenes: set?.vocabulary?.scenes ?? SCENES.map((scene) => scene.scene),
  };
}

/** The prompt's own questions (TIFA v1.0) if it has them, else those of its structure. */
export function promptQuestions(
  prompt: BenchmarkPrompt,
  set?: Pick<PromptSet, 'vocabulary'>,
): TifaQuestion[] {
  return prompt.questions ?? structuredQuestions(prompt, questionVocabulary(set));
}

/** The questions of a prompt's structure, object by object, then the scene's. */
export function structuredQuestions(
  prompt: Pick<BenchmarkPrompt, 'objects' | 'attributes' | 'scene'>,
  vocabulary: QuestionVocabulary = questionVocabulary(),
): TifaQuestion[] {
  const questions: TifaQuestion[] = [];
  for (const [k, object] of prompt.objects.entries()) {
    questions.push(presenceQuestion(object));
    if (object.count > 1 || object.countWord !== undefined) questions.push(countingQuestion(object));
    for (const attribute of prompt.attributes.filter((candidate) => candidate.object === k)) {
      questions.push(attributeQuestion(object, attribute.word, vocabulary.colors));
    }
  }
  if (prompt.scene !== undefined) {
    questions.push(
      {
        question: `is this ${withArticle(prompt.scene)}?`,
        choices: [...YES_NO],
        answer: 'yes',
        category: 'location',
        element: prompt.scene,
      },
      {
        question: 'where is this?',
        choices: withAnswer(vocabulary.scenes, prompt.scene),
        answer: prompt.scene,
        category: 'location',
        element: prompt.scene,
      },
    );
  }
  return questions;
}

function presenceQuestion(object: PromptObject): TifaQuestion {
  return {
    question: readsPlural(object) ? `are there ${object.word}?` : `is there ${withArticle(object.word)}?`,
    choices: [...YES_NO],
    answer: 'yes',
    category: ANIMAL_WORDS.has(object.word) ? 'animal/human' : 'object',
    element: object.word,
  };
}

function countingQuestion(object: PromptObject): TifaQuestion {
  const plural = object.count > 1 ? object.word : (object.plural ?? object.word);
  const answer = String(object.count);
  const choices = [...COUNT_CHOICES];
  for (let count = choices.length + 1; count <= object.count; count += 1) choices.push(String(count));
  return {
    question: `how many ${plural} are there?`,
    choices,
    answer,
    category: 'counting',
    element: object.countWord ?? answer,
  };
}

function attributeQuestion(object: PromptObject, word: string, colors: readonly string[]): TifaQuestion {
  const verb = readsPlural(object) ? 'are' : 'is';
  if (colors.includes(word)) {
    return {
      question: `what color ${verb} the ${object.word}?`,
      choices: [...colors],
      answer: word,
      category: 'color',
      element: word,
    };
  }
  return {
    question: `${verb} the ${object.word} ${word}?`,
    choices: [...YES_NO],
    answer: 'yes',
    category: 'attribute',
    element: word,
  };
}

function withAnswer(choices: readonly string[], answer: string): string[] {
  return choices.includes(answer) ? [...choices] : [...choices, answer];
}

/** "a cat", "an elephant": the article by the first letter, which is right for every word of the sets. */
function withArticle(noun: string): string {
  return `${/^[aeiou]/i.test(noun) ? 'an' : 'a'} ${noun}`;
}
