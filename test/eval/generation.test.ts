import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import {
  BeamHypotheses,
  beamSearch,
  decodeLimits,
  type GenerationConfig,
  generate,
  generationConfigFrom,
  greedySearch,
  logSoftmax,
  type NextTokenLogits,
  torchTopK,
} from '../../src/models/generation/index.ts';
import { FIXTURES } from '../helpers/fixtures.ts';
import { userErrorOf } from '../helpers/userError.ts';

/**
 * A toy vocabulary: S starts every prompt, E ends a sequence, A–D are words. Token ids are the array indices of
 * the logits.
 */
const S = 0;
const E = 1;
const A = 2;
const B = 3;
const C = 4;
const D = 5;
const ln = Math.log;

/**
 * Logits ln p for the listed ids (probabilities that sum to 1), so log_softmax gives back ln p (to float32
 * rounding), and −30 − id for every other id: probability ≈ 1e-13, far below any listed one and never tied.
 * `shift` adds a constant to every logit, which leaves log_softmax unchanged but not the raw logits.
 */
function dist(probs: Record<number, number>, { vocab = 5, shift = 0 } = {}): number[] {
  return Array.from({ length: vocab }, (_, id) => (id in probs ? ln(probs[id]) : -30 - id) + shift);
}

/** A fake decoder: fixed logits per prefix (ids joined by commas), recording every call's rows and parents. */
function fakeDecoder(table: Record<string, number[]>, fallback?: number[]) {
  const calls: { rows: number[][]; parents: number[] | undefined }[] = [];
  const logits: NextTokenLogits = async (rows, parents) => {
    calls.push({ rows: rows.map((r) => [...r]), parents: parents === undefined ? undefined : [...parents] });
    return rows.map((row) => {
      const entry = table[row.join(',')] ?? fallback;
      if (!entry) throw new Error(`the test table has no logits after [${row.join(',')}]`);
      return Float32Array.from(entry);
    });
  };
  return { logits, calls };
}

const config = (overrides: Partial<GenerationConfig> = {}): GenerationConfig => ({
  maxLength: 20,
  minLength: 0,
  numBeams: 1,
  lengthPenalty: 1,
  repetitionPenalty: 1,
  earlyStopping: false,
  eosTokenId: E,
  padTokenId: 0,
  ...overrides,
});

/**
 * Beam scores are float32 sums of float32 log-probs, the expected values float64 sums of ln p: measured
 * differences up to 4.9e-8 over the tests below.
 */
const SCORE_TOLERANCE = 2e-7;

describe('greedy search', () => {
  it('appends the argmax until eos, prompt and eos included, calling with one row and parent 0', async () => {
    const { logits, calls } = fakeDecoder({ '0': [0, 0.1, 2, 1, 0.5], '0,2': [0, 3, 1, 0, 0] });
    expect(await greedySearch(logits, [S], config())).toEqual({ ids: [S, A, E] });
    expect(calls).toEqual([
      { rows: [[S]], parents: undefined },
      { rows: [[S, A]], parents: [0] },
    ]);
  });

  it('breaks ties by the lowest id', async () => {
    // A, B and C tie at 2 after S: A. Then E and A tie at 3: E, the lower id.
    const { logits } = fakeDecoder({ '0': [0, -1, 2, 2, 2], '0,2': [1, 3, 3, 0, 0] });
    expect((await greedySearch(logits, [S], config())).ids).toEqual([S, A, E]);
  });

  it('stops at max_length counting the prompt; max_new_tokens counts from the prompt and wins', async () => {
    const neverEnds = [0, -5, 1, 0, 0]; // always A
    const { logits } = fakeDecoder({}, neverEnds);
    expect((await greedySearch(logits, [S, B], config({ maxLength: 4 }))).ids).toEqual([S, B, A, A]);
    // max_new_tokens 3 from a 2-token prompt: length 5, though maxLength says 4.
    expect((await greedySearch(logits, [S, B], config({ maxLength: 4, maxNewTokens: 3 }))).ids).toEqual([
      S,
      B,
      A,
      A,
      A,
    ]);
    // A prompt already at max_length still gets one token, as transformers' loop scores before it checks.
    expect((await greedySearch(logits, [S, B, B], config({ maxLength: 3 }))).ids).toEqual([S, B, B, A]);
  });

  it('blocks eos while the sequence is shorter than min_length (and min_new_tokens after the prompt)', async () => {
    const eosFirst = [0, 5, 1, 0, 0]; // E is the argmax, A the runner-up
    const { logits } = fakeDecoder({}, eosFirst);
    expect((await greedySearch(logits, [S], config())).ids).toEqual([S, E]);
    // min_length 3: at lengths 1 and 2 E scores −∞ and A wins; at length 3 E is allowed: 4 tokens in all.
    expect((await greedySearch(logits, [S], config({ minLength: 3 }))).ids).toEqual([S, A, A, E]);
    // min_new_tokens 2 after a 2-token prompt: E is blocked until length 4.
    expect((await greedySearch(logits, [S, B], config({ minNewTokens: 2 }))).ids).toEqual([S, B, A, A, E]);
  });

  it('divides positive and multiplies negative raw logits of every id in the sequence, once each', async () => {
    const penalty = config({ repetitionPenalty: 1.5 });
    // Positive: B (in the prompt) 3.0 → 3.0/1.5 = 2.0 < A's 2.5, so A; without the penalty B.
    const positive = fakeDecoder({ '0,3': [0, -9, 2.5, 3.0, 0] }, [0, 9, 0, 0, 0]);
    expect((await greedySearch(positive.logits, [S, B], penalty)).ids).toEqual([S, B, A, E]);
    expect((await greedySearch(positive.logits, [S, B], config())).ids).toEqual([S, B, B, E]);
    // Negative: B −1.0 → −1.0·1.5 = −1.5 < A's −1.2 (dividing would give −0.67 and keep B), so A.
    const negative = fakeDecoder({ '0,3': [-5, -9, -1.2, -1.0, -3] }, [0, 9, 0, 0, 0]);
    expect((await greedySearch(negative.logits, [S, B], penalty)).ids).toEqual([S, B, A, E]);
    expect((await greedySearch(negative.logits, [S, B], config())).ids).toEqual([S, B, B, E]);
    // B twice in the prompt is penalised once: 3.0/1.5 = 2.0 > A's 1.9 (twice would give 1.33), so B.
    const once = fakeDecoder({ '0,3,3': [0, -9, 1.9, 3.0, 0] }, [0, 9, 0, 0, 0]);
    expect((await greedySearch(once.logits, [S, B, B], penalty)).ids).toEqual([S, B, B, B, E]);
  });
});

