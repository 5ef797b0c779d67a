import { UserError } from '../../errors.ts';

/**
 * The settings of a greedy or beam-search decode, with transformers 4.33's meaning (GenerationConfig). Lengths
 * count every token of the sequence, the prompt (decoder start token included) too.
 */
export interface GenerationConfig {
  /** `max_length`: the longest sequence, prompt included. */
  readonly maxLength: number;
  /** `max_new_tokens`: when set, the limit is prompt length + this, and `maxLength` is ignored. */
  readonly maxNewTokens?: number;
  /** `min_length`: end-of-sequence is blocked while the sequence is shorter. */
  readonly minLength: number;
  /** `min_new_tokens`: end-of-sequence is also blocked until this many tokens follow the prompt. */
  readonly minNewTokens?: number;
  /** `num_beams`: 1 = greedy search. */
  readonly numBeams: number;
  /** `length_penalty`: a finished beam scores sum of log-probs / length^lengthPenalty. */
  readonly lengthPenalty: number;
  /** `repetition_penalty`: 1 = none. */
  readonly repetitionPenalty: number;
  /** `early_stopping`: when beam search stops (see BeamHypotheses.isDone). */
  readonly earlyStopping: boolean | 'never';
  readonly eosTokenId: number;
  /** `pad_token_id`: pads shorter sequences of a batch; a single sequence never uses it. */
  readonly padTokenId: number;
}

/** The length limits of one decode, `max_new_tokens` and `min_new_tokens` resolved against the prompt. */
export interface LengthLimits {
  readonly maxLength: number;
  readonly minLength: number;
}

/**
 * transformers 4.33's GenerationConfig attributes with their class defaults. `supported`: what this decoder
 * implements; the others must keep their default (or null) because each would change the tokens generated
 * (another search strategy or another logits processor). The output options and the sampling warpers' values
 * (temperature, top_k, … without do_sample) do not change greedy or beam-search tokens.
 */
const ATTRIBUTES: Readonly<Record<string, { default: unknown; supported?: true; inert?: true }>> = {
  max_length: { default: 20, supported: true },
  max_new_tokens: { default: null, supported: true },
  min_length: { default: 0, supported: true },
  min_new_tokens: { default: null, supported: true },
  early_stopping: { default: false, supported: true },
  num_beams: { default: 1, supported: true },
  repetition_penalty: { default: 1.0, supported: true },
  length_penalty: { default: 1.0, supported: true },
  pad_token_id: { default: null, supported: true },
  eos_token_id: { default: null, supported: true },
  max_time: { default: null },
  do_sample: { default: false },
  num_beam_groups: { default: 1 },
  penalty_alpha: { default: null },
  diversity_penalty: { default: 0.0 },
  encoder_repetition_penalty: { default: 1.0 },
  no_repeat_ngram_size: { default: 0 },
  encoder_no_repeat_ngram_size: { default: 0 },
  bad_words_ids: { default: null },
  force_words_ids: { default: null },
  renormalize_logits: { default: false },
  constraints: { default: null },
  forced_bos_token_id: { default: null },
  forced_eos_token_id: { default: null },
  remove_invalid_values: { default: false },
  exponential_decay_length_penalty: { default: null },
  suppress_tokens: { default: null },
  begin_suppress_tokens: { default: null },
  forced_decoder_ids: { default: null },
  sequence_bias: { default: null },
  guidance_scale: { default: null },
  num_return_sequences: { default: 1 },
  use_cache: { default: true, inert: true },
  temperature: { default: 1.0, inert: true },
  top_k: { default: 50, inert: true },
  top_p: { default: 1.0, inert: true },
  typical_p: { default: 1.0, inert: true },
  epsilon_cutoff: { default: 0.0, inert: true },
  eta_cutoff: { default: 0.0, inert: true },
  output_attentions: { default: false, inert: true },
  output_hidden_states: { default: false, inert: true },
  output_scores: { default: false, inert: true },
  return_dict_in_generate: { default: false, inert: true },
  bos_token_id: { default: null, inert: true },
  decoder_start_token_id: { default: null, inert: true },
  generation_kwargs: { default: {}, inert: true },
};

type Json = Readonly<Record<string, unknown>>;
type Settings = Record<string, unknown>;

