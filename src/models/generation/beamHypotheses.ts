/** A finished (or, at the end, still open) beam: its tokens, prompt included, and its length-normalised score. */
export interface Hypothesis {
  readonly tokens: readonly number[];
  readonly score: number;
}

/**
 * transformers 4.33 `BeamHypotheses`: the num_beams best finished hypotheses of one sequence. Scores are
 * Python floats (float64) made from the float32 beam scores.
 */
export class BeamHypotheses {
  readonly beams: Hypothesis[] = [];
  /** The lowest kept score once num_beams are kept; 1e9 before any, as transformers starts it. */
  private worstScore = 1e9;

  constructor(
    private readonly numBeams: number,
    private readonly lengthPenalty: number,
    private readonly earlyStopping: boolean | 'never',
    private readonly maxLength: number,
  ) {}

  get size(): number {
    return this.beams.length;
  }

  /**
   * Adds a hypothesis scored sum_logprobs / len(tokens)^lengthPenalty (len counts the prompt, not an eos that
   * closed it) if fewer than num_beams are kept or it beats the worst; beyond num_beams the worst goes (the
   * first of equal worst ones) and the next worst becomes the bar.
   */
  add(tokens: readonly number[], sumLogprobs: number): void {
    const score = sumLogprobs / tokens.length ** this.lengthPenalty;
    if (!(this.beams.length < this.numBeams || score > this.worstScore)) return;
    this.beams.push({ tokens, score });
    if (this.beams.length > this.numBeams) {
      // Python's sorted() of (score, position) pairs: equal scores by position.
      const order = this.beams.map((b, i) => [b.score, i]).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      this.beams.splice(order[0][1], 1);
      this.worstScore = order[1][0];
    } else {
      this.worstScore = Math.min(score, this.worstScore);
    }
  }

  /**
   * Whether no open beam can still enter the list, judged from the best candidate score of the step
   * (`bestSumLogprobs`, not normalised) at `curLen` = the current sequence length + 1:
   * - fewer than num_beams kept: no;
   * - earlyStopping true: yes;
   * - false (heuristic): worst ≥ best / curLen^lengthPenalty;
   * - 'never': worst ≥ best / maxLength^lengthPenalty when lengthPenalty > 0 (the most a longer beam can
   *   attain), else best / curLen^lengthPenalty.
   */
  isDone(bestSumLogprobs: number, curLen: number): boolean {
    if (this.beams.length < this.numBeams) return false;
    if (this.earlyStopping === true) return true;
    const length = this.earlyStopping === 'never' && this.lengthPenalty > 0 ? this.maxLength : curLen;
    return this.worstScore >= bestSumLogprobs / length ** this.lengthPenalty;
  }

  /** The best hypothesis: Python's stable sort by score, then pop(), so the last of equal best ones. */
  best(): Hypothesis {
    let best = this.beams[0];
    for (const b of this.beams) if (b.score >= best.score) best = b;
    return best;
  }
}