/**
 * Table 1 (num_beams 2, length penalty 1). Step 1 from [S]: E .4, A .35, B .2, C .05. The top 4 candidates are
 * E, A, B, C of beam 0 (beam 1 starts at −1e9). E ranks 0 < 2: hypothesis [S] with ln .4 / 1 = −0.9163.
 * A and B become the beams: [S,A] ln .35 = −1.0498, [S,B] ln .2 = −1.6094.
 * Step 2 (length 2): after [S,A]: E .9, A .05, B .03, C .02; after [S,B]: E .6, C .4. Candidates:
 *   E|b0 −1.1552, E|b1 −2.1203, C|b1 −2.5257, A|b0 −4.0455.
 * E|b0: hypothesis [S,A] (ln .35 + ln .9)/2 = −0.5776 (2 kept, worst −0.9163). E|b1 (rank 1 < 2):
 * [S,B] −2.1203/2 = −1.0601 does not beat the worst and is not kept. C|b1 and A|b0 become the beams:
 * [S,B,C] −2.5257 (parent 1) and [S,A,A] −4.0455 (parent 0). Done? worst −0.9163 ≥ −1.1552/3 = −0.385: no.
 */
const table1 = {
  '0': dist({ [E]: 0.4, [A]: 0.35, [B]: 0.2, [C]: 0.05 }),
  '0,2': dist({ [E]: 0.9, [A]: 0.05, [B]: 0.03, [C]: 0.02 }),
  '0,3': dist({ [E]: 0.6, [C]: 0.4 }),
  // Step 3, for the max_length 4 run.
  '0,3,4': dist({ [E]: 0.3, [A]: 0.7 }),
  '0,2,2': dist({ [E]: 0.45, [B]: 0.55 }),
};

