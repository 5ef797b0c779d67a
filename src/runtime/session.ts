import ort from 'onnxruntime-node';
import { allocate, type DType, isDataOf, type TypedData } from '../graph/dtype.ts';
import { countFlops, type FlopCount } from '../graph/flops.ts';
import type { Value } from '../graph/graph.ts';
import { type SerializedModel, serialize } from '../graph/onnx.ts';
import { formatShape, type Shape, sameShape, sizeOf } from '../graph/shape.ts';
import { cacheModel, defaultCacheDir } from './cache.ts';
import { type Device, providerUnavailable, sessionLogSeverity } from './providers.ts';

/** A tensor on the JavaScript side: its data (half floats as raw Uint16 bits) and shape. */
export interface HostTensor {
  readonly data: TypedData;
  readonly shape: Shape;
}

export interface RuntimeOptions {
  device?: Device;
  /** Intra-op threads; ONNX Runtime's default (all cores) when omitted. */
  threads?: number;
  cacheDir?: string;
  /** ONNX Runtime session options that override ours (for benchmarks that compare settings). */
  sessionOptions?: Partial<ort.InferenceSession.SessionOptions>;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  bfloat16: 'bfloat16' as ort.Tensor.Type,
  int64: 'int64',
  bool: 'bool',
};

/** A graph compiled to an ONNX model (cached on disk) and loaded in an ONNX Runtime session. */
export class CompiledGraph {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly model: SerializedModel,
    readonly outputTypes: Readonly<Record<string, { shape: Shape; dtype: DType }>>,
    /** Path of the cached .onnx file. */
    readonly path: string,
    private readonly outputs: Readonly<Record<string, Value>>,
  ) {}

  /** FLOPs of the graph as compiled (only what the outputs need), counted from its nodes. */
  flops(): FlopCount {
    return countFlops(Object.values(this.outputs));
  }

  static async compile(
    outputs: Record<string, Value>,
    { device = 'cpu', threads, cacheDir = defaultCacheDir(), sessionOptions }: RuntimeOptions = {},
    name = 'graph',
  ): Promise<CompiledGraph> {
    const model = serialize(outputs, name);
    const path = await cacheModel(model, cacheDir);
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: [device],
      graphOptimizationLevel: 'all',
      logSeverityLevel: sessionLogSeverity(),
      // A memory pattern keeps a second, planned block beside the arena's first-run blocks (+2.5 GiB for a
      // 512 px tv_bind guidance graph from its second run on); without it the arena reuses its blocks.
      enableMemPattern: false,
      extra: {
        session: {
          // Gradients of small losses underflow into subnormal floats, which the CPU handles ~100x slower:
          // flushing them made a GSN iteration 2.5x faster on SD 1.5 shapes; values below 1.2e-38 change nothing.
          set_denormal_as_zero: '1',
          // Pre-packed weights are kept beside the originals: +2.4 GiB per SD 1.5 UNet session, for no
          // measurable speed-up here (bench/RESULTS.md).
          disable_prepacking: '1',
        },
      },
      ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
      ...sessionOptions,
    };
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, options);
    } catch (error) {
      if (device !== 'cpu') throw providerUnavailable(device, error);
      throw error;
    }
    const types = Object.fromEntries(
      Object.entries(outputs).map(([key, v]) => [key, { shape: v.shape, dtype: v.dtype }]),
    );
    return new CompiledGraph(session, model, types, path, outputs);
  }

  /** Names, shapes and dtypes of the inputs the graph needs. */
  get inputs(): readonly { name: string; shape: Shape; dtype: DType }[] {
    return this.model.inputs.map(({ name, value }) => ({ name, shape: value.shape, dtype: value.dtype }));
  }

  async run(feeds: Record<string, TypedData | HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const { name, value } of this.model.inputs) {
      ortFeeds[name] = toOrtTensor(name, value, feeds[name]);
    }
    const results = await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const [name, type] of Object.entries(this.outputTypes)) {
      const tensor = results[name];
      const data =
        type.dtype === 'bool'
          ? Uint8Array.from(tensor.data as ArrayLike<number>)
          : (tensor.data as TypedData);
      out[name] = { data, shape: type.shape };
    }
    return out;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

/** Checks a feed against the graph input it is for; ONNX Runtime's own errors do not name the input. */
function toOrtTensor(name: string, input: Value, feed: TypedData | HostTensor | undefined): ort.Tensor {
  const needs = `graph input "${name}" needs ${formatShape(input.shape)} ${input.dtype}`;
  if (feed === undefined) throw new Error(`graph input "${name}" (${input}) was not given`);
  const data = ArrayBuffer.isView(feed) ? feed : feed.data;
  if (!ArrayBuffer.isView(feed) && !sameShape(feed.shape, input.shape)) {
    throw new Error(`${needs}, got shape ${formatShape(feed.shape)}`);
  }
  if (!isDataOf(input.dtype, data))
    throw new Error(`${needs}, got a ${(data as ArrayBufferView).constructor.name}`);
  if (data.length !== sizeOf(input.shape)) throw new Error(`${needs}, got ${data.length} elements`);
  return new ort.Tensor(ORT_TYPE[input.dtype], data as never, [...input.shape]);
}

/** A zero-filled host tensor, handy for feeds. */
export function hostZeros(shape: Shape, dtype: DType = 'float32'): HostTensor {
  return { data: allocate(dtype, sizeOf(shape)), shape };
}
