import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import type { PromptSet } from '../../src/benchmark/promptSet.ts';
import { listPromptSets, loadPromptFile, loadPromptSet } from '../../src/benchmark/promptSets.ts';
import {
  type AePrompts,
  generatePromptSetFiles,
  repositoryInputs,
} from '../../src/benchmark/sets/generate.ts';
import { SCENES } from '../../src/benchmark/sets/wordLists.ts';
import { UserError } from '../../src/errors.ts';
import { selectTokens } from '../../src/prompt/index.ts';
import { tempDir } from '../helpers/fixtures.ts';
import { sd15Tokenizer } from '../tokenizer/fixtures.ts';

const SETS_FOLDER = fileURLToPath(new URL('../../src/benchmark/sets/', import.meta.url));
const AE = JSON.parse(
  readFileSync(new URL('../fixtures/prompts/ae_prompts.json', import.meta.url), 'utf8'),
) as AePrompts;
const SHIPPED = [
  'animal-animal',
  'animal-object',
  'color-object',
  'animal-scene',
  'color-obj-scene',
  'multi-object',
];

async function shipped(): Promise<PromptSet[]> {
  return Promise.all(SHIPPED.map((name) => loadPromptSet(name)));
}

async function userError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserError);
  return (error as UserError).message;
}

describe('the shipped prompt sets', () => {
  it('are what the seeded generator writes, byte for byte', () => {
    const generated = generatePromptSetFiles(repositoryInputs());
    const onDisk = readdirSync(SETS_FOLDER).filter((file) => file.endsWith('.json'));
    expect(onDisk.sort()).toEqual([...generated.keys()].sort());
    for (const [file, text] of generated) {
      expect(
        readFileSync(join(SETS_FOLDER, file), 'utf8'),
        `${file}: run npx tsx src/benchmark/sets/generate.ts`,
      ).toBe(text);
    }
  });

  it('keep A&E’s 276 prompts verbatim, in order, slips included', async () => {
    const [animalAnimal, animalObject, colorObject] = await shipped();
    expect(animalAnimal.prompts.map((p) => p.text)).toEqual(AE.animals);
    expect(animalObject.prompts.map((p) => p.text)).toEqual(AE.animals_objects);
    expect(colorObject.prompts.map((p) => p.text)).toEqual(AE.objects);
    expect([animalAnimal, animalObject, colorObject].map((set) => set.prompts.length)).toEqual([66, 144, 66]);
    const texts = [animalAnimal, animalObject, colorObject].flatMap((set) => set.prompts.map((p) => p.text));
    for (const slip of [
      'an elephant and a rabbit',
      'a monkey and a orange apple',
      'a horse with a glasses',
    ]) {
      expect(texts).toContain(slip);
    }
    for (const set of [animalAnimal, animalObject, colorObject]) expect(set.reconstructed).toBe(false);
  });

  it('give every prompt its structure: two objects, and A&E’s colours bound to the object after them', async () => {
    const [animalAnimal, animalObject, colorObject] = await shipped();
    expect(animalAnimal.prompts[0]).toMatchObject({
      text: 'an elephant and a rabbit',
      objects: [
        { word: 'elephant', count: 1 },
        { word: 'rabbit', count: 1 },
      ],
      attributes: [],
      tokenIndices: [2, 5],
    });
    expect(animalObject.prompts.find((p) => p.text === 'a monkey and a red car')).toMatchObject({
      objects: [{ word: 'monkey' }, { word: 'car' }],
      attributes: [{ word: 'red', object: 1 }],
      tokenIndices: [2, 6],
      attributeIndices: [0, 5],
    });
    // The same colour twice: each object gets its own occurrence.
    expect(colorObject.prompts.find((p) => p.text === 'a blue clock and a blue apple')).toMatchObject({
      attributes: [
        { word: 'blue', object: 0 },
        { word: 'blue', object: 1 },
      ],
      tokenIndices: [3, 7],
      attributeIndices: [2, 6],
    });
  });

  it('point every token index at its structure word (SD tokenizer)', async () => {
    const tokenizer = sd15Tokenizer();
    for (const set of await shipped()) {
      for (const prompt of set.prompts) {
        const { tokenIndices, attributeIndices } = prompt;
        const chosen = selectTokens(tokenizer, prompt.text, { tokenIndices, attributeIndices });
        expect(
          chosen.objects.map((token) => token.word),
          prompt.text,
        ).toEqual(prompt.objects.map((o) => o.word));
        const attributeWords = prompt.objects.map(
          (_, k) => prompt.attributes.find((a) => a.object === k)?.word,
        );
        expect(
          chosen.attributes.map((token) => token?.word),
          prompt.text,
        ).toEqual(attributeWords);
      }
    }
  });

  it('agree with the automatic token selection on all 477 prompts (the structure would win where not)', async () => {
    const tokenizer = sd15Tokenizer();
    const disagreements: string[] = [];
    let prompts = 0;
    for (const set of await shipped()) {
      for (const prompt of set.prompts) {
        prompts += 1;
        const automatic = selectTokens(tokenizer, prompt.text);
        const attributes = prompt.attributeIndices ?? prompt.tokenIndices!.map(() => 0);
        if (
          JSON.stringify([automatic.tokenIndices, automatic.attributeIndices]) !==
          JSON.stringify([prompt.tokenIndices, attributes])
        ) {
          disagreements.push(`${set.name}: ${prompt.text}`);
        }
      }
    }
    expect(prompts).toBe(477);
    // Measured: none. Every scene follows "in"/"on", which the automatic selection reads as setting.
    expect(disagreements).toEqual([]);
  });
});