/**
 * Table 2 (num_beams 2, length penalty 1, max_length 8), where the three early_stopping settings stop at
 * different steps.
 * Step 1 from [S]: E .5, A .3, B .2 → hypothesis [S] ln .5 = −0.6931; beams [S,A] −1.2040, [S,B] −1.6094.
 * Step 2 (cur_len 3): after [S,A]: E .35, A .65; after [S,B]: E .7, C .3. Candidates:
 *   A|b0 −1.6348, E|b1 −1.9661, E|b0 −2.2538, C|b1 −2.8134.
 *   E|b1 (rank 1): hypothesis [S,B] −1.9661/2 = −0.9831 (2 kept, worst −0.9831). E|b0 is rank 2 ≥ num_beams:
 *   skipped, though (ln .3 + ln .35)/2 = −1.127. Beams [S,A,A] −1.6348, [S,B,C] −2.8134.
 *   early_stopping true: 2 hypotheses → done. Best [S] → [S,E], −0.6931.
 *   false: worst −0.9831 ≥ −1.6348/3 = −0.545? no. 'never': ≥ −1.6348/8 = −0.204? no.
 * Step 3 (cur_len 4): after [S,A,A]: E .8, B .2; after [S,B,C]: E .6, A .4. Candidates:
 *   E|b0 −1.8579, B|b0 −3.2442, E|b1 −3.3242, A|b1 −3.7297.
 *   E|b0: hypothesis [S,A,A] −1.8579/3 = −0.6193 enters, [S,B] (−0.9831) leaves; worst −0.6931.
 *   Beams [S,A,A,B] −3.2442, [S,B,C,A] −3.7297. false: −0.6931 ≥ −1.8579/4 = −0.464? no.
 * Step 4 (cur_len 5): after [S,A,A,B]: C .75, E .25; after [S,B,C,A]: E .9, B .1. Candidates:
 *   C|b0 −3.5319, E|b1 −3.8351, E|b0 −4.6305, B|b1 −6.0323.
 *   E|b1: [S,B,C,A] −3.8351/4 = −0.9588 < worst, not kept. Beams [S,A,A,B,C] −3.5319, [S,B,C,A,B] −6.0323.
 *   false: −0.6931 ≥ −3.5319/5 = −0.7064: done. Best [S,A,A] → [S,A,A,E], −0.6193.
 *   'never': ≥ −3.5319/8 = −0.4415? no.
 * Step 5 (cur_len 6): after [S,A,A,B,C]: B .95, E .05; after [S,B,C,A,B]: E .6, A .4. Candidates:
 *   B|b0 −3.5832, E|b0 −6.5276, E|b1 −6.5431, A|b1 −6.9486. E|b0 −6.5276/5 = −1.31 not kept.
 *   Beams [S,A,A,B,C,B] −3.5832, [S,B,C,A,B,A] −6.9486. 'never': ≥ −3.5832/8 = −0.448? no.
 * Step 6 (cur_len 7): after [S,A,A,B,C,B]: E .9, A .1; after [S,B,C,A,B,A]: C .7, E .3. Candidates:
 *   E|b0 −3.6886, A|b0 −5.8858, C|b1 −7.3053, E|b1 −8.1526.
 *   E|b0: hypothesis [S,A,A,B,C,B] −3.6886/6 = −0.6148 enters, [S] leaves; worst −0.6193.
 *   'never': ≥ −3.6886/8 = −0.461? no.
 * Step 7 (cur_len 8; every other prefix: E .5, A .3, B .2): E|b0 −6.5789/7 = −0.94 not kept; length 8 = max:
 *   stop ('never' is now done too: −0.6193 ≥ −6.5789/8 = −0.822). Best [S,A,A,B,C,B] → + E, −0.6148.
 */
const table2 = {
  '0': dist({ [E]: 0.5, [A]: 0.3, [B]: 0.2 }),
  '0,2': dist({ [E]: 0.35, [A]: 0.65 }),
  '0,3': dist({ [E]: 0.7, [C]: 0.3 }),
  '0,2,2': dist({ [E]: 0.8, [B]: 0.2 }),
  '0,3,4': dist({ [E]: 0.6, [A]: 0.4 }),
  '0,2,2,3': dist({ [C]: 0.75, [E]: 0.25 }),
  '0,3,4,2': dist({ [E]: 0.9, [B]: 0.1 }),
  '0,2,2,3,4': dist({ [B]: 0.95, [E]: 0.05 }),
  '0,3,4,2,3': dist({ [E]: 0.6, [A]: 0.4 }),
  '0,2,2,3,4,3': dist({ [E]: 0.9, [A]: 0.1 }),
  '0,3,4,2,3,2': dist({ [C]: 0.7, [E]: 0.3 }),
};
const table2Fallback = dist({ [E]: 0.5, [A]: 0.3, [B]: 0.2 });

