/**
 * The two logits processors transformers 4.33 adds for the settings greedy and beam search support, in the
 * order `_get_logits_processor` lists them: RepetitionPenaltyLogitsProcessor, then MinLengthLogitsProcessor.
 * Greedy search applies them to the raw logits, beam search to the log-softmax scores. They modify `scores`.
 */
export interface ScoreProcessing {
  readonly repetitionPenalty: number;
  /** The effective minimum total length (prompt included). */
  readonly minLength: number;
  readonly eosTokenId: number;
}

/**
 * RepetitionPenaltyLogitsProcessor (when the penalty p ≠ 1): every id present in the sequence, prompt and
 * decoder start token included, once however often it occurs: s < 0 ? s·p : s/p, in float32 as PyTorch
 * computes a float32 tensor with a Python float.
 */
export function applyRepetitionPenalty(
  scores: Float32Array,
  sequence: readonly number[],
  penalty: number,
): void {
  if (penalty === 1) return;
  const f = Math.fround;
  const p = f(penalty);
  for (const id of new Set(sequence)) {
    const s = scores[id];
    scores[id] = s < 0 ? f(s * p) : f(s / p);
  }
}

/** MinLengthLogitsProcessor: while the sequence (prompt included) is shorter than minLength, eos scores −∞. */
export function applyMinLength(
  scores: Float32Array,
  sequenceLength: number,
  minLength: number,
  eosTokenId: number,
): void {
  if (sequenceLength < minLength) scores[eosTokenId] = Number.NEGATIVE_INFINITY;
}

/** Both processors on the scores of the next token of `sequence`. */
export function processScores(
  scores: Float32Array,
  sequence: readonly number[],
  settings: ScoreProcessing,
): void {
  applyRepetitionPenalty(scores, sequence, settings.repetitionPenalty);
  applyMinLength(scores, sequence.length, settings.minLength, settings.eosTokenId);
}
