/**
 * What the studio's page and server say to each other. Types only, so the page (web/) can import them and the
 * import vanishes when the page is transpiled.
 */
import type { Method } from '../guidance/methods/index.ts';
import type { GuidanceTrace } from '../pipeline/trace.ts';

/** The methods of the registry (src/guidance/methods/), plain SD first. */
export type StudioMethod = Method;

/** GET /api/info: the loaded model and the methods the page offers, named by the registry. */
export interface StudioInfo {
  model: string;
  /** The model family's label, e.g. "SDXL". */
  family: string;
  height: number;
  width: number;
  methods: { name: StudioMethod; label: string }[];
  /** The benchmark run the studio shows (`dnb studio --benchmark DIR`), or null. */
  benchmark: string | null;
}

/** Tokens by word or by official index (start token = 0), as `GenerationRequest.tokens`. */
export interface StudioTokenSpec {
  objects?: string[];
  attributes?: string[];
  tokenIndices?: number[];
  attributeIndices?: number[];
}

/** The body of POST /api/generate. */
export interface StudioGenerateBody {
  prompt: string;
  negativePrompt?: string;
  methods: StudioMethod[];
  /** Default: drawn at random once, so every method starts from the same noise. */
  seed?: number;
  steps?: number;
  guidanceScale?: number;
  scheduler?: 'pndm' | 'ddim' | 'euler' | 'euler-a' | 'dpm++';
  tokens?: StudioTokenSpec;
}

export interface StudioToken {
  index: number;
  token: string;
  word: string;
}

/** GET /api/tokens?prompt=... */
export interface StudioTokensResponse {
  prompt: string;
  /** The prompt's own tokens (no start or end token), with official indices. */
  tokens: StudioToken[];
  endIndex: number;
  /** The automatic choice, or null when the prompt has no object noun. */
  automatic: { objects: StudioToken[]; attributes: (StudioToken | null)[] } | null;
  /** Text that truncation dropped, if any. */
  dropped: string | null;
}

/** One method's image and what the guidance did. */
export interface StudioMethodResult {
  method: StudioMethod;
  /** `data:image/png;base64,…` */
  image: string;
  width: number;
  height: number;
  /** Guided methods only; every step carries its maps [k, r, r]. */
  trace?: GuidanceTrace;
  /** Side r of the trace's maps. */
  mapResolution?: number;
  seconds: number;
}

/** One line of the NDJSON stream POST /api/generate answers with. */
export type StudioEvent =
  | { type: 'start'; seed: number; methods: StudioMethod[] }
  | { type: 'progress'; method: StudioMethod; step: number; total: number }
  | { type: 'warning'; message: string }
  | ({ type: 'result' } & StudioMethodResult)
  | { type: 'error'; message: string }
  | { type: 'done' };