describe('beam search', () => {
  it('lets a longer hypothesis beat one that closed early (length-normalised), and cuts at max_length', async () => {
    // Table 1, max_length 3: the loop stops after step 2. The open beams join: [S,B,C] −2.5257/3 = −0.8419
    // pushes out [S] (−0.9163); [S,A,A] −4.0455/3 = −1.35 does not enter. Best: [S,A] (−0.5776) + E.
    const { logits } = fakeDecoder(table1);
    const result = await beamSearch(logits, [S], config({ numBeams: 2, maxLength: 3 }));
    expect(result.ids).toEqual([S, A, E]);
    expect(Math.abs(result.sequenceScore - (ln(0.35) + ln(0.9)) / 2)).toBeLessThan(SCORE_TOLERANCE);
    // Greedy takes the early E (.4 > .35).
    expect((await greedySearch(logits, [S], config())).ids).toEqual([S, E]);
  });

  it('passes each row the index of the row it extends, reordered across beams', async () => {
    // Table 1, max_length 4. Step 3 rows: [S,B,C] (from row 1 of step 2), [S,A,A] (from row 0).
    // After [S,B,C]: E .3, A .7; after [S,A,A]: E .45, B .55. Candidates: A|b0 −2.8824, E|b0 −3.7297,
    // B|b1 −4.6433, E|b1 −4.8440. E|b0: [S,B,C] −3.7297/3 = −1.24 not kept. At max_length: [S,B,C,A]
    // −2.8824/4 = −0.7206 enters, [S,A,A,B] −4.6433/4 = −1.16 does not. Best still [S,A] + E.
    const { logits, calls } = fakeDecoder(table1);
    const result = await beamSearch(logits, [S], config({ numBeams: 2, maxLength: 4 }));
    expect(result.ids).toEqual([S, A, E]);
    expect(calls).toEqual([
      { rows: [[S]], parents: undefined },
      {
        rows: [
          [S, A],
          [S, B],
        ],
        parents: [0, 0],
      },
      {
        rows: [
          [S, B, C],
          [S, A, A],
        ],
        parents: [1, 0],
      },
    ]);
  });

  it('divides by length^length_penalty: with penalty 2 the open beam at max_length wins, without eos', async () => {
    // Table 1, max_length 3, length_penalty 2. Step 1: [S] −0.9163/1. Step 2: [S,A] −1.1552/4 = −0.2888;
    // [S,B] −2.1203/4 = −0.5301 beats the worst (−0.9163) and enters, [S] leaves. Done? −0.5301 ≥
    // −1.1552/3² = −0.128: no. At max_length: [S,B,C] −2.5257/9 = −0.2806 enters, [S,B] leaves;
    // [S,A,A] −4.0455/9 = −0.45 does not. Best: [S,B,C] (−0.2806 > −0.2888), as long as max_length: no E.
    const { logits } = fakeDecoder(table1);
    const result = await beamSearch(logits, [S], config({ numBeams: 2, maxLength: 3, lengthPenalty: 2 }));
    expect(result.ids).toEqual([S, B, C]);
    expect(Math.abs(result.sequenceScore - (ln(0.2) + ln(0.4)) / 9)).toBeLessThan(SCORE_TOLERANCE);
  });

  it('stops as early_stopping says: true at num_beams hypotheses, false by the heuristic, never by the bound', async () => {
    const run = async (earlyStopping: GenerationConfig['earlyStopping']) => {
      const { logits, calls } = fakeDecoder(table2, table2Fallback);
      const result = await beamSearch(logits, [S], config({ numBeams: 2, maxLength: 8, earlyStopping }));
      return { ...result, calls: calls.length };
    };
    const early = await run(true);
    expect({ ids: early.ids, calls: early.calls }).toEqual({ ids: [S, E], calls: 2 });
    expect(Math.abs(early.sequenceScore - ln(0.5))).toBeLessThan(SCORE_TOLERANCE);

    const heuristic = await run(false);
    expect({ ids: heuristic.ids, calls: heuristic.calls }).toEqual({ ids: [S, A, A, E], calls: 4 });
    expect(Math.abs(heuristic.sequenceScore - (ln(0.3) + ln(0.65) + ln(0.8)) / 3)).toBeLessThan(
      SCORE_TOLERANCE,
    );

    const never = await run('never');
    expect({ ids: never.ids, calls: never.calls }).toEqual({ ids: [S, A, A, B, C, B, E], calls: 7 });
    const neverSum = ln(0.3) + ln(0.65) + ln(0.2) + ln(0.75) + ln(0.95) + ln(0.9);
    expect(Math.abs(never.sequenceScore - neverSum / 6)).toBeLessThan(SCORE_TOLERANCE);
  });

  it('judges "done" at cur_len = length + 1 (the length the step\'s scores are for)', async () => {
    // num_beams 2, early_stopping false, max_length 4.
    // Step 1 from [S]: E .5, A .3, B .2 → hypothesis [S] −0.6931; beams [S,A] −1.2040, [S,B] −1.6094.
    // Step 2: after [S,A]: E .85, C .15; after [S,B]: A .75, E .25. Candidates: E|b0 −1.3665, A|b1 −1.8971,
    //   E|b1 −2.9957, C|b0 −3.1011. E|b0: [S,A] −0.6833 (2 kept, worst −0.6931). Beams [S,B,A], [S,A,C].
    //   Done? −0.6931 ≥ −1.3665/3 = −0.456: no.
    // Step 3: after [S,B,A]: A .6, E .4; after [S,A,C]: E .55, B .45. Candidates: A|b0 −2.4079, E|b0 −2.8134
    //   ([S,B,A] −0.94, not kept), E|b1 (rank 2), B|b1 −3.8996. Done? −0.6931 ≥ −2.4079/4 = −0.602: no (with
    //   cur_len = 3 it would be −0.803: done, answer [S,A,E]). At max_length [S,B,A,A] −2.4079/4 = −0.6020
    //   enters and beats [S,A] (−0.6833): the answer, as long as max_length, so without E.
    const { logits } = fakeDecoder({
      '0': dist({ [E]: 0.5, [A]: 0.3, [B]: 0.2 }),
      '0,2': dist({ [E]: 0.85, [C]: 0.15 }),
      '0,3': dist({ [A]: 0.75, [E]: 0.25 }),
      '0,3,2': dist({ [A]: 0.6, [E]: 0.4 }),
      '0,2,4': dist({ [E]: 0.55, [B]: 0.45 }),
    });
    const result = await beamSearch(logits, [S], config({ numBeams: 2, maxLength: 4 }));
    expect(result.ids).toEqual([S, B, A, A]);
    expect(Math.abs(result.sequenceScore - (ln(0.2) + ln(0.75) + ln(0.6)) / 4)).toBeLessThan(SCORE_TOLERANCE);
  });

  it('skips an eos candidate ranked num_beams or lower', async () => {
    // num_beams 2, early_stopping true. Step 1 from [S]: A .5, B .3, E .2: E ranks 2 and closes nothing.
    // Step 2: after [S,A]: E .6, A .4; after [S,B]: C .9, E .1. Candidates: E|b0 −1.2040 → [S,A] −0.6020,
    //   C|b1 −1.3094, A|b0 −1.6094, E|b1 (rank 3). One hypothesis: go on (had [S] −1.6094 been kept, there
    //   would be two, done, answer [S,A,E]). Beams [S,B,C] −1.3094, [S,A,A] −1.6094.
    // Step 3: after [S,B,C]: E .95, A .05; after [S,A,A]: B .8, E .2. E|b0 −1.3607 → [S,B,C] −0.4536: two
    //   hypotheses, done. Best [S,B,C] + E.
    const { logits } = fakeDecoder({
      '0': dist({ [A]: 0.5, [B]: 0.3, [E]: 0.2 }),
      '0,2': dist({ [E]: 0.6, [A]: 0.4 }),
      '0,3': dist({ [C]: 0.9, [E]: 0.1 }),
      '0,3,4': dist({ [E]: 0.95, [A]: 0.05 }),
      '0,2,2': dist({ [B]: 0.8, [E]: 0.2 }),
    });
    const result = await beamSearch(logits, [S], config({ numBeams: 2, maxLength: 10, earlyStopping: true }));
    expect(result.ids).toEqual([S, B, C, E]);
    expect(Math.abs(result.sequenceScore - (ln(0.3) + ln(0.9) + ln(0.95)) / 3)).toBeLessThan(SCORE_TOLERANCE);
  });

  it('blocks eos below min_length in the beam scores', async () => {
    // Table 2, early_stopping true, min_length 2: step 1 cannot close [S]; beams [S,A], [S,B]. Step 2 closes
    // [S,B] (−0.9831; E|b0 ranks 2 and is skipped), step 3 closes [S,A,A] (−0.6193): 2 hypotheses, done.
    // Without min_length the answer was [S,E].
    const { logits } = fakeDecoder(table2, table2Fallback);
    const result = await beamSearch(
      logits,
      [S],
      config({ numBeams: 2, maxLength: 8, earlyStopping: true, minLength: 2 }),
    );
    expect(result.ids).toEqual([S, A, A, E]);
    expect(Math.abs(result.sequenceScore - (ln(0.3) + ln(0.65) + ln(0.8)) / 3)).toBeLessThan(SCORE_TOLERANCE);
  });

  it('applies the repetition penalty to log-softmax scores, not raw logits', async () => {
    // Logits are ln p + 5, so raw logits are positive while log-probs are ln p. max_length 3.
    // Step 1 from [S]: A .6, B .4 → beams [S,A] −0.5108, [S,B] −0.9163.
    // Step 2: after [S,A]: A .6, D .4; after [S,B]: C .8, D .2.
    //   No penalty: A|b0 −1.0217, C|b1 −1.1394, D|b0 −1.4271 → [S,A,A] −1.0217/3 = −0.3406 wins.
    //   1.5: A repeats in [S,A]: ln .6 · 1.5 = −0.7662, A|b0 −1.2770 < C|b1 −1.1394 → [S,B,C] −0.3798 wins.
    //   1.2: A|b0 −0.5108 − 0.6130 = −1.1238 > C|b1 → [S,A,A] with (1 + 1.2)·ln .6 / 3 = −0.3746. (Penalising
    //   the raw logit 4.4892/1.2 = 3.741 would give A a log-prob of −0.879 and make [S,B,C] win.)
    const table = {
      '0': dist({ [A]: 0.6, [B]: 0.4 }, { vocab: 6, shift: 5 }),
      '0,2': dist({ [A]: 0.6, [D]: 0.4 }, { vocab: 6, shift: 5 }),
      '0,3': dist({ [C]: 0.8, [D]: 0.2 }, { vocab: 6, shift: 5 }),
    };
    const { logits } = fakeDecoder(table);
    const run = (repetitionPenalty: number) =>
      beamSearch(logits, [S], config({ numBeams: 2, maxLength: 3, repetitionPenalty }));
    const none = await run(1);
    expect(none.ids).toEqual([S, A, A]);
    expect(Math.abs(none.sequenceScore - (2 * ln(0.6)) / 3)).toBeLessThan(SCORE_TOLERANCE);
    const strong = await run(1.5);
    expect(strong.ids).toEqual([S, B, C]);
    expect(Math.abs(strong.sequenceScore - (ln(0.4) + ln(0.8)) / 3)).toBeLessThan(SCORE_TOLERANCE);
    const mild = await run(1.2);
    expect(mild.ids).toEqual([S, A, A]);
    expect(Math.abs(mild.sequenceScore - (2.2 * ln(0.6)) / 3)).toBeLessThan(SCORE_TOLERANCE);
  });

  it('orders tied candidates as torch.topk does on the CPU, not by lowest id', async () => {
    // Step 1 from [S]: A .4, B .4, C .2. The 10 candidates (beam 1's are all −1e9 in float32) go through
    // nth_element(k−1 = 3) and a sort of the first 3 (see the first torchTopK case below), which leave B
    // (index 3) before A (index 2). So beam 0 is [S,B], beam 1 [S,A].
    const { logits, calls } = fakeDecoder({}, dist({ [A]: 0.4, [B]: 0.4, [C]: 0.2 }));
    await beamSearch(logits, [S], config({ numBeams: 2, maxLength: 3 }));
    expect(calls[1].rows).toEqual([
      [S, B],
      [S, A],
    ]);
  });

  it('is what generate() runs when num_beams > 1; generate() runs greedy search for num_beams 1', async () => {
    const { logits } = fakeDecoder(table1);
    expect(await generate(logits, [S], config())).toEqual({ ids: [S, E] });
    const beam = await generate(logits, [S], config({ numBeams: 2, maxLength: 3 }));
    expect(beam.ids).toEqual([S, A, E]);
    expect(beam.sequenceScore).toBeTypeOf('number');
  });
});

