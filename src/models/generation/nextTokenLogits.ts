import { UserError } from '../../errors.ts';

/**
 * Scores the next token of each row. All rows have the same length. `parents[r]` is the index, in the previous
 * call's rows, of the row that row r extends (undefined on the first call), so a decoder with a key/value cache
 * can reorder it for beams. Returns one Float32Array of vocab logits per row.
 *
 * The searches call it once per generated token: greedy search with one row; beam search first with the prompt
 * alone (one row: transformers scores num_beams identical copies of it, which give the same logits), then with
 * num_beams rows whose parents index that single row (all 0), later the previous call's beams.
 */
export type NextTokenLogits = (
  rows: readonly (readonly number[])[],
  parents?: readonly number[],
) => Promise<Float32Array[]>;

/**
 * One call of `logits`, with its answer checked: one Float32Array per row, all of the vocabulary size seen on
 * the first call. The first call also checks that the end-of-sequence id and the prompt's ids are in the
 * vocabulary. A wrong answer is a bug of the model code, hence a plain Error.
 */
export class CheckedLogits {
  private vocabSize: number | undefined;

  constructor(
    private readonly logits: NextTokenLogits,
    private readonly eosTokenId: number,
  ) {}

  async score(rows: readonly (readonly number[])[], parents?: readonly number[]): Promise<Float32Array[]> {
    const out = await this.logits(rows, parents);
    if (!Array.isArray(out) || out.length !== rows.length) {
      throw new Error(`next-token logits: expected ${rows.length} rows of logits, got ${out?.length}`);
    }
    for (const row of out) {
      if (!(row instanceof Float32Array) || row.length === 0) {
        throw new Error('next-token logits: each row must be a non-empty Float32Array');
      }
      if (this.vocabSize === undefined) this.checkVocabulary(row.length, rows[0]);
      if (row.length !== this.vocabSize) {
        throw new Error(`next-token logits: a row has ${row.length} logits, earlier ones ${this.vocabSize}`);
      }
    }
    return out;
  }

  private checkVocabulary(size: number, prompt: readonly number[]): void {
    this.vocabSize = size;
    if (this.eosTokenId >= size) {
      throw new UserError(
        `eos_token_id ${this.eosTokenId} is outside the model's vocabulary of ${size} ids; pass the model's ` +
          'end-of-sequence id',
      );
    }
    const outside = prompt.find((id) => id >= size);
    if (outside !== undefined) {
      throw new UserError(`the prompt holds id ${outside}, outside the model's vocabulary of ${size} ids`);
    }
  }
}
