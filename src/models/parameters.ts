import { UserError } from '../errors.ts';
import type { Graph, Value } from '../graph/graph.ts';
import { type DType, GraphError } from '../graph/index.ts';
import { cast } from '../graph/ops/cast.ts';
import { transpose } from '../graph/ops/transpose.ts';
import type { Dtype } from '../weights/dtypes.ts';
import type { WeightIndex } from '../weights/weightIndex.ts';

const GRAPH_DTYPE: Partial<Record<Dtype, DType>> = {
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  F64: 'float64',
  I64: 'int64',
};

/**
 * Hands a model's weights to the graph builder by name: each becomes an external initializer that points into
 * its safetensors file, cast to the compute dtype in the graph (ONNX Runtime folds the cast once at load).
 * Records every name and shape asked for, so the loader can check the files hold exactly what the config
 * implies (see `checkTensors`).
 */
export class ModelParameters {
  constructor(
    readonly graph: Graph,
    readonly weights: WeightIndex,
    readonly dtype: DType = 'float32',
    private readonly prefix = '',
    readonly requested: Map<string, readonly number[]> = new Map(),
  ) {}

  /** A view whose names are prefixed, e.g. `params.scope('down_blocks.0')`. */
  scope(name: string): ModelParameters {
    return new ModelParameters(this.graph, this.weights, this.dtype, this.join(name), this.requested);
  }

  /** The weight `name` (relative to the scope), which the config says has `shape`. */
  get(name: string, shape: readonly number[]): Value {
    const full = this.join(name);
    this.requested.set(full, shape);
    const { file, info, transposed } = this.weights.get(full);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new UserError(
        `${file.path}: "${full}" has shape [${info.shape}], but the model's config.json implies [${shape}]`,
      );
    }
    const stored = GRAPH_DTYPE[info.dtype];
    if (!stored)
      throw new UserError(`${file.path}: "${full}" is ${info.dtype}, which a model weight cannot be`);
    try {
      // A tensor stored transposed (single-file checkpoints' text_projection) is read as stored, then transposed.
      const value = this.graph.external(
        { file: file.path, byteOffset: info.byteOffset, byteLength: info.byteLength, name: full },
        transposed ? [...shape].reverse() : shape,
        stored,
      );
      return cast(transposed ? transpose(value, [1, 0]) : value, this.dtype);
    } catch (error) {
      if (error instanceof GraphError) throw new UserError(`${file.path}: ${error.message}`);
      throw error;
    }
  }

  /** Whether the files hold `name` (for optional weights such as biases). */
  has(name: string): boolean {
    return this.weights.tensors.has(this.join(name));
  }

  private join(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }
}