describe('BeamHypotheses', () => {
  it('keeps the num_beams best, dropping the first of equal worst ones', () => {
    const hyps = new BeamHypotheses(2, 1, false, 10);
    hyps.add([1, 2], -2); // −1
    hyps.add([1, 2, 3, 4], -4); // −1, ties the worst; 2 kept
    hyps.add([1], -0.5); // −0.5 beats −1: the first −1 ([1,2]) leaves
    expect(hyps.beams.map((b) => b.tokens)).toEqual([[1, 2, 3, 4], [1]]);
    hyps.add([1, 2], -2.2); // −1.1 < worst −1: not kept
    expect(hyps.size).toBe(2);
  });

  it("bounds 'never' by max_length for a positive length penalty and by cur_len otherwise", () => {
    // One kept hypothesis at −1. Best running sum −4 at cur_len 2 with max_length 8.
    const positive = new BeamHypotheses(1, 1, 'never', 8);
    positive.add([1, 2], -2);
    expect(positive.isDone(-4, 2)).toBe(false); // −1 ≥ −4/8 = −0.5? no (false would say −1 ≥ −2: yes)
    expect(positive.isDone(-9, 2)).toBe(true); // −1 ≥ −9/8
    const heuristic = new BeamHypotheses(1, 1, false, 8);
    heuristic.add([1, 2], -2);
    expect(heuristic.isDone(-4, 2)).toBe(true);
    const negative = new BeamHypotheses(1, -1, 'never', 8);
    negative.add([1, 2], -0.5); // −0.5 · 2 = −1
    expect(negative.isDone(-0.6, 2)).toBe(true); // −1 ≥ −0.6 · 2 = −1.2 (with max_length: −4.8)
    expect(negative.isDone(-0.4, 2)).toBe(false); // −1 ≥ −0.8? no
  });

  it('returns the last of equal best ones, as Python’s stable sort and pop() do', () => {
    const hyps = new BeamHypotheses(3, 1, false, 10);
    hyps.add([7], -1);
    hyps.add([8, 8], -2);
    hyps.add([9, 9, 9], -9);
    expect(hyps.best().tokens).toEqual([8, 8]);
  });
});

