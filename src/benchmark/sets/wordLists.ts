/**
 * The fixed word lists the shipped prompt sets are made of. A&E's lists are the words of its 276 prompts
 * (ALGORITHM.md §8.1); the scene postfixes and count words are the reconstruction's own (ALGORITHM.md §8.2:
 * the D&B authors' lists are not public), starting from the three postfixes in the authors' examples.
 */

/** A&E's 12 animals, with the plurals Multi-Object counts them with. */
export const ANIMAL_PLURALS: Readonly<Record<string, string>> = {
  bear: 'bears',
  bird: 'birds',
  cat: 'cats',
  dog: 'dogs',
  elephant: 'elephants',
  frog: 'frogs',
  horse: 'horses',
  lion: 'lions',
  monkey: 'monkeys',
  mouse: 'mice',
  rabbit: 'rabbits',
  turtle: 'turtles',
};

/** A&E's objects that read well in the plural (bow, crown and glasses are left out: "two glasses" is ambiguous). */
export const OBJECT_PLURALS: Readonly<Record<string, string>> = {
  apple: 'apples',
  backpack: 'backpacks',
  balloon: 'balloons',
  bench: 'benches',
  bowl: 'bowls',
  car: 'cars',
  chair: 'chairs',
  clock: 'clocks',
  suitcase: 'suitcases',
};

/** A&E's 11 colours: the choices of every "what color is the …?" question. */
export const COLORS: readonly string[] = [
  'black',
  'blue',
  'brown',
  'gray',
  'green',
  'orange',
  'pink',
  'purple',
  'red',
  'white',
  'yellow',
];

/** A scene as the prompt appends it, and the place noun its location questions ask about. */
export interface ScenePostfix {
  postfix: string;
  scene: string;
}

/**
 * The scene postfixes. The first three are the authors' own (DB-nb-ex cell 6 and the paper's figures),
 * spelled as they are, "street,snowy" without a space included; the rest are places of the same kind, each
 * after a preposition that sets a background (in, on) rather than a second object.
 */
export const SCENES: readonly ScenePostfix[] = [
  { postfix: ' on the street,snowy driving scene', scene: 'street' },
  { postfix: ' in the library', scene: 'library' },
  { postfix: ' in the kitchen', scene: 'kitchen' },
  { postfix: ' in the forest', scene: 'forest' },
  { postfix: ' on the beach', scene: 'beach' },
  { postfix: ' in the desert', scene: 'desert' },
  { postfix: ' in the bedroom', scene: 'bedroom' },
  { postfix: ' in the park', scene: 'park' },
];

/** Count words for Multi-Object, as in the authors' "one cat and two dogs" and "three geese". */
export const COUNT_WORDS: readonly string[] = ['one', 'two', 'three', 'four'];
