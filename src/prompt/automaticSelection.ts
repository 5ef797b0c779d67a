/**
 * Automatic choice of object and attribute words: the nouns a user expects to see, and the colour,
 * material or texture that modifies each. The rules (also in src/prompt/README.md):
 *
 * 1. Clauses. The prompt is cut at clause punctuation (, ; : . ! ? |). The first clause is read; a
 *    later clause only when it opens with a determiner or a number word ("a cat, a dog and two birds").
 *    Other clauses are style or scene tails ("Style-Empire, high quality, 8k UHD", "snowy driving
 *    scene") and give no objects.
 * 2. Noun phrases. A phrase is an optional determiner or number word, then modifiers and nouns; its
 *    head is its last noun ("three geese" -> geese, "two dogs" -> dogs, "a orange apple" -> apple,
 *    "a fire truck" -> truck). The word after a determiner belongs to the phrase whatever the tagger
 *    says ("a bear", "the flash"). An -ing word right after a noun ends the phrase: it is a participle
 *    ("the ironman cooking ...", "a train driving ...").
 * 3. Roles. A phrase's head is an object unless the phrase follows a context preposition (in, on, at,
 *    of, from, for, ... : "on the street", "in the library", "in the middle of a river"), which makes it
 *    setting; a relation preposition (with + determiner, under, down, behind, next to, ...), a
 *    conjunction or a verb makes the next phrase an object again ("in kitchen with a dog" -> dog,
 *    "down the tracks under a bridge" -> tracks, bridge).
 * 4. Features. "with" + a phrase without a determiner describes the previous object ("the flash with
 *    green suit"): its noun is not an object, and its attribute word becomes that object's attribute.
 * 5. Frames. "a photo of a cat", "a group of dogs": a frame noun followed by "of" gives way to the noun
 *    after "of". Style nouns ("quality", "8k", "hd") and pronouns are never objects.
 * 6. Attributes. An object's attribute is the attribute word (colour, material, texture) nearest
 *    before its head in its phrase, else the one of its feature phrase, else none.
 */
import type { ClipEncoding } from '../models/clipTokenizer.ts';
import { isGerundWord, type PartOfSpeech, tagWords } from './partOfSpeech.ts';
import {
  ATTRIBUTE_WORDS,
  CONJUNCTIONS,
  CONTEXT_PREPOSITIONS,
  DETERMINERS,
  FRAME_NOUNS,
  isClauseBreak,
  isDigit,
  isPunctuation,
  PRONOUNS,
  QUANTIFIERS,
  RELATION_PHRASES,
  RELATION_PREPOSITIONS,
  STYLE_NOUNS,
} from './wordClasses.ts';

/** An object word and its attribute word, as indices into `encoding.words`. */
export interface AutomaticChoice {
  objectWord: number;
  attributeWord: number | null;
}

interface TaggedWord {
  text: string;
  partOfSpeech: PartOfSpeech;
  /** Index into `encoding.words`. */
  wordIndex: number;
}

interface NounPhrase {
  head: TaggedWord;
  attribute: TaggedWord | null;
  /** Index in the clause just after the phrase. */
  end: number;
}

/** What the next noun phrase is: a thing to draw, setting, or a feature of the previous object. */
type Role = 'object' | 'context' | 'feature';

/** Objects in prompt order, each with its attribute word; empty when the prompt names no object. */
export function chooseObjectsAndAttributes(encoding: ClipEncoding): AutomaticChoice[] {
  const choices: AutomaticChoice[] = [];
  for (const [clauseIndex, clause] of clausesOf(encoding).entries()) {
    const opener = clause[0].text;
    if (clauseIndex === 0 || DETERMINERS.has(opener) || QUANTIFIERS.has(opener)) {
      choices.push(...readClause(clause));
    }
  }
  return choices;
}

/** The prompt's words, tagged, cut into clauses at clause punctuation and typed special tokens. */
function clausesOf(encoding: ClipEncoding): TaggedWord[][] {
  const ordinary = encoding.words.flatMap((word, wordIndex) => (word.special ? [] : [{ word, wordIndex }]));
  const tags = tagWords(
    ordinary.map(({ word }) => word),
    encoding.cleanedText,
  );
  const tagOf = new Map(ordinary.map(({ wordIndex }, i) => [wordIndex, tags[i]]));

  const clauses: TaggedWord[][] = [];
  let clause: TaggedWord[] = [];
  for (const [wordIndex, word] of encoding.words.entries()) {
    if (word.special || isClauseBreak(word.text)) {
      if (clause.length > 0) clauses.push(clause);
      clause = [];
    } else {
      clause.push({ text: word.text, partOfSpeech: tagOf.get(wordIndex) ?? 'other', wordIndex });
    }
  }
  if (clause.length > 0) clauses.push(clause);
  return clauses;
}