/** Python's == on JSON values (1 == 1.0; lists and dicts element-wise). */
function equal(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function classDefaults(): Settings {
  return Object.fromEntries(Object.entries(ATTRIBUTES).map(([key, a]) => [key, structuredClone(a.default)]));
}

/** The generation attributes present in a config dict over the class defaults (`GenerationConfig(**dict)`). */
function withDefaults(dict: Json): Settings {
  const settings = classDefaults();
  for (const key of Object.keys(ATTRIBUTES)) if (key in dict) settings[key] = dict[key];
  return settings;
}

/**
 * `GenerationConfig.from_model_config`: the model config's generation attributes, then, for an attribute still
 * at its class default, the value of a nested `decoder`, `generator` or `text_config` (BLIP's top-level config
 * gets bos/eos/pad from its text_config this way).
 */
function fromModelConfig(modelConfig: Json): Settings {
  const settings = withDefaults(modelConfig);
  for (const nested of ['decoder', 'generator', 'text_config']) {
    const inner = modelConfig[nested];
    if (inner === null || typeof inner !== 'object') continue;
    for (const key of Object.keys(ATTRIBUTES)) {
      if (key in inner && equal(settings[key], ATTRIBUTES[key].default)) {
        settings[key] = (inner as Json)[key];
      }
    }
  }
  return settings;
}

function invalid(key: string, value: unknown, expected: string): UserError {
  return new UserError(
    `generation setting "${key}" is ${JSON.stringify(value)}: expected ${expected} (set it in the overrides, ` +
      "the model's generation_config.json or config.json)",
  );
}

function integerAtLeast(settings: Settings, key: string, min: number): number {
  const value = settings[key];
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= min)) {
    throw invalid(key, value, `an integer ≥ ${min}`);
  }
  return value;
}

function optionalIntegerAtLeast(settings: Settings, key: string, min: number): number | undefined {
  return settings[key] === null || settings[key] === undefined
    ? undefined
    : integerAtLeast(settings, key, min);
}

/** A token id: an integer ≥ 0, or a list of one (transformers accepts lists of end-of-sequence ids). */
function tokenId(settings: Settings, key: string, fallback?: number): number {
  const raw = settings[key];
  const value = Array.isArray(raw) && raw.length === 1 ? raw[0] : raw;
  if ((value === null || value === undefined) && fallback !== undefined) return fallback;
  if (!(typeof value === 'number' && Number.isInteger(value) && value >= 0)) {
    throw invalid(
      key,
      raw,
      'a token id (an integer ≥ 0; a list of several end-of-sequence ids is not supported)',
    );
  }
  return value;
}

function finiteNumber(settings: Settings, key: string, positive: boolean): number {
  const value = settings[key];
  if (!(typeof value === 'number' && Number.isFinite(value) && (!positive || value > 0))) {
    throw invalid(key, value, positive ? 'a number > 0' : 'a finite number');
  }
  return value;
}

/**
 * The settings a transformers 4.33 `generate(**overrides)` call resolves, for a model whose folder holds
 * `config.json` (`modelConfig`) and maybe `generation_config.json` (`generationConfigJson`). transformers reads
 * the model config with the model class's defaults applied (`PretrainedConfig.to_dict()`); a config.json as
 * written omits them, which only matters where a class default differs from GenerationConfig's, in practice the
 * token ids (BlipTextConfig: bos 30522, eos 2, pad 0), so pass either the resolved config or those ids in
 * `overrides`.
 *
 * 1. the model's generation config: `generation_config.json` over GenerationConfig's class defaults (max_length
 *    20, min_length 0, num_beams 1, length_penalty 1.0, repetition_penalty 1.0, early_stopping False); but when
 *    that file is absent, or says `"_from_model_config": true` (as files written by `save_pretrained` from a
 *    model config do), `generate()` rebuilds it from the model config instead (`from_model_config`): the model
 *    config's generation attributes over the class defaults, then nested decoder/text_config values for the
 *    attributes still at their defaults. The two sources are alternatives, not layers.
 * 2. `overrides` (generate's keyword arguments, snake_case, e.g. `{ num_beams: 3, max_length: 20 }`) replace
 *    attributes one by one.
 * 3. pad_token_id defaults to eos_token_id.
 *
 * `max_new_tokens` and `min_new_tokens` stay relative to the prompt (see `decodeLimits`). A setting that selects
 * another strategy or another logits processor (do_sample, no_repeat_ngram_size, forced_eos_token_id, …) is
 * refused rather than ignored.
 *
 * BLIP: `BlipForConditionalGeneration.generate` and `BlipForQuestionAnswering.generate` call the text decoder's
 * `generate`, whose generation config comes from the text config alone (the folder's generation_config.json
 * belongs to the outer model and is not read), with `eos_token_id = sep_token_id` (102) and
 * `pad_token_id = pad_token_id` (0) passed explicitly: `generationConfigFrom(resolvedTextConfig, undefined,
 * { eos_token_id: 102, pad_token_id: 0, ...kwargs })`.
 */
