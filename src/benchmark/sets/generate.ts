/**
 * Generates the shipped prompt sets (src/benchmark/sets/*.json) from A&E's 276 prompts, the fixed word lists
 * (wordLists.ts) and a seeded Mersenne Twister, so the files are reproducible byte for byte:
 *
 *   npx tsx src/benchmark/sets/generate.ts
 *
 * It reads test/fixtures/prompts/ae_prompts.json (A&E's list, verbatim) and the SD 1.5 CLIP tokenizer in
 * test/fixtures/tokenizer (every SD 1.x and 2.x model has the same BPE, so the token indices hold for all).
 *
 * - Animal-Animal, Animal-Object, Color-Object: A&E's three lists as they are, with their structure read off
 *   A&E's templates ("a/an {A} and a/an {B}", "a {A} with a {O}", "a {A} and a {C} {O}", "a {C} {O} and a {C} {O}").
 * - Animal-Scene, Color-Obj-Scene, Multi-Object: reconstructions of Divide & Bind's sets (the authors' lists are
 *   not public; ALGORITHM.md §8.2), built as the paper describes them and pinned to the authors' examples.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ClipTokenizer } from '../../models/clipTokenizer.ts';
import { Mt19937 } from '../../random/mt19937.ts';
import type { BenchmarkPrompt, PromptObject, PromptSet } from '../promptSet.ts';
import { uniquePromptIds } from '../promptSetIds.ts';
import { formatPromptSetJson } from '../promptSetJson.ts';
import { structureTokenIndices } from '../promptSetTokens.ts';
import {
  ANIMAL_PLURALS,
  COLORS,
  COUNT_WORDS,
  OBJECT_PLURALS,
  SCENES,
  type ScenePostfix,
} from './wordLists.ts';

/** The seed of every random choice the reconstruction makes (the paper's BMVC year). */
export const GENERATOR_SEED = 2023;

export interface AePrompts {
  animals: string[];
  animals_objects: string[];
  objects: string[];
}

export interface GeneratorInputs {
  aePrompts: AePrompts;
  tokenizer: ClipTokenizer;
}

/** A prompt's text and structure, before ids and token indices. */
type Draft = Omit<BenchmarkPrompt, 'id'>;

const AE_SOURCE =
  'Attend & Excite (Chefer et al., SIGGRAPH 2023): the evaluation prompts of a.e_prompts.txt (linked in the ' +
  'A&E README and issue #17), key';
const AE_VERBATIM =
  'in A&E’s order and spelling ("a elephant", "a orange apple", "a glasses" kept), as in ALGORITHM.md Appendix A';
const RECONSTRUCTED =
  'Reconstruction of the Divide & Bind (Li et al., BMVC 2023) benchmark set; the authors’ list is not public, ' +
  'so it is rebuilt from the paper’s description and the authors’ examples';

/** Every shipped set, in the order `listPromptSets()` gives them. */
export function generatePromptSets(inputs: GeneratorInputs): PromptSet[] {
  const { aePrompts, tokenizer } = inputs;
  const rng = new Mt19937(GENERATOR_SEED);
  const colorVocabulary = { colors: [...COLORS] };
  const sceneVocabulary = { scenes: [...SCENES.map((scene) => scene.scene), 'river'] };
  const generatedBy = `src/benchmark/sets/generate.ts (seed ${GENERATOR_SEED})`;
  const set = (fields: Omit<PromptSet, 'prompts' | 'generatedBy'>, drafts: Draft[]): PromptSet => ({
    ...fields,
    generatedBy,
    prompts: withIdsAndTokens(tokenizer, drafts),
  });

  const animalAnimal = aePrompts.animals.map(parseAnimalAnimal);
  const colorObject = aePrompts.objects.map(parseColorObject);
  return [
    set(
      {
        name: 'animal-animal',
        label: 'Animal-Animal',
        source: `${AE_SOURCE} "animals" (66 pairs of 12 animals), ${AE_VERBATIM}.`,
        reconstructed: false,
      },
      animalAnimal,
    ),
    set(
      {
        name: 'animal-object',
        label: 'Animal-Object',
        source: `${AE_SOURCE} "animals_objects" (144 prompts, 36 with "with"), ${AE_VERBATIM}.`,
        reconstructed: false,
        vocabulary: colorVocabulary,
      },
      aePrompts.animals_objects.map(parseAnimalObject),
    ),
    set(
      {
        name: 'color-object',
        label: 'Color-Object',
        source: `${AE_SOURCE} "objects" (66 prompts, A&E's Object-Object), ${AE_VERBATIM}.`,
        reconstructed: false,
        vocabulary: colorVocabulary,
      },
      colorObject,
    ),
    set(
      {
        name: 'animal-scene',
        label: 'Animal-Scene',
        source:
          `${RECONSTRUCTED}: A&E's 66 Animal-Animal prompts, each with one scene postfix from a fixed list of 8 (each used 8 or 9 ` +
          'times, in a seeded shuffle) that starts with the authors\' (" on the street,snowy driving scene", " in the library", ' +
          '" in the kitchen"); "a dog and a turtle" keeps the authors\' street scene.',
        reconstructed: true,
        vocabulary: sceneVocabulary,
      },
      animalScene(animalAnimal, rng),
    ),
    set(
      {
        name: 'color-obj-scene',
        label: 'Color-Obj-Scene',
        source:
          `${RECONSTRUCTED}: A&E's 66 Color-Object prompts, each with one scene postfix from the ` +
          "Animal-Scene list (in a seeded shuffle), followed by the authors' three examples as they wrote them.",
        reconstructed: true,
        vocabulary: { ...colorVocabulary, ...sceneVocabulary },
      },
      colorObjectScene(colorObject, rng),
    ),
    set(
      {
        name: 'multi-object',
        label: 'Multi-Object',
        source:
          `${RECONSTRUCTED}: two or three entities with stated counts (one to four) of A&E's animals and ` +
          'objects, "one cat and two dogs" and the authors\' "three geese floating in the middle of a river" first.',
        reconstructed: true,
        vocabulary: sceneVocabulary,
      },
      multiObject(rng),
    ),
  ];
}