describe('torchTopK', () => {
  /**
   * Cases with heavy ties, their expected indices printed by g++ 12.2 (libstdc++) running PyTorch 1.13's
   * TopKImpl.h code: pairs (value as double, index), comparator `(isnan(x) && !isnan(y)) || x > y`,
   * std::partial_sort when k·64 ≤ n, else std::nth_element(k−1) + std::sort(first k−1). (The same harness
   * agreed on 3000 random tie-heavy cases of both paths.)
   */
  const f = Math.fround;
  const beamTie = [-30, -31, f(ln(0.4)), f(ln(0.4)), f(ln(0.2)), -1e9, -1e9, -1e9, -1e9, -1e9];
  const cases: { name: string; n: number; k: number; value: (j: number) => number; expected: number[] }[] = [
    { name: 'the beam tie', n: 10, k: 4, value: (j) => beamTie[j], expected: [3, 2, 4, 0] },
    { name: 'partial sort', n: 300, k: 4, value: (j) => (j * 7919) % 5, expected: [6, 1, 16, 11] },
    {
      name: 'a NaN',
      n: 40,
      k: 6,
      value: (j) => (j === 17 ? Number.NaN : (j * 13) % 3),
      expected: [17, 14, 8, 11, 26, 29],
    },
    {
      name: 'introsort (k − 1 > 16)',
      n: 200,
      k: 20,
      value: (j) => (j * 31) % 7,
      expected: [142, 65, 72, 114, 86, 107, 93, 100, 79, 58, 135, 51, 44, 156, 37, 163, 30, 170, 23, 128],
    },
    {
      name: 'BLIP-sized',
      n: 91572,
      k: 6,
      value: (j) => (j * 7919) % 1000,
      expected: [2321, 321, 4321, 5321, 3321, 1321],
    },
    { name: 'k = n', n: 6, k: 6, value: (j) => [1, 1, 0, 1, 0, 1][j], expected: [3, 5, 0, 1, 2, 4] },
  ];
  for (const c of cases) {
    it(`orders ties as libstdc++ does: ${c.name}`, () => {
      const values = Float32Array.from({ length: c.n }, (_, j) => c.value(j));
      const top = torchTopK(values, c.k);
      expect(top.indices).toEqual(c.expected);
      expect(top.values).toEqual(c.expected.map((j) => values[j]));
    });
  }

  it('is the descending sort for distinct values, on both paths', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: 1, maxLength: 700 }),
        fc.nat(),
        (raw, kSeed) => {
          const values = Float32Array.from(raw);
          const distinct = new Set(values);
          fc.pre(distinct.size === values.length && !distinct.has(0)); // -0 and 0 compare equal
          const k = 1 + (kSeed % values.length);
          const sorted = Array.from(values.keys()).sort((a, b) => values[b] - values[a]);
          expect(torchTopK(values, k).indices).toEqual(sorted.slice(0, k));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('logSoftmax', () => {
  it('is (x − max) − log Σ exp(x − max) in float32: no overflow, −∞ kept, NaN everywhere for a NaN', () => {
    const out = logSoftmax(Float32Array.of(1000, 1001, 1002, Number.NEGATIVE_INFINITY));
    const logSum = ln(Math.exp(-2) + Math.exp(-1) + 1);
    const expected = [-2 - logSum, -1 - logSum, -logSum];
    // Measured: 7.8e-8, 4.1e-8, 1.1e-8, float32 rounding of −2.4076, −1.4076, −0.4076 (half an ulp: 1.2e-7).
    for (let i = 0; i < 3; i++) expect(Math.abs(out[i] - expected[i])).toBeLessThan(1e-7);
    expect(out[3]).toBe(Number.NEGATIVE_INFINITY);
    expect(Array.from(logSoftmax(Float32Array.of(0, Number.NaN, 1))).every(Number.isNaN)).toBe(true);
  });
});

describe('generationConfigFrom', () => {
  const manifest = JSON.parse(readFileSync(join(FIXTURES, 'eval', 'golden', 'manifest.json'), 'utf8'));
  const captionConfig = manifest.configs_resolved.caption;
  const folder = join(FIXTURES, 'eval', 'blip-caption-tiny');
  const generationConfigJson = JSON.parse(readFileSync(join(folder, 'generation_config.json'), 'utf8'));
  const blip = { eos_token_id: 102, pad_token_id: 0 };

  it("resolves BLIP's text decoder call: the text config's defaults, then generate's arguments", () => {
    expect(
      generationConfigFrom(captionConfig.text_config, undefined, {
        ...blip,
        num_beams: 3,
        max_length: 20,
        min_length: 5,
      }),
    ).toEqual({
      maxLength: 20,
      minLength: 5,
      numBeams: 3,
      lengthPenalty: 1,
      repetitionPenalty: 1,
      earlyStopping: false,
      eosTokenId: 102,
      padTokenId: 0,
    });
  });

  it('gives the same settings from the text config as written, which omits its class defaults', () => {
    const written = JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')).text_config;
    const kwargs = { ...blip, num_beams: 3, max_length: 30, min_length: 10 };
    expect(generationConfigFrom(written, undefined, kwargs)).toEqual(
      generationConfigFrom(captionConfig.text_config, undefined, kwargs),
    );
  });

  it('takes nested text_config values for attributes still at their defaults (from_model_config)', () => {
    // The outer BLIP config has bos/eos/pad null; its text_config has 30522 / 2 / 0, which is what
    // save_pretrained wrote into the folder's generation_config.json.
    const fromModel = generationConfigFrom(captionConfig);
    expect({ eos: fromModel.eosTokenId, pad: fromModel.padTokenId }).toEqual({
      eos: generationConfigJson.eos_token_id,
      pad: generationConfigJson.pad_token_id,
    });
  });

  it('uses generation_config.json alone unless it says _from_model_config, then the model config', () => {
    const model = { max_length: 30, num_beams: 4, eos_token_id: 7 };
    const written = { num_beams: 2, eos_token_id: 5 };
    expect(generationConfigFrom(model, written)).toMatchObject({ maxLength: 20, numBeams: 2, eosTokenId: 5 });
    const derived = { ...written, _from_model_config: true };
    expect(generationConfigFrom(model, derived)).toMatchObject({ maxLength: 30, numBeams: 4, eosTokenId: 7 });
    // pad_token_id falls back to eos_token_id.
    expect(generationConfigFrom(model).padTokenId).toBe(7);
  });

  it("resolves the caption specs' generate arguments to the limits transformers used", () => {
    const spec = (name: string) =>
      JSON.parse(readFileSync(join(FIXTURES, 'eval', 'specs', `blip_caption_${name}_img0.json`), 'utf8'));
    const limits = (name: string, prompt: number[]) => {
      const kwargs = { ...spec(name).inputs.generate_kwargs };
      delete kwargs['(defaults)'];
      return decodeLimits(
        generationConfigFrom(captionConfig.text_config, undefined, { ...blip, ...kwargs }),
        prompt,
      );
    };
    // greedy: max_new_tokens 20 after [DEC]: 21. conditional: the default max_length 20.
    expect(limits('greedy', [30522])).toEqual({ maxLength: 21, minLength: 0 });
    expect(limits('conditional', [30522, 1037, 3861, 1997])).toEqual({ maxLength: 20, minLength: 0 });
    expect(limits('ae_lavis', [30522, 1037, 3861, 1997])).toEqual({ maxLength: 30, minLength: 10 });
    expect(limits('beam', [30522])).toEqual({ maxLength: 20, minLength: 5 });
  });

  it('refuses settings it does not implement, unknown names and bad values, naming them', () => {
    const refused = (fn: () => unknown) => {
      try {
        fn();
      } catch (err) {
        expect(err).toBeInstanceOf(UserError);
        return (err as Error).message;
      }
      throw new Error('expected a UserError');
    };
    const text = captionConfig.text_config;
    expect(refused(() => generationConfigFrom(text, undefined, { ...blip, do_sample: true }))).toMatch(
      /"do_sample" = true is not supported/,
    );
    expect(
      refused(() => generationConfigFrom({ ...text, no_repeat_ngram_size: 3 }, undefined, blip)),
    ).toMatch(/"no_repeat_ngram_size" = 3 is not supported.*set "no_repeat_ngram_size" to 0/);
    expect(refused(() => generationConfigFrom(text, undefined, { ...blip, num_beam: 3 }))).toMatch(
      /unknown generation setting "num_beam"/,
    );
    expect(refused(() => generationConfigFrom(text, undefined, { ...blip, early_stopping: 'soon' }))).toMatch(
      /"early_stopping" is "soon": expected true, false or "never"/,
    );
    expect(refused(() => generationConfigFrom({}, undefined, {}))).toMatch(/no end-of-sequence token/);
    expect(refused(() => generationConfigFrom(text, undefined, { ...blip, eos_token_id: [1, 2] }))).toMatch(
      /"eos_token_id" is \[1,2\]/,
    );
    expect(refused(() => generationConfigFrom(text, undefined, { ...blip, repetition_penalty: 0 }))).toMatch(
      /"repetition_penalty" is 0: expected a number > 0/,
    );
    // Sampling-only values without do_sample change nothing and are accepted, as in transformers.
    expect(generationConfigFrom(text, undefined, { ...blip, temperature: 0.7 }).numBeams).toBe(1);
  });
});

describe('bad input', () => {
  const { logits } = fakeDecoder({}, dist({ [E]: 0.5, [A]: 0.5 }));

  it('says what is wrong with the config or the prompt', async () => {
    expect((await userErrorOf(greedySearch(logits, [], config()))).message).toMatch(/the prompt is empty/);
    expect((await userErrorOf(greedySearch(logits, [S, 1.5], config()))).message).toMatch(
      /prompt id 1 is 1.5/,
    );
    expect((await userErrorOf(greedySearch(logits, [S], config({ minLength: 30 })))).message).toMatch(
      /min_length 30 is larger than the maximum length 20/,
    );
    expect((await userErrorOf(greedySearch(logits, [S], config({ eosTokenId: 9 })))).message).toMatch(
      /eos_token_id 9 is outside the model's vocabulary of 5 ids/,
    );
    expect((await userErrorOf(greedySearch(logits, [S, 7], config()))).message).toMatch(/id 7, outside/);
    expect((await userErrorOf(beamSearch(logits, [S], config({ numBeams: 1 })))).message).toMatch(
      /num_beams ≥ 2/,
    );
    expect(
      (await userErrorOf(beamSearch(logits, [S, A, A], config({ numBeams: 2, maxLength: 3 })))).message,
    ).toMatch(/the prompt has 3 tokens, not fewer than the maximum length 3/);
    expect((await userErrorOf(generate(logits, [S], config({ numBeams: 0 })))).message).toMatch(
      /numBeams is 0; expected an integer ≥ 1/,
    );
  });

  it('reports a decoder that answers with the wrong number of rows as a bug, not a user error', async () => {
    const broken: NextTokenLogits = async () => [];
    const error = await greedySearch(broken, [S], config()).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(/expected 1 rows of logits, got 0/);
  });
});