describe('the reconstructed D&B sets', () => {
  it('say they are reconstructions and hold the authors’ examples as they wrote them', async () => {
    const sets = await shipped();
    const byName = new Map(sets.map((set) => [set.name, set]));
    for (const name of ['animal-scene', 'color-obj-scene', 'multi-object']) {
      const set = byName.get(name)!;
      expect(set.reconstructed).toBe(true);
      expect(set.source).toMatch(/^Reconstruction of the Divide & Bind/);
      expect(set.generatedBy).toBe('src/benchmark/sets/generate.ts (seed 2023)');
    }
    const texts = (name: string) => byName.get(name)!.prompts.map((p) => p.text);
    expect(texts('animal-scene')).toContain('a dog and a turtle on the street,snowy driving scene');
    for (const example of [
      'a purple dog and a green bench on the street,snowy driving scene',
      'a black cat and a red suitcase in the library',
      'a green backpack and a pink chair in the kitchen',
    ]) {
      expect(texts('color-obj-scene')).toContain(example);
    }
    expect(texts('multi-object').slice(0, 2)).toEqual([
      'one cat and two dogs',
      'three geese floating in the middle of a river',
    ]);
  });

  it('append one scene postfix to each A&E prompt, every scene used 8 or 9 times', async () => {
    const [, , , animalScene, colorObjScene] = await shipped();
    const cases: [PromptSet, string[]][] = [
      [animalScene, AE.animals],
      [colorObjScene, AE.objects],
    ];
    for (const [set, base] of cases) {
      const uses = new Map<string, number>();
      for (const [i, text] of base.entries()) {
        const prompt = set.prompts[i];
        const scene = SCENES.find((candidate) => candidate.scene === prompt.scene)!;
        expect(prompt.text).toBe(`${text}${scene.postfix}`);
        uses.set(scene.scene, (uses.get(scene.scene) ?? 0) + 1);
      }
      expect(
        [...uses.values()].every((n) => n === 8 || n === 9),
        JSON.stringify([...uses]),
      ).toBe(true);
      expect(uses.size).toBe(SCENES.length);
    }
    expect(colorObjScene.prompts).toHaveLength(69);
  });

  it('count Multi-Object entities as their number words say, 66 distinct prompts', async () => {
    const multi = await loadPromptSet('multi-object');
    expect(multi.prompts).toHaveLength(66);
    expect(new Set(multi.prompts.map((p) => p.text)).size).toBe(66);
    const numbers: Record<string, number> = { one: 1, two: 2, three: 3, four: 4 };
    for (const prompt of multi.prompts) {
      expect(prompt.objects.length, prompt.text).toBeGreaterThanOrEqual(1);
      expect(
        prompt.objects.some((o) => o.count > 1),
        prompt.text,
      ).toBe(true);
      for (const object of prompt.objects) {
        expect(numbers[object.countWord!], prompt.text).toBe(object.count);
        expect(prompt.text).toContain(`${object.countWord} ${object.word}`);
        if (object.count === 1) expect(object.plural, prompt.text).toBeDefined();
      }
    }
  });
});

