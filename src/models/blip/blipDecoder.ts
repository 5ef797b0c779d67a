import { UserError } from '../../errors.ts';
import { Graph } from '../../graph/index.ts';
import { CompiledGraph, type HostTensor, type RuntimeOptions } from '../../runtime/session.ts';
import type { NextTokenLogits } from '../generation/nextTokenLogits.ts';
import type { BlipModel } from './blipModel.ts';
import {
  crossKeysValuesOutputs,
  decoderStepGraph,
  newKeyName,
  newValueName,
  pastKeyName,
  pastValueName,
} from './decoderGraphs.ts';
import { CROSS_ATTENTION_MASKED, SELF_ATTENTION_MASKED } from './textModel.ts';

/** The encoder states a decoder cross-attends to, as per-layer keys and values computed once. */
export interface CrossAttentionStates {
  /** Rows: 1 (shared by every decoded sequence) or one per sequence. */
  readonly batch: number;
  readonly length: number;
  /** `cross_key.i` / `cross_value.i` [batch, heads, length, head_dim] and `cross_mask` [batch, 1, 1, length]. */
  readonly feeds: Readonly<Record<string, HostTensor>>;
}

/** Cache slots are allocated in steps of this many, so nearby max lengths share one compiled graph. */
const CAPACITY_STEP = 32;

/**
 * The BLIP text decoder (`text_decoder`: BERT with cross-attention and the LM head) run one token at a time
 * with a key/value cache. Compiled graphs are made on first use and kept: one for the cross-attention keys and
 * values per encoder shape, one step graph per (rows, cache capacity).
 */
export class BlipDecoder {
  private readonly crossGraphs = new Map<string, Promise<CompiledGraph>>();
  private readonly stepGraphs = new Map<string, Promise<CompiledGraph>>();

  constructor(
    readonly model: BlipModel,
    private readonly runtime: RuntimeOptions = {},
  ) {}

  private get config() {
    return this.model.config.text;
  }

  /**
   * Keys and values of every cross-attention layer for encoder states [B, T, encoder_hidden_size] (image embeds
   * for captions, question states for VQA answers). `validLengths[b]` masks row b's positions from there on
   * with finfo.min (transformers' `invert_attention_mask`); omitted = all ones, as BLIP's generate passes.
   */
  async crossAttention(states: HostTensor, validLengths?: readonly number[]): Promise<CrossAttentionStates> {
    const [batch, length, width] = states.shape;
    if (width !== this.config.encoderHiddenSize) {
      throw new Error(
        `decoder encoder states have width ${width}, expected ${this.config.encoderHiddenSize}`,
      );
    }
    const key = `${batch}x${length}`;
    let compiled = this.crossGraphs.get(key);
    if (!compiled) {
      const graph = new Graph();
      const input = graph.input('encoder_states', [batch, length, width]);
      const outputs = crossKeysValuesOutputs(
        this.model.parameters(graph).scope('text_decoder.bert'),
        this.config,
        input,
      );
      compiled = CompiledGraph.compile(outputs, this.runtime, 'blip_decoder_cross_attention');
      this.crossGraphs.set(key, compiled);
    }
    const feeds: Record<string, HostTensor> = { ...(await (await compiled).run({ encoder_states: states })) };
    const mask = new Float32Array(batch * length);
    for (const [b, valid] of (validLengths ?? []).entries()) {
      mask.fill(CROSS_ATTENTION_MASKED, b * length + valid, (b + 1) * length);
    }
    feeds.cross_mask = { data: mask, shape: [batch, 1, 1, length] };
    return { batch, length, feeds };
  }

  /**
   * A decoding run over `cross` for sequences of at most `maxLength` tokens. `rows` is how many rows the
   * search will decode at once (the beams): calls with fewer (beam search's first, with the prompt alone) run
   * padded to that many, so one step graph serves the whole run.
   */
  startDecoding(cross: CrossAttentionStates, maxLength: number, rows = 1): DecodingRun {
    const limit = this.config.maxPositionEmbeddings;
    if (maxLength > limit) {
      throw new UserError(
        `the BLIP decoder has ${limit} positions; a max length of ${maxLength} is too long`,
      );
    }
    const capacity = Math.min(limit, Math.ceil(maxLength / CAPACITY_STEP) * CAPACITY_STEP);
    return new DecodingRun(this, cross, capacity, rows);
  }