function readClause(clause: readonly TaggedWord[]): AutomaticChoice[] {
  const choices: AutomaticChoice[] = [];
  let role: Role = 'object';
  let i = 0;
  while (i < clause.length) {
    const word = clause[i];
    const relationPhrase = relationPhraseLength(clause, i);
    if (relationPhrase > 0) {
      role = 'object';
      i += relationPhrase;
      continue;
    }
    if (word.text === 'with') {
      role = opensPhraseWithDeterminer(clause[i + 1]) ? 'object' : 'feature';
      i += 1;
      continue;
    }
    if (CONJUNCTIONS.has(word.text) || RELATION_PREPOSITIONS.has(word.text)) {
      role = 'object';
      i += 1;
      continue;
    }
    if (CONTEXT_PREPOSITIONS.has(word.text)) {
      role = 'context';
      i += 1;
      continue;
    }
    if (isPronoun(word)) {
      i += 1;
      continue;
    }

    const phrase = readNounPhrase(clause, i);
    if (phrase === null) {
      // A verb or participle: its object ("a dog chasing a cat") is a thing to draw again.
      if (isVerbLike(word)) role = 'object';
      i += 1;
      continue;
    }
    i = phrase.end;
    if (role === 'object' && FRAME_NOUNS.has(phrase.head.text) && clause[i]?.text === 'of') {
      i += 1;
      continue;
    }
    if (role === 'object' && !STYLE_NOUNS.has(phrase.head.text)) {
      choices.push({ objectWord: phrase.head.wordIndex, attributeWord: phrase.attribute?.wordIndex ?? null });
    } else if (role === 'feature') {
      const owner = choices[choices.length - 1];
      if (owner !== undefined && owner.attributeWord === null && phrase.attribute !== null) {
        owner.attributeWord = phrase.attribute.wordIndex;
      }
    }
  }
  return choices;
}

/** Length of a multi-word relation preposition ("in front of", "next to") starting at `i`, or 0. */
function relationPhraseLength(clause: readonly TaggedWord[], i: number): number {
  const phrase = RELATION_PHRASES.find((words) => words.every((text, k) => clause[i + k]?.text === text));
  return phrase?.length ?? 0;
}

function opensPhraseWithDeterminer(word: TaggedWord | undefined): boolean {
  return (
    word !== undefined && (DETERMINERS.has(word.text) || QUANTIFIERS.has(word.text) || isDigit(word.text))
  );
}

function isPronoun(word: TaggedWord): boolean {
  return PRONOUNS.has(word.text) || word.partOfSpeech === 'pronoun';
}

function isVerbLike(word: TaggedWord): boolean {
  return word.partOfSpeech === 'verb' || word.partOfSpeech === 'gerund' || isGerundWord(word.text);
}

/** Words that structure a clause and never sit inside a noun phrase. */
function isStructureWord(word: TaggedWord): boolean {
  return (
    DETERMINERS.has(word.text) ||
    QUANTIFIERS.has(word.text) ||
    CONJUNCTIONS.has(word.text) ||
    CONTEXT_PREPOSITIONS.has(word.text) ||
    RELATION_PREPOSITIONS.has(word.text) ||
    isPronoun(word)
  );
}

function isModifierOrNoun(word: TaggedWord): boolean {
  return word.partOfSpeech === 'noun' || word.partOfSpeech === 'adjective' || ATTRIBUTE_WORDS.has(word.text);
}

/** The noun phrase starting at `start`, or null when no phrase starts there. */
function readNounPhrase(clause: readonly TaggedWord[], start: number): NounPhrase | null {
  let i = start;
  let determined = false;
  while (i < clause.length && opensPhraseWithDeterminer(clause[i])) {
    determined = true;
    i += 1;
  }

  const members: TaggedWord[] = [];
  while (i < clause.length) {
    const word = clause[i];
    const previous = members[members.length - 1];
    if (relationPhraseLength(clause, i) > 0 || isStructureWord(word)) break;
    if (isPunctuation(word.text)) {
      // A hyphen inside a phrase ("red-haired girl") joins; anything else ends it.
      if (previous === undefined || clause[i + 1] === undefined || !isModifierOrNoun(clause[i + 1])) break;
      i += 1;
      continue;
    }
    if (members.length === 0 && determined) {
      // A determiner is followed by a nominal, whatever the tagger thinks ("a bear", "the flash").
      members.push(word);
    } else if (isGerundWord(word.text) || word.partOfSpeech === 'gerund') {
      // Before a noun an -ing word is a modifier ("a swimming pool"); after one, a participle.
      if (previous === undefined || previous.partOfSpeech === 'noun') break;
      members.push(word);
    } else if (isModifierOrNoun(word)) {
      members.push(word);
    } else if (
      word.partOfSpeech === 'adverb' &&
      clause[i + 1] !== undefined &&
      isModifierOrNoun(clause[i + 1])
    ) {
      members.push(word); // "a very red apple"
    } else {
      break;
    }
    i += 1;
  }

  const head = findHead(members, determined);
  if (head === undefined) return null;
  const beforeHead = members.slice(0, members.indexOf(head));
  const attribute = beforeHead.findLast((word) => ATTRIBUTE_WORDS.has(word.text)) ?? null;
  return { head, attribute, end: i };
}

/** The last noun; after a determiner, the last non-adverb word when the tagger found no noun. */
function findHead(members: readonly TaggedWord[], determined: boolean): TaggedWord | undefined {
  const noun = members.findLast(
    (word) => word.partOfSpeech === 'noun' && !isAttributeBeforeNoun(members, word),
  );
  if (noun !== undefined) return noun;
  return determined ? members.findLast((word) => word.partOfSpeech !== 'adverb') : undefined;
}

/** An attribute word tagged a noun, with a further word after it, is a modifier ("a glass vase"). */
function isAttributeBeforeNoun(members: readonly TaggedWord[], word: TaggedWord): boolean {
  return ATTRIBUTE_WORDS.has(word.text) && members.indexOf(word) < members.length - 1;
}