/** File name -> contents, as the generator writes them. */
export function generatePromptSetFiles(inputs: GeneratorInputs): Map<string, string> {
  return new Map(generatePromptSets(inputs).map((set) => [`${set.name}.json`, formatPromptSetJson(set)]));
}

function withIdsAndTokens(tokenizer: ClipTokenizer, drafts: readonly Draft[]): BenchmarkPrompt[] {
  const ids = uniquePromptIds(drafts.map((draft) => draft.text));
  return drafts.map((draft, i) => {
    const prompt: BenchmarkPrompt = { id: ids[i], ...draft };
    return { ...prompt, ...structureTokenIndices(tokenizer, prompt) };
  });
}

function single(word: string): PromptObject {
  return { word, count: 1 };
}

function mismatch(prompt: string, template: string): never {
  throw new Error(`A&E prompt ${JSON.stringify(prompt)} does not follow the template "${template}"`);
}

function parseAnimalAnimal(text: string): Draft {
  const match = /^an? (\w+) and an? (\w+)$/.exec(text) ?? mismatch(text, 'a/an {A} and a/an {B}');
  return { text, objects: [single(match[1]), single(match[2])], attributes: [] };
}

function parseAnimalObject(text: string): Draft {
  const withObject = /^an? (\w+) with a (\w+)$/.exec(text);
  if (withObject) return { text, objects: [single(withObject[1]), single(withObject[2])], attributes: [] };
  const match = /^an? (\w+) and a (\w+) (\w+)$/.exec(text) ?? mismatch(text, 'a {A} and a {C} {O}');
  return { text, objects: [single(match[1]), single(match[3])], attributes: [{ word: match[2], object: 1 }] };
}

function parseColorObject(text: string): Draft {
  const match =
    /^an? (\w+) (\w+) and an? (\w+) (\w+)$/.exec(text) ?? mismatch(text, 'a {C} {O} and a {C} {O}');
  return {
    text,
    objects: [single(match[2]), single(match[4])],
    attributes: [
      { word: match[1], object: 0 },
      { word: match[3], object: 1 },
    ],
  };
}

function pick<T>(rng: Mt19937, items: readonly T[]): T {
  return items[rng.nextUint32() % items.length];
}

/**
 * One scene per prompt, each scene used equally often (to within one): the list repeated to the prompts'
 * number, then a seeded Fisher-Yates shuffle. `pinned` (prompt text -> scene) keeps the authors' examples'
 * scenes by swapping with another prompt that drew that scene.
 */
function balancedScenes(
  drafts: readonly Draft[],
  rng: Mt19937,
  pinned: Record<string, string> = {},
): Draft[] {
  const scenes = drafts.map((_, i) => SCENES[i % SCENES.length]);
  for (let i = scenes.length - 1; i > 0; i -= 1) {
    const j = rng.nextUint32() % (i + 1);
    [scenes[i], scenes[j]] = [scenes[j], scenes[i]];
  }
  for (const [i, draft] of drafts.entries()) {
    const wanted = pinned[draft.text];
    if (wanted === undefined || scenes[i].scene === wanted) continue;
    const other = scenes.findIndex(
      (scene, k) => scene.scene === wanted && pinned[drafts[k].text] === undefined,
    );
    [scenes[i], scenes[other]] = [scenes[other], scenes[i]];
  }
  return drafts.map((draft, i) => withScene(draft, scenes[i]));
}