  /** The step graph for `batch` rows (see `decoderStepGraph`). */
  stepGraph(batch: number, cross: CrossAttentionStates, capacity: number): Promise<CompiledGraph> {
    const key = `${batch}/${cross.batch}x${cross.length}/${capacity}`;
    let compiled = this.stepGraphs.get(key);
    if (!compiled) {
      const graph = new Graph();
      const shape = { batch, crossBatch: cross.batch, encoderLength: cross.length, capacity };
      const outputs = decoderStepGraph(
        this.model.parameters(graph).scope('text_decoder'),
        this.config,
        shape,
      );
      const runtime = batch > 1 ? withPrepackedWeights(this.runtime) : this.runtime;
      compiled = CompiledGraph.compile(outputs, runtime, 'blip_decoder_step');
      this.stepGraphs.set(key, compiled);
    }
    return compiled;
  }

  async release(): Promise<void> {
    const graphs = [...this.crossGraphs.values(), ...this.stepGraphs.values()];
    this.crossGraphs.clear();
    this.stepGraphs.clear();
    await Promise.all(graphs.map(async (g) => (await g).release()));
  }
}

/**
 * One generation's key/value cache. `nextTokenLogits(rows, parents)` returns the logits after each row's last
 * token: rows extend the rows of the previous call (row r extends row `parents[r]`, or row r itself when
 * `parents` is omitted), so only their new tokens run; a row that extends nothing cached starts over.
 */
export class DecodingRun {
  private batch = 0;
  /** The tokens whose keys and values are cached, per row (all rows equally long). */
  private cachedRows: number[][] = [];
  /** Per layer: keys and values [batch, heads, capacity, head_dim]. */
  private keys: Float32Array[] = [];
  private values: Float32Array[] = [];

  constructor(
    private readonly decoder: BlipDecoder,
    private readonly cross: CrossAttentionStates,
    readonly capacity: number,
    /** Calls with fewer rows run padded with copies of their first row. */
    private readonly minRows = 1,
  ) {}

  private get shape() {
    const text = this.decoder.model.config.text;
    const heads = text.numAttentionHeads;
    return { layers: text.numHiddenLayers, heads, headDim: text.hiddenSize / heads, vocab: text.vocabSize };
  }

  readonly nextTokenLogits: NextTokenLogits = async (asked, parents) => {
    const length = asked[0]?.length ?? 0;
    const rows =
      asked.length < this.minRows
        ? [...asked, ...new Array(this.minRows - asked.length).fill(asked[0])]
        : asked;
    if (length === 0 || rows.some((row) => row.length !== length)) {
      throw new Error('decoder rows must be non-empty and equally long');
    }
    if (length > this.capacity) {
      throw new UserError(`the decoder was set up for ${this.capacity} tokens, got a sequence of ${length}`);
    }
    if (this.cross.batch !== 1 && rows.length !== this.cross.batch) {
      throw new Error(`${rows.length} rows for ${this.cross.batch} rows of encoder states`);
    }
    // A padding row copies row 0, so it extends what row 0 extends (itself, without parents).
    const sources = rows.map((_row, r) => (parents ? parents[r < asked.length ? r : 0] : r));
    const cachedLength = this.cachedRows[0]?.length ?? 0;
    // Checked rather than trusted: a row whose cached source differs is recomputed, never decoded wrongly.
    const extendsCache =
      cachedLength < length &&
      sources.every((s, r) => this.cachedRows[s]?.every((id, i) => rows[r][i] === id) ?? false);
    const cached = extendsCache ? cachedLength : 0;
    this.arrangeCache(sources, cached, rows.length);

    let logits: HostTensor | undefined;
    for (let position = cached; position < length; position++) {
      logits = await this.runStep(
        rows.map((row) => row[position]),
        position,
      );
    }
    this.cachedRows = rows.map((row) => row.slice(0, length));
    const { vocab } = this.shape;
    const data = (logits as HostTensor).data as Float32Array;
    return asked.map((_row, r) => data.slice(r * vocab, (r + 1) * vocab));
  };

