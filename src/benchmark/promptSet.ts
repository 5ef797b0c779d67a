/**
 * A benchmark prompt set: prompts that carry their structure (objects with counts, attributes and the object
 * each modifies, the scene), so token indices and TIFA-style questions are derived from it rather than guessed.
 */

/** One entity of a prompt: "two dogs" is { word: 'dogs', count: 2 }. */
export interface PromptObject {
  word: string;
  count: number;
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
  /** TIFA's element category: object, counting, color, location, … */
  category?: string;
  /** The prompt element the question is about. */
  element?: string;
}

export interface BenchmarkPrompt {
  /** Unique within its set and stable across releases; also the image folder name. */
  id: string;
  text: string;
  objects: PromptObject[];
  attributes: PromptAttribute[];
  scene?: string;
  /** Guidance token indices (official numbering, 0 = start token); from the structure when absent. */
  tokenIndices?: number[];
  attributeIndices?: number[];
  /** Questions given with the prompt (TIFA v1.0); templated sets derive theirs from the structure. */
  questions?: TifaQuestion[];
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
  prompts: BenchmarkPrompt[];
}