function withScene(draft: Draft, scene: ScenePostfix): Draft {
  return { ...draft, text: `${draft.text}${scene.postfix}`, scene: scene.scene };
}

function sceneOf(scene: string): ScenePostfix {
  return SCENES.find((candidate) => candidate.scene === scene)!;
}

function animalScene(animalAnimal: readonly Draft[], rng: Mt19937): Draft[] {
  // The authors' example (DB-nb-ex cell 6) keeps its street scene.
  return balancedScenes(animalAnimal, rng, { 'a dog and a turtle': 'street' });
}

function colorObjectScene(colorObject: readonly Draft[], rng: Mt19937): Draft[] {
  const examples: [string, string][] = [
    ['a purple dog and a green bench', 'street'],
    ['a black cat and a red suitcase', 'library'],
    ['a green backpack and a pink chair', 'kitchen'],
  ];
  return [
    ...balancedScenes(colorObject, rng),
    ...examples.map(([text, scene]) => withScene(parseColorObject(text), sceneOf(scene))),
  ];
}

/** One counted entity: the number word, then the noun in the number the count asks for. */
function counted(singular: string, plural: string, count: number): PromptObject {
  const countWord = COUNT_WORDS[count - 1];
  return count === 1 ? { word: singular, count, countWord, plural } : { word: plural, count, countWord };
}

function entityText(object: PromptObject): string {
  return `${object.countWord} ${object.word}`;
}

/** How many of each kind Multi-Object draws, after its two fixed prompts (66 in all, like A&E's sets). */
const MULTI_OBJECT_DRAWS = { animalPairs: 32, animalObjectPairs: 16, animalTriples: 16 };

function multiObject(rng: Mt19937): Draft[] {
  const animals = Object.entries(ANIMAL_PLURALS);
  const objects = Object.entries(OBJECT_PLURALS);
  const drafts: Draft[] = [
    {
      text: 'one cat and two dogs',
      objects: [counted('cat', 'cats', 1), counted('dog', 'dogs', 2)],
      attributes: [],
    },
    {
      text: 'three geese floating in the middle of a river',
      objects: [counted('goose', 'geese', 3)],
      attributes: [],
      scene: 'river',
    },
  ];
  const texts = new Set(drafts.map((draft) => draft.text));
  const draw = (times: number, kinds: (readonly [string, string][])[]): void => {
    for (let made = 0; made < times; ) {
      const nouns: [string, string][] = [];
      for (const kind of kinds) {
        let noun = pick(rng, kind);
        while (nouns.some(([singular]) => singular === noun[0])) noun = pick(rng, kind);
        nouns.push(noun);
      }
      // Counts of one to four, not all one: every prompt asks the model to count.
      let counts = nouns.map(() => 1 + (rng.nextUint32() % COUNT_WORDS.length));
      while (counts.every((count) => count === 1))
        counts = nouns.map(() => 1 + (rng.nextUint32() % COUNT_WORDS.length));
      const entities = nouns.map(([singular, plural], i) => counted(singular, plural, counts[i]));
      const parts = entities.map(entityText);
      const text = `${parts.slice(0, -1).join(', ')} and ${parts[parts.length - 1]}`;
      if (texts.has(text)) continue;
      texts.add(text);
      drafts.push({ text, objects: entities, attributes: [] });
      made += 1;
    }
  };
  draw(MULTI_OBJECT_DRAWS.animalPairs, [animals, animals]);
  draw(MULTI_OBJECT_DRAWS.animalObjectPairs, [animals, objects]);
  draw(MULTI_OBJECT_DRAWS.animalTriples, [animals, animals, animals]);
  return drafts;
}

/** The repository's inputs: A&E's list and the SD tokenizer from test/fixtures. */
export function repositoryInputs(
  root = fileURLToPath(new URL('../../../', import.meta.url)),
): GeneratorInputs {
  const fixtures = join(root, 'test', 'fixtures');
  return {
    aePrompts: JSON.parse(readFileSync(join(fixtures, 'prompts', 'ae_prompts.json'), 'utf8')) as AePrompts,
    tokenizer: ClipTokenizer.fromFolder(join(fixtures, 'tokenizer')),
  };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const folder = fileURLToPath(new URL('.', import.meta.url));
  for (const [file, text] of generatePromptSetFiles(repositoryInputs())) {
    writeFileSync(join(folder, file), text);
    process.stdout.write(`wrote src/benchmark/sets/${file}\n`);
  }
}