  /** Row r of the cache becomes row `sources[r]` of the previous one; an empty cache when nothing is kept. */
  private arrangeCache(sources: readonly number[], kept: number, batch: number): void {
    const { layers, heads, headDim } = this.shape;
    const rowSize = heads * this.capacity * headDim;
    const identity = kept > 0 && batch === this.batch && sources.every((s, r) => s === r);
    if (identity) return;
    const rearrange = (old: Float32Array | undefined) => {
      const next = new Float32Array(batch * rowSize);
      if (old && kept > 0) {
        for (const [r, s] of sources.entries())
          next.set(old.subarray(s * rowSize, (s + 1) * rowSize), r * rowSize);
      }
      return next;
    };
    this.keys = Array.from({ length: layers }, (_, i) => rearrange(this.keys[i]));
    this.values = Array.from({ length: layers }, (_, i) => rearrange(this.values[i]));
    this.batch = batch;
  }

  private async runStep(ids: readonly number[], position: number): Promise<HostTensor> {
    const { layers, heads, headDim } = this.shape;
    const batch = this.batch;
    const graph = await this.decoder.stepGraph(batch, this.cross, this.capacity);
    const selfMask = new Float32Array(this.capacity + 1).fill(SELF_ATTENTION_MASKED);
    selfMask.fill(0, 0, position);
    selfMask[this.capacity] = 0;
    const feeds: Record<string, HostTensor> = {
      ...this.cross.feeds,
      input_ids: { data: BigInt64Array.from(ids, BigInt), shape: [batch, 1] },
      position: { data: BigInt64Array.of(BigInt(position)), shape: [1] },
      self_mask: { data: selfMask, shape: [1, 1, 1, this.capacity + 1] },
    };
    const cacheShape = [batch, heads, this.capacity, headDim];
    for (let i = 0; i < layers; i++) {
      feeds[pastKeyName(i)] = { data: this.keys[i], shape: cacheShape };
      feeds[pastValueName(i)] = { data: this.values[i], shape: cacheShape };
    }
    const out = await graph.run(feeds);
    for (let i = 0; i < layers; i++) {
      writeSlot(this.keys[i], out[newKeyName(i)].data as Float32Array, position, this.capacity, headDim);
      writeSlot(this.values[i], out[newValueName(i)].data as Float32Array, position, this.capacity, headDim);
    }
    return out.logits;
  }
}

/** Copies each [row, head] vector of `fresh` [B, heads, 1, head_dim] into slot `position` of `cache`. */
function writeSlot(
  cache: Float32Array,
  fresh: Float32Array,
  position: number,
  capacity: number,
  headDim: number,
): void {
  for (let rowHead = 0; rowHead < fresh.length / headDim; rowHead++) {
    cache.set(
      fresh.subarray(rowHead * headDim, (rowHead + 1) * headDim),
      (rowHead * capacity + position) * headDim,
    );
  }
}

/**
 * The step graph's runtime options with ONNX Runtime's weight pre-packing back on (session.ts turns it off):
 * with several rows (beams) every matrix product of a step is a small GEMM whose weight matrix MLAS would
 * otherwise repack on every call. Measured on blip-image-captioning-base shapes (random weights, 2 threads,
 * interleaved A/B on a loaded machine): 3 rows 1100 → 600-780 ms a step, 1 row unchanged within noise; the
 * cost is a packed copy of the decoder weights (~0.5 GB for the base model). Caller-given session options win.
 */
function withPrepackedWeights(runtime: RuntimeOptions): RuntimeOptions {
  if (runtime.sessionOptions) return runtime;
  // `extra` replaces session.ts's whole block, so its denormal setting is repeated here.
  const session = { set_denormal_as_zero: '1', disable_prepacking: '0' };
  return { ...runtime, sessionOptions: { extra: { session } } };
}
