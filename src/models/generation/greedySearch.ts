import { decodeLimits, type GenerationConfig } from './generationConfig.ts';
import { processScores } from './logitsProcessors.ts';
import { CheckedLogits, type NextTokenLogits } from './nextTokenLogits.ts';

/**
 * The index of the largest score, the first of equal ones, a NaN above everything: `torch.argmax` on the CPU.
 */
export function argmax(scores: Float32Array): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) {
    const s = scores[i];
    if (Number.isNaN(scores[best])) break;
    if (s > scores[best] || Number.isNaN(s)) best = i;
  }
  return best;
}

/**
 * transformers 4.33 `greedy_search` of one sequence: at each step the next token's raw logits go through the
 * repetition penalty and min-length processors, and their argmax (ties: lowest id) is appended. It stops after
 * appending eos, or when the sequence (prompt included) reaches the maximum length; like transformers, it
 * appends one token even when the prompt is already that long. The result includes the prompt and the final
 * eos when one was generated. `numBeams`, `lengthPenalty` and `earlyStopping` play no part.
 */
export async function greedySearch(
  logits: NextTokenLogits,
  prompt: readonly number[],
  config: GenerationConfig,
): Promise<{ ids: number[] }> {
  const { maxLength, minLength } = decodeLimits(config, prompt);
  const processing = {
    repetitionPenalty: config.repetitionPenalty,
    minLength,
    eosTokenId: config.eosTokenId,
  };
  const scorer = new CheckedLogits(logits, config.eosTokenId);
  const ids = [...prompt];
  for (let parents: number[] | undefined; ; parents = [0]) {
    const [row] = await scorer.score([ids], parents);
    const scores = Float32Array.from(row);
    processScores(scores, ids, processing);
    const next = argmax(scores);
    ids.push(next);
    if (next === config.eosTokenId || ids.length >= maxLength) return { ids };
  }
}
