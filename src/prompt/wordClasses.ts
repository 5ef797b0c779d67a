/**
 * Closed-class English words and small lexicons that automatic token selection reads prompts with.
 * The part-of-speech tagger decides open-class words (noun, adjective, verb); these lists decide the
 * words whose role in a prompt is fixed, because taggers get them wrong in prompt-style text (for
 * example, compromise tags "under" in "the tracks under a bridge" as an adjective).
 * All words are lower-case CLIP words (CLIP lower-cases prompts and splits off punctuation).
 */

import { NUMBER_WORDS } from './numberWords.ts';

/** Words that open a noun phrase: "a dog", "the tracks", "their car". */
export const DETERMINERS: ReadonlySet<string> = new Set([
  'a',
  'an',
  'the',
  'this',
  'that',
  'these',
  'those',
  'some',
  'any',
  'my',
  'your',
  'his',
  'her',
  'its',
  'our',
  'their',
  'every',
  'each',
  'another',
]);

/** Number words and quantifiers, which open a noun phrase like a determiner: "three geese", "two dogs". */
export const QUANTIFIERS: ReadonlySet<string> = new Set([
  ...NUMBER_WORDS.slice(1),
  'thirty',
  'forty',
  'fifty',
  'hundred',
  'hundreds',
  'thousand',
  'thousands',
  'dozen',
  'dozens',
  'both',
  'several',
  'many',
  'few',
  'multiple',
  'numerous',
  'various',
]);

/** Words that join two phrases; after one, the next noun phrase is a new object again. */
export const CONJUNCTIONS: ReadonlySet<string> = new Set(['and', 'or', 'nor', 'plus', '&', 'but', 'while']);

/**
 * Prepositions whose noun phrase is setting, not a further thing to draw: the place ("on the street",
 * "in the library", "in kitchen", "at the beach"), the time, purpose, origin, manner or comparison
 * ("by the sea", "for a party", "from mars", "like a painting", "without a tail"). Stable Diffusion
 * draws a setting as the background anyway, and the D&B authors never chose such nouns (ALGORITHM.md
 * §9.1: street, library, kitchen and river are left out).
 */
export const CONTEXT_PREPOSITIONS: ReadonlySet<string> = new Set([
  'in',
  'on',
  'at',
  'inside',
  'into',
  'onto',
  'within',
  'upon',
  'throughout',
  'amid',
  'amidst',
  'outside',
  'during',
  'from',
  'for',
  'to',
  'toward',
  'towards',
  'by',
  'via',
  'like',
  'as',
  'about',
  'without',
  'of',
]);

/**
 * Prepositions that relate the subject to a second thing of its own scale, which must appear too
 * ("with a dog", "down the tracks", "under a bridge", "next to a car"): their noun phrase is an
 * object. D&B's example #2 chooses "tracks" and "bridge" this way.
 */
export const RELATION_PREPOSITIONS: ReadonlySet<string> = new Set([
  'with',
  'under',
  'underneath',
  'beneath',
  'below',
  'over',
  'above',
  'behind',
  'beside',
  'besides',
  'near',
  'between',
  'among',
  'amongst',
  'around',
  'across',
  'along',
  'alongside',
  'down',
  'up',
  'past',
  'through',
  'against',
  'opposite',
  'beyond',
  'off',
  'atop',
  'versus',
  'vs',
]);

/** Multi-word prepositions that relate two things, read before their first word's own meaning. */
export const RELATION_PHRASES: readonly (readonly string[])[] = [
  ['in', 'front', 'of'],
  ['on', 'top', 'of'],
  ['next', 'to'],
  ['close', 'to'],
];

/** Pronouns never name a new object ("a dog looking at it"). */
export const PRONOUNS: ReadonlySet<string> = new Set([
  'i',
  'me',
  'you',
  'he',
  'him',
  'she',
  'it',
  'we',
  'us',
  'they',
  'them',
  'someone',
  'something',
  'everyone',
  'everything',
  'itself',
  'himself',
  'herself',
  'themselves',
]);