export function generationConfigFrom(
  modelConfig: Json,
  generationConfigJson?: Json,
  overrides: Json = {},
): GenerationConfig {
  const settings =
    generationConfigJson !== undefined && generationConfigJson._from_model_config !== true
      ? withDefaults(generationConfigJson)
      : fromModelConfig(modelConfig);
  for (const [key, value] of Object.entries(overrides)) {
    if (!(key in ATTRIBUTES)) {
      throw new UserError(
        `unknown generation setting "${key}"; transformers 4.33's GenerationConfig has: ${Object.keys(ATTRIBUTES).join(', ')}`,
      );
    }
    settings[key] = value;
  }
  for (const [key, attribute] of Object.entries(ATTRIBUTES)) {
    const value = settings[key];
    if (attribute.supported || attribute.inert || value === null || equal(value, attribute.default)) continue;
    throw new UserError(
      `generation setting "${key}" = ${JSON.stringify(value)} is not supported: this decoder implements greedy ` +
        `and beam search with min_length/min_new_tokens and repetition_penalty only; set "${key}" to ` +
        `${JSON.stringify(attribute.default)}`,
    );
  }
  const earlyStopping = settings.early_stopping;
  if (!(typeof earlyStopping === 'boolean' || earlyStopping === 'never')) {
    throw invalid('early_stopping', earlyStopping, 'true, false or "never"');
  }
  if (settings.eos_token_id === null || settings.eos_token_id === undefined) {
    throw new UserError(
      'no end-of-sequence token: neither the model config nor the overrides set "eos_token_id"; pass it, e.g. ' +
        '{ eos_token_id: 102 } for BLIP ([SEP])',
    );
  }
  const eosTokenId = tokenId(settings, 'eos_token_id');
  const maxNewTokens = optionalIntegerAtLeast(settings, 'max_new_tokens', 1);
  const minNewTokens = optionalIntegerAtLeast(settings, 'min_new_tokens', 0);
  return {
    maxLength: integerAtLeast(settings, 'max_length', 1),
    ...(maxNewTokens !== undefined && { maxNewTokens }),
    minLength: integerAtLeast(settings, 'min_length', 0),
    ...(minNewTokens !== undefined && { minNewTokens }),
    numBeams: integerAtLeast(settings, 'num_beams', 1),
    lengthPenalty: finiteNumber(settings, 'length_penalty', false),
    repetitionPenalty: finiteNumber(settings, 'repetition_penalty', true),
    earlyStopping,
    eosTokenId,
    padTokenId: tokenId(settings, 'pad_token_id', eosTokenId),
  };
}

/**
 * The length limits of a decode of `prompt`, as 4.33's `generate` sets them: `max_new_tokens` takes precedence
 * over `max_length` (limit = prompt length + max_new_tokens); min_length must not exceed that limit
 * (transformers raises); `min_new_tokens` (MinNewTokensLengthLogitsProcessor) blocks end-of-sequence until
 * prompt length + min_new_tokens, on top of min_length. Checks every value of the config and the prompt's ids
 * too, since a config may be written by hand.
 */
export function decodeLimits(config: GenerationConfig, prompt: readonly number[]): LengthLimits {
  const check = (key: keyof GenerationConfig, ok: boolean, expected: string) => {
    if (!ok)
      throw new UserError(
        `generation config: ${key} is ${JSON.stringify(config[key])}; expected ${expected}`,
      );
  };
  const isInteger = (v: unknown, min: number) => typeof v === 'number' && Number.isInteger(v) && v >= min;
  check('maxLength', isInteger(config.maxLength, 1), 'an integer ≥ 1');
  check(
    'maxNewTokens',
    config.maxNewTokens === undefined || isInteger(config.maxNewTokens, 1),
    'an integer ≥ 1',
  );
  check('minLength', isInteger(config.minLength, 0), 'an integer ≥ 0');
  check(
    'minNewTokens',
    config.minNewTokens === undefined || isInteger(config.minNewTokens, 0),
    'an integer ≥ 0',
  );
  check('numBeams', isInteger(config.numBeams, 1), 'an integer ≥ 1');
  check('lengthPenalty', Number.isFinite(config.lengthPenalty), 'a finite number');
  check(
    'repetitionPenalty',
    Number.isFinite(config.repetitionPenalty) && config.repetitionPenalty > 0,
    'a number > 0',
  );
  check(
    'earlyStopping',
    typeof config.earlyStopping === 'boolean' || config.earlyStopping === 'never',
    'true, false or "never"',
  );
  check('eosTokenId', isInteger(config.eosTokenId, 0), 'a token id (an integer ≥ 0)');
  check('padTokenId', isInteger(config.padTokenId, 0), 'a token id (an integer ≥ 0)');
  if (prompt.length < 1) {
    throw new UserError(
      'the prompt is empty: a decoder needs at least its start token (BLIP: [DEC] = 30522)',
    );
  }
  const bad = prompt.findIndex((id) => !isInteger(id, 0));
  if (bad >= 0) throw new UserError(`prompt id ${bad} is ${prompt[bad]}: token ids are integers ≥ 0`);
  const maxLength =
    config.maxNewTokens !== undefined ? prompt.length + config.maxNewTokens : config.maxLength;
  if (config.minLength > maxLength) {
    throw new UserError(
      `unfeasible length constraints: min_length ${config.minLength} is larger than the maximum length ` +
        `${maxLength}; lower min_length or raise max_length / max_new_tokens`,
    );
  }
  const minNew = config.minNewTokens ? prompt.length + config.minNewTokens : 0;
  return { maxLength, minLength: Math.max(config.minLength, minNew) };
}
