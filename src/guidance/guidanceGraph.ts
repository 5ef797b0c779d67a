import { UserError } from '../errors.ts';
import * as G from '../graph/index.ts';
import type { AttentionLayerInfo } from '../models/unet/attention.ts';
import type { UNet2DConditionModel } from '../models/unet/index.ts';
import { CompiledGraph, type RuntimeOptions } from '../runtime/session.ts';
import { type AttentionLayer, crossAttentionMaps, subsampledCrossAttentionMaps } from './attentionMaps.ts';
import type { LossEvaluation } from './gsnPhase.ts';
import { type GuidanceMethod, type GuidanceTokens, guidanceMethod } from './methods/index.ts';
import { smoothMaps } from './smoothing.ts';
import { tokenMaps } from './tokenMaps.ts';
import type { TvVariant } from './totalVariation.ts';

/** Probabilities smaller than this (bytes, float32) are kept for the gradient rather than recomputed. */
const KEEP_PROBS_BELOW = 128 * 2 ** 20;

/** What determines the shape of a guidance graph; token positions are inputs, so one graph serves many prompts. */
export interface GuidanceGraphSpec {
  readonly method: GuidanceMethod;
  readonly tv: TvVariant;
  /** Number of object tokens. */
  readonly objects: number;
  /** The method's objective reads the finer layers' maps too (D&B with at least one attribute). */
  readonly finerLayers: boolean;
  readonly attentionRes: number;
  /** Latent height and width. */
  readonly height: number;
  readonly width: number;
  /** Text tokens (77). */
  readonly keys: number;
  /**
   * The UNet sees the latent divided by a fed divisor (SDXL: Euler's sqrt(σ² + 1), as its CFG pass does) while
   * the gradient is taken with respect to the latent itself. Off, the loss pass sees the latent, as the official
   * SD code feeds it.
   */
  readonly scaledInput: boolean;
}

export type { GuidanceTokens } from './methods/index.ts';

/** The conditioning of the loss pass by graph input name: `encoder_hidden_states`, and SDXL's added inputs. */
export type Conditioning = Readonly<Record<string, Float32Array>>;

export interface GuidanceEvaluation extends LossEvaluation {
  /** The smoothed object maps [k, attentionRes, attentionRes], for the trace and the studio. */
  readonly maps: Float32Array;
}

/**
 * The guidance graph: a batch-1 conditional UNet pass up to the last attention layer the loss reads, the
 * objective, and its gradient with respect to the latent, compiled into one ONNX model so that each loss
 * evaluation is one ONNX Runtime run. Layers after the last used attention are never emitted.
 */
export class GuidanceGraph {
  private constructor(
    readonly spec: GuidanceGraphSpec,
    /** The compiled model, for benchmarks (FLOPs, timings). */
    readonly compiled: CompiledGraph,
  ) {}

  static async compile(
    unet: UNet2DConditionModel,
    spec: GuidanceGraphSpec,
    runtime: RuntimeOptions = {},
  ): Promise<GuidanceGraph> {
    // Keyed on the UNet and the spec, so a warm start neither builds nor serialises the graph.
    const key = unet.graphKey({ graph: 'guidance', spec });
    const compiled = await CompiledGraph.compileCached(
      key,
      () => guidanceOutputs(unet, spec),
      runtime,
      'guidance',
    );
    return new GuidanceGraph(spec, compiled);
  }

  /**
   * One loss evaluation at `latent` (batch 1) and timestep `t` with the conditional branch's conditioning, at
   * loop index `loopIndex` (the method's feeds may depend on it); `sampleDivisor` is what the UNet's input is
   * divided by when the spec scales it (the scheduler's `modelInputDivisor`).
   */
  async evaluate(
    latent: Float32Array,
    timestep: number,
    conditioning: Conditioning,
    tokens: GuidanceTokens,
    loopIndex: number,
    sampleDivisor = 1,
  ): Promise<GuidanceEvaluation> {
    const { method, finerLayers, scaledInput } = this.spec;
    const feeds: Record<string, G.TypedData> = {
      ...conditioning,
      sample: latent,
      timestep: Float32Array.of(timestep),
      // The graph takes 0-based columns of the 75-token softmax: official position − 1.
      object_positions: BigInt64Array.from(tokens.objects, (p) => BigInt(p - 1)),
      ...guidanceMethod(method).feeds(tokens, loopIndex, finerLayers),
    };
    if (scaledInput) feeds.sample_divisor = Float32Array.of(sampleDivisor);
    const out = await this.compiled.run(feeds);
    const numbers = (name: string) => Array.from(out[name].data as Float32Array);
    return {
      loss: numbers('loss')[0],
      indicator: numbers('indicator')[0],
      gradient: out.gradient.data as Float32Array,
      maxAttention: numbers('max_attention'),
      totalVariation: out.total_variation ? numbers('total_variation') : undefined,
      maps: out.maps.data as Float32Array,
    };
  }