/**
 * Nouns that frame another noun: with "of" after them, the noun after "of" is the object
 * ("a photo of a cat" -> cat, "a group of dogs" -> dogs, "a pair of shoes" -> shoes).
 */
export const FRAME_NOUNS: ReadonlySet<string> = new Set([
  'photo',
  'photograph',
  'picture',
  'image',
  'painting',
  'drawing',
  'illustration',
  'sketch',
  'portrait',
  'render',
  'rendering',
  'closeup',
  'shot',
  'view',
  'group',
  'pair',
  'couple',
  'herd',
  'flock',
  'pack',
  'bunch',
  'crowd',
  'team',
  'family',
  'set',
  'lot',
  'kind',
  'type',
  'sort',
  'pile',
  'stack',
]);

/** Nouns about the picture rather than in it ("best quality", "8k UHD"), never objects. */
export const STYLE_NOUNS: ReadonlySet<string> = new Set([
  'quality',
  'resolution',
  'style',
  'detail',
  'details',
  'masterpiece',
  'lighting',
  'background',
  'artstation',
  'k',
  'hd',
  'uhd',
  'fhd',
  'hdr',
]);

/**
 * Attribute words D&B binds to an object: colours, materials and textures. A word here may be
 * tagged a noun ("a orange apple", "a glass vase"): before a noun it is still a modifier.
 */
export const ATTRIBUTE_WORDS: ReadonlySet<string> = new Set([
  // colours
  'red',
  'orange',
  'yellow',
  'green',
  'blue',
  'purple',
  'pink',
  'brown',
  'black',
  'white',
  'gray',
  'grey',
  'violet',
  'indigo',
  'cyan',
  'magenta',
  'turquoise',
  'teal',
  'beige',
  'maroon',
  'navy',
  'crimson',
  'scarlet',
  'lime',
  'olive',
  'tan',
  'ivory',
  'cream',
  'lavender',
  'lilac',
  'amber',
  'emerald',
  'azure',
  'khaki',
  'charcoal',
  'rainbow',
  'colorful',
  'colourful',
  'multicolored',
  'blond',
  'blonde',
  'reddish',
  'bluish',
  'greenish',
  'yellowish',
  'pinkish',
  'purplish',
  'brownish',
  'grayish',
  'greyish',
  // materials
  'gold',
  'golden',
  'silver',
  'bronze',
  'copper',
  'wooden',
  'wood',
  'metal',
  'metallic',
  'steel',
  'iron',
  'glass',
  'plastic',
  'stone',
  'marble',
  'leather',
  'wool',
  'woolen',
  'woollen',
  'cotton',
  'silk',
  'velvet',
  'denim',
  'paper',
  'ceramic',
  'porcelain',
  'concrete',
  'brick',
  'crystal',
  'rubber',
  'wicker',
  'bamboo',
  'clay',
  'ice',
  // textures and patterns
  'furry',
  'fluffy',
  'fuzzy',
  'hairy',
  'shiny',
  'glossy',
  'matte',
  'rough',
  'smooth',
  'striped',
  'spotted',
  'dotted',
  'checkered',
  'plaid',
  'patterned',
  'scaly',
  'feathered',
  'feathery',
  'knitted',
  'woven',
  'rusty',
  'transparent',
]);

/** Punctuation that ends a clause: what follows a comma is a new phrase, often a style tail. */
export function isClauseBreak(word: string): boolean {
  return /[,;:.!?|]/u.test(word) && !/[\p{L}\p{N}]/u.test(word);
}

/** A CLIP word without letters or digits (CLIP splits punctuation into words of its own). */
export function isPunctuation(word: string): boolean {
  return !/[\p{L}\p{N}]/u.test(word);
}

/** Digits: CLIP makes each digit its own word ("8k" -> "8", "k"). */
export function isDigit(word: string): boolean {
  return /^\p{N}$/u.test(word);
}
