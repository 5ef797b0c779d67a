import { UserError } from '../../errors.ts';
import { BeamHypotheses } from './beamHypotheses.ts';
import { decodeLimits, type GenerationConfig } from './generationConfig.ts';
import { processScores } from './logitsProcessors.ts';
import { logSoftmax } from './logSoftmax.ts';
import { CheckedLogits, type NextTokenLogits } from './nextTokenLogits.ts';
import { torchTopK } from './torchTopK.ts';

/** The running score transformers gives beams 1… before the first step, so that step extends beam 0 only. */
const INACTIVE_BEAM_SCORE = -1e9;

interface Beam {
  readonly tokens: readonly number[];
  /** Sum of the processed log-probs of its tokens after the prompt, float32 (transformers' beam_scores). */
  readonly score: number;
}

/**
 * transformers 4.33 `beam_search` with `BeamSearchScorer` for one sequence (batch 1, num_return_sequences 1).
 *
 * Each step, for each beam b and token v (float32 throughout, as PyTorch):
 *
 *   candidate(b, v) = processors(log_softmax(logits_b))[v] + score_b
 *
 * with the repetition penalty and min length applied to the log-softmax scores. Before the first step beam 0
 * scores 0 and the others −1e9. The top 2·num_beams candidates over all beams × vocab (torch.topk's order, see
 * torchTopK) are scanned in order: an eos candidate ranked below num_beams closes a hypothesis (its tokens
 * exclude the eos; its sum includes the eos log-prob; see BeamHypotheses.add), other eos candidates are
 * skipped, and the other candidates fill the next beams until num_beams are found. The sequence is done once
 * BeamHypotheses.isDone(best candidate of the step, length + 1). The loop stops when done or when the beams
 * reach the maximum length; if not done, the open beams are then added as hypotheses (score / max_length^lp).
 * Output: the best hypothesis, plus eos when it is shorter than the maximum length (finished ones are), and its
 * score rounded to float32 (`sequences_scores`).
 */
export async function beamSearch(
  logits: NextTokenLogits,
  prompt: readonly number[],
  config: GenerationConfig,
): Promise<{ ids: number[]; sequenceScore: number }> {
  const { maxLength, minLength } = decodeLimits(config, prompt);
  const { numBeams, eosTokenId } = config;
  if (numBeams < 2) {
    throw new UserError(`beam search needs num_beams ≥ 2 (got ${numBeams}); num_beams 1 is greedy search`);
  }
  if (prompt.length >= maxLength) {
    // transformers' finalize fails on this (it cannot fit the hypothesis into max_length columns).
    throw new UserError(
      `the prompt has ${prompt.length} tokens, not fewer than the maximum length ${maxLength}: ` +
        'raise max_length or set max_new_tokens',
    );
  }
  const processing = { repetitionPenalty: config.repetitionPenalty, minLength, eosTokenId };
  const scorer = new CheckedLogits(logits, eosTokenId);
  const hypotheses = new BeamHypotheses(numBeams, config.lengthPenalty, config.earlyStopping, maxLength);
  let beams: Beam[] = Array.from({ length: numBeams }, (_, b) => ({
    tokens: prompt,
    score: b === 0 ? 0 : INACTIVE_BEAM_SCORE,
  }));
  // The first call scores the prompt once; every beam reads that row.
  let rows: readonly (readonly number[])[] = [prompt];
  let rowOfBeam = (_beam: number) => 0;
  let parents: number[] | undefined;
  let done = false;
  for (;;) {
    const rowLogits = await scorer.score(rows, parents);
    const vocab = rowLogits[0].length;
    if (vocab < 2) {
      // torch.topk needs 2·num_beams of the num_beams·vocab candidates.
      throw new UserError(`beam search needs a vocabulary of at least 2 ids (the model has ${vocab})`);
    }
    const candidates = new Float32Array(numBeams * vocab);
    const rowScores = new Map<number, Float32Array>();
    for (let b = 0; b < numBeams; b++) {
      const row = rowOfBeam(b);
      let scores = rowScores.get(row);
      if (!scores) {
        scores = logSoftmax(rowLogits[row]);
        processScores(scores, rows[row], processing);
        rowScores.set(row, scores);
      }
      const offset = b * vocab;
      const beamScore = beams[b].score;
      for (let v = 0; v < vocab; v++) candidates[offset + v] = scores[v] + beamScore;
    }
    const top = torchTopK(candidates, 2 * numBeams);
    const next: { beam: number; token: number; score: number }[] = [];
    for (let rank = 0; rank < top.indices.length && next.length < numBeams; rank++) {
      const beam = Math.floor(top.indices[rank] / vocab);
      const token = top.indices[rank] % vocab;
      const score = top.values[rank];
      if (token === eosTokenId) {
        if (rank < numBeams) hypotheses.add(beams[beam].tokens, score);
      } else {
        next.push({ beam, token, score });
      }
    }
    const curLen = beams[0].tokens.length + 1;
    done = done || hypotheses.isDone(Math.max(...top.values), curLen);
    parents = next.map((c) => rowOfBeam(c.beam));
    beams = next.map((c) => ({ tokens: [...beams[c.beam].tokens, c.token], score: c.score }));
    rows = beams.map((b) => b.tokens);
    rowOfBeam = (beam) => beam;
    if (done || beams[0].tokens.length >= maxLength) break;
  }
  if (!done) for (const beam of beams) hypotheses.add(beam.tokens, beam.score);
  const best = hypotheses.best();
  const ids = best.tokens.length < maxLength ? [...best.tokens, eosTokenId] : [...best.tokens];
  return { ids, sequenceScore: Math.fround(best.score) };
}
