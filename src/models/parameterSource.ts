import { Graph, type Value } from '../graph/graph.ts';
import type { WeightIndex } from '../weights/weightIndex.ts';

/**
 * What a model builder needs from its weights: `ModelParameters` (real weights bound as initializers)
 * and `TensorRecorder` (names and shapes only) both provide it.
 */
export interface ParameterSource {
  readonly graph: Graph;
  /** The weight `name` (relative to the scope), which the config says has `shape`. */
  get(name: string, shape: readonly number[]): Value;
  /** Whether the files hold `name` (relative to the scope). */
  has(name: string): boolean;
  scope(name: string): ParameterSource;
}

/**
 * Records the tensors a builder asks for without touching the files: each becomes a graph input of the
 * requested shape on a throwaway graph, so the builder's shape rules still run. `has` answers from the
 * real weights, so builders that accept alternative names (legacy VAE attention) choose as they will
 * with the real weights.
 */
export class TensorRecorder implements ParameterSource {
  constructor(
    readonly weights: WeightIndex,
    readonly graph: Graph = new Graph(),
    private readonly prefix = '',
    readonly requested: Map<string, readonly number[]> = new Map(),
  ) {}

  get(name: string, shape: readonly number[]): Value {
    const full = this.join(name);
    this.requested.set(full, [...shape]);
    return this.graph.input(`weight:${full}`, shape, 'float32');
  }

  has(name: string): boolean {
    return this.weights.tensors.has(this.join(name));
  }

  scope(name: string): TensorRecorder {
    return new TensorRecorder(this.weights, this.graph, this.join(name), this.requested);
  }

  private join(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }
}

/** The tensors (name → shape) that `build` reads from `weights`, found without reading any tensor data. */
export function expectedTensors(
  weights: WeightIndex,
  build: (params: ParameterSource) => void,
): Map<string, readonly number[]> {
  const recorder = new TensorRecorder(weights);
  build(recorder);
  return recorder.requested;
}
