import { beamSearch } from './beamSearch.ts';
import type { GenerationConfig } from './generationConfig.ts';
import { greedySearch } from './greedySearch.ts';
import type { NextTokenLogits } from './nextTokenLogits.ts';

/**
 * transformers 4.33 `generate()` for the supported settings: greedy search when num_beams is 1, beam search
 * otherwise. `ids` include the prompt; `sequenceScore` (beam search only) is the length-normalised score of
 * the returned sequence.
 */
export async function generate(
  logits: NextTokenLogits,
  prompt: readonly number[],
  config: GenerationConfig,
): Promise<{ ids: number[]; sequenceScore?: number }> {
  return config.numBeams === 1 ? greedySearch(logits, prompt, config) : beamSearch(logits, prompt, config);
}