describe('loading sets and prompt-set files', () => {
  it('lists the shipped sets with their sizes, and TIFA v1.0 as a download', () => {
    expect(listPromptSets()).toEqual([
      { name: 'animal-animal', label: 'Animal-Animal', size: 66, reconstructed: false, download: false },
      { name: 'animal-object', label: 'Animal-Object', size: 144, reconstructed: false, download: false },
      { name: 'color-object', label: 'Color-Object', size: 66, reconstructed: false, download: false },
      { name: 'animal-scene', label: 'Animal-Scene', size: 66, reconstructed: true, download: false },
      { name: 'color-obj-scene', label: 'Color-Obj-Scene', size: 69, reconstructed: true, download: false },
      { name: 'multi-object', label: 'Multi-Object', size: 66, reconstructed: true, download: false },
      { name: 'tifa-v1.0', label: 'TIFA v1.0', reconstructed: false, download: true },
    ]);
  });

  it('refuses an unknown set name, listing the known ones', async () => {
    const message = await userError(loadPromptSet('animal_animal'));
    expect(message).toBe(
      'unknown prompt set "animal_animal"; the known sets are animal-animal, animal-object, color-object, ' +
        'animal-scene, color-obj-scene, multi-object, tifa-v1.0 (or give a prompt-set file with --prompts FILE)',
    );
  });

  it('gives each caller its own copy', async () => {
    const first = await loadPromptSet('animal-animal');
    first.prompts[0].text = 'changed';
    expect((await loadPromptSet('animal-animal')).prompts[0].text).toBe('an elephant and a rabbit');
  });

  it('reads a prompt-set file back as it was written', async () => {
    const folder = tempDir();
    const set = await loadPromptSet('color-obj-scene');
    writeFileSync(join(folder, 'one.json'), JSON.stringify(set));
    writeFileSync(join(folder, 'two.json'), JSON.stringify({ sets: [set, { ...set, name: 'copy' }] }));
    expect(await loadPromptFile(join(folder, 'one.json'))).toEqual([set]);
    expect((await loadPromptFile(join(folder, 'two.json'))).map((s) => s.name)).toEqual([
      'color-obj-scene',
      'copy',
    ]);
  });

  it('refuses malformed prompt-set files with the field that is wrong', async () => {
    const folder = tempDir();
    const write = (name: string, text: string) => {
      writeFileSync(join(folder, name), text);
      return join(folder, name);
    };
    const prompt = { id: 'a_cat', text: 'a cat', objects: [{ word: 'cat', count: 1 }], attributes: [] };
    const cases: [string, string, RegExp][] = [
      ['text.json', 'a cat\na dog\n', /is not JSON .*dnb benchmark import FILE --out FILE\.json/],
      ['list.json', '["a cat"]', /is not a prompt-set file: it is a JSON list/],
      ['empty.json', '{"name": "x", "prompts": []}', /prompts must be a non-empty list/],
      [
        'attribute.json',
        JSON.stringify({ name: 'x', prompts: [{ ...prompt, attributes: [{ word: 'red', object: 1 }] }] }),
        /prompts\[0\]\.attributes\[0\]\.object must be the index of one of the prompt's 1 objects/,
      ],
      [
        'indices.json',
        JSON.stringify({ name: 'x', prompts: [{ ...prompt, tokenIndices: [0, 2] }] }),
        /prompts\[0\]\.tokenIndices must be a non-empty list of whole numbers ≥ 1/,
      ],
      [
        'twice.json',
        JSON.stringify({ name: 'x', prompts: [prompt, prompt] }),
        /prompts\[1\]\.id "a_cat" is used twice/,
      ],
      [
        'id.json',
        JSON.stringify({ name: 'x', prompts: [{ ...prompt, id: '../up' }] }),
        /id "\.\.\/up" must be/,
      ],
    ];
    for (const [name, text, expected] of cases) {
      expect(await userError(loadPromptFile(write(name, text))), name).toMatch(expected);
    }
    expect(await userError(loadPromptFile(join(folder, 'missing.json')))).toMatch(/cannot read .*ENOENT/);
  });
});