  release(): Promise<void> {
    return this.compiled.release();
  }
}

/**
 * The guidance graph's outputs: the loss, the indicator, the gradient with respect to the latent, the max
 * attention, the smoothed maps and (D&B) the total variations.
 */
function guidanceOutputs(unet: UNet2DConditionModel, spec: GuidanceGraphSpec): Record<string, G.Value> {
  const g = new G.Graph();
  const inputs = unet.declareInputs(g, {
    batch: 1,
    height: spec.height,
    width: spec.width,
    keys: spec.keys,
  });
  const used = (layer: { kind: string; resolution: readonly [number, number] }) =>
    layer.kind === 'cross' &&
    (layer.resolution[0] === spec.attentionRes ||
      (spec.finerLayers && layer.resolution[0] > spec.attentionRes));
  const latent = inputs.sample;
  const sample = spec.scaledInput ? G.div(latent, g.input('sample_divisor', [])) : latent;
  // Layers the loss reads, and layers whose probabilities are small, keep explicit probabilities. The others
  // run fused forward and recompute their probabilities in query chunks for the gradient, so no large
  // [H, N, N] tensor is kept for the backward pass (8 × 4096² floats = 512 MiB per 64×64 self-attention).
  // Below the threshold, keeping is cheaper: recomputing made a 256 px tv_bind iteration 1.76 → 2.35 s.
  const probsBytes = (layer: AttentionLayerInfo) => {
    const queries = layer.resolution[0] * layer.resolution[1];
    return layer.heads * queries * (layer.kind === 'self' ? queries : spec.keys) * 4;
  };
  const materialize = (layer: AttentionLayerInfo) => used(layer) || probsBytes(layer) < KEEP_PROBS_BELOW;
  const forward = unet.forward(g, { ...inputs, sample }, { materialize });
  const attention = forward.attention.filter(used);
  const layers = forward.layers;
  checkResolution(layers, spec.attentionRes);

  const objectPositions = g.input('object_positions', [spec.objects], 'int64');
  const objectMaps = smoothMaps(tokenMaps(crossAttentionMaps(attention, spec.attentionRes), objectPositions));
  const objective = guidanceMethod(spec.method).objective(
    {
      objectMaps,
      objects: spec.objects,
      tv: spec.tv,
      finerMaps: (positions) =>
        smoothMaps(
          tokenMaps(
            subsampledCrossAttentionMaps(attention as readonly AttentionLayer[], spec.attentionRes),
            positions,
          ),
        ),
      input: (name, shape, dtype) => g.input(name, shape, dtype),
    },
    spec.finerLayers,
  );
  const [gradient] = G.grad(objective.loss, [latent]);
  const outputs: Record<string, G.Value> = {
    loss: objective.loss,
    indicator: objective.indicator,
    gradient,
    max_attention: objective.maxAttention,
    maps: objectMaps,
  };
  if (objective.totalVariation) outputs.total_variation = objective.totalVariation;
  return outputs;
}

function checkResolution(
  layers: readonly { kind: string; resolution: readonly [number, number] }[],
  attentionRes: number,
): void {
  const sides = [...new Set(layers.filter((l) => l.kind === 'cross').map((l) => l.resolution[0]))];
  if (!sides.includes(attentionRes)) {
    throw new UserError(
      `no cross-attention layer works at ${attentionRes}×${attentionRes} for this image size; ` +
        `use --attention-res with one of ${sides.sort((a, b) => b - a).join(', ')}`,
    );
  }
}
