/**
 * A benchmark prompt set: prompts that carry their structure (objects with counts, attributes and the object
 * each modifies, the scene), so token indices and TIFA-style questions are derived from it rather than guessed.
 */

/** One entity of a prompt: "two dogs" is { word: 'dogs', count: 2, countWord: 'two' }. */
export interface PromptObject {
  /** The noun as written in the prompt (plural when count > 1), e.g. "dogs", "geese", "elephant". */
  word: string;
  count: number;
  /** The number word the prompt states the count with ("one", "three"); absent when only an article does. */
  countWord?: string;
  /** The noun's plural, for questions about a stated count of one ("one cat" -> "how many cats are there?"). */
  plural?: string;
}

/** An attribute word ("black") and the index, in `objects`, of the object it modifies. */
export interface PromptAttribute {
  word: string;
  object: number;
}

/** A question with its choices and correct answer, as TIFA v1.0 stores them. */
export interface TifaQuestion {
  question: string;
  choices: string[];
  answer: string;
  /** TIFA's element type: object, animal/human, counting, color, location, … */
  category?: string;
  /** The prompt element the question is about. */
  element?: string;
}

/**
 * Where a prompt's structure comes from: `template` (the set's generator built the prompt from it), `automatic`
 * (`dnb benchmark import` inferred it with the automatic token selection), `given` (the imported file gave the
 * token indices; the words are read off them), `none` (no structure: the generation chooses tokens
 * automatically with the model's tokenizer, as for TIFA v1.0's free-form captions).
 */
export type StructureSource = 'template' | 'automatic' | 'given' | 'none';

export interface BenchmarkPrompt {
  /** Unique within its set and stable across releases; also the image folder name. */
  id: string;
  text: string;
  /** The objects to guide, in prompt order; empty when the structure is unknown (`structureSource: 'none'`). */
  objects: PromptObject[];
  attributes: PromptAttribute[];
  /** The place the prompt sets its objects in, as a noun ("street", "library"); not an object to guide. */
  scene?: string;
  /** Guidance token indices (official numbering, 0 = start token); from the structure when absent. */
  tokenIndices?: number[];
  /** Aligned with `tokenIndices`, 0 = no attribute; absent when the prompt binds no attribute. */
  attributeIndices?: number[];
  /** Questions given with the prompt (TIFA v1.0); templated sets derive theirs from the structure. */
  questions?: TifaQuestion[];
  /** Where the structure comes from; `template` when absent. */
  structureSource?: StructureSource;
  /** The category file a prompt was imported from (the authors' zip holds one file per category). */
  category?: string;
}

export interface PromptSet {
  /** What `--set` takes, e.g. `animal-animal`. */
  name: string;
  /** As the paper names it, e.g. `Animal-Animal`. */
  label: string;
  /** Where the prompts come from, said in reports. */
  source: string;
  /** True for the D&B sets rebuilt from the paper's description (the authors' lists were not reachable). */
  reconstructed: boolean;
  /** How the file was made, when a program made it (the generator script and its seed, the import command). */
  generatedBy?: string;
  /** Answer choices the set's structured questions draw from (its colour words and scene nouns). */
  vocabulary?: { colors?: string[]; scenes?: string[] };
  prompts: BenchmarkPrompt[];
}

/** A file of several sets (`dnb benchmark import` of a zip with one file per category). */
export interface PromptSetCollection {
  sets: PromptSet[];
}
