import { readFile, rm } from 'node:fs/promises';
import { arch } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { allocate, type DType, isDataOf, type TypedData } from '../graph/dtype.ts';
import { countFlops, type FlopCount } from '../graph/flops.ts';
import type { Value } from '../graph/graph.ts';
import { serialize } from '../graph/onnx.ts';
import { formatShape, type Shape, sameShape, sizeOf } from '../graph/shape.ts';
import {
  cacheModel,
  defaultCacheDir,
  type EntryManifest,
  type GraphKey,
  keyedEntry,
  MANIFEST,
  readEntryManifest,
  removeStaleEntriesOnce,
  removeSupersededEntries,
  writeEntry,
} from './cache.ts';
import { createOptimizedSession, type OptimizedModelUse } from './optimizedModel.ts';
import { assertProviderLoadable, type Device, providerUnavailable, sessionLogSeverity } from './providers.ts';
import { flushesSubnormals } from './subnormals.ts';

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
  /**
   * `compileCached` on the CPU: keep ONNX Runtime's optimised model in the cache entry and load it with
   * optimisation off on later starts (default true: session creation ~15× faster for an SD 1.5 UNet). It costs
   * the disk space of ORT's transformed copy of the graph's weights (3.2 GiB for that UNet); false keeps only
   * our model, which reads the weights from the original files: the cache then holds graphs only.
   */
  optimizedModel?: boolean;
}

const ORT_TYPE: Record<DType, ort.Tensor.Type> = {
  float32: 'float32',
  float64: 'float64',
  float16: 'float16',
  bfloat16: 'bfloat16' as ort.Tensor.Type,
  int64: 'int64',
  bool: 'bool',
};

/** Name, shape and dtype of one graph input or output. */
export interface TensorSignature {
  readonly name: string;
  readonly shape: Shape;
  readonly dtype: DType;
}

/** What a keyed graph's `graph.json` records, so a warm start needs neither to build nor to serialise it. */
interface GraphManifest extends EntryManifest {
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  readonly flops: FlopCount;
  /** The key without code version and file times (`KeyedEntry.lineage`), to find superseded entries. */
  readonly lineage: string;
}

/** Seconds each start-up part took for one graph; parts a warm start skips are 0. */
export interface CompileTimings {
  /**
   * Computing the cache key: the code version and the removal of stale entries (both once per process), the
   * key's files' identities.
   */
  readonly keyS: number;
  /** Building the symbolic graph (the caller's model builder). */
  readonly buildS: number;
  /** Serialising it to ONNX bytes (and counting its FLOPs). */
  readonly serializeS: number;
  /** Hashing and writing the cache entry (model, manifest). */
  readonly cacheS: number;
  /** ONNX Runtime's session creation: loading the model and its weights, optimising the graph. */
  readonly sessionS: number;
  /** Whether the compiled model came from the cache. */
  readonly cached: boolean;
  /** Whether the session was loaded from ONNX Runtime's saved optimised model, saved it, or did neither. */
  readonly optimized: OptimizedModelUse;
}

/** A graph compiled to an ONNX model (cached on disk) and loaded in an ONNX Runtime session. */
export class CompiledGraph {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly inputSignatures: readonly TensorSignature[],
    readonly outputTypes: Readonly<Record<string, { shape: Shape; dtype: DType }>>,
    /** Path of the cached .onnx file. */
    readonly path: string,
    private readonly countedFlops: () => FlopCount,
    /** How long each part of this graph's start-up took. */
    readonly timings: CompileTimings,
  ) {}

  /** FLOPs of the graph as compiled (only what the outputs need), counted from its nodes. */
  flops(): FlopCount {
    return this.countedFlops();
  }

  /**
   * Serialises the graph of `outputs`, caches the model under a hash of its bytes and loads it. The graph is
   * built (by the caller) and serialised on every start; `compileCached` skips both on a warm start.
   */
  static async compile(
    outputs: Record<string, Value>,
    runtime: RuntimeOptions = {},
    name = 'graph',
  ): Promise<CompiledGraph> {
    const { cacheDir = defaultCacheDir() } = runtime;
    const t0 = performance.now();
    const model = serialize(outputs, name);
    const t1 = performance.now();
    await removeStaleEntriesOnce(cacheDir);
    const { path } = await cacheModel(model, cacheDir);
    const t2 = performance.now();
    const session = await createSession({ model: model.bytes, weightsRoot: model.weightsRoot }, runtime);
    const t3 = performance.now();
    const seconds = (a: number, b: number) => (b - a) / 1000;
    return new CompiledGraph(
      session,
      model.inputs.map(({ name: n, value }) => ({ name: n, shape: value.shape, dtype: value.dtype })),
      outputTypesOf(outputs),
      path,
      () => countFlops(Object.values(outputs)),
      {
        keyS: 0,
        buildS: 0,
        serializeS: seconds(t0, t1),
        cacheS: seconds(t1, t2),
        sessionS: seconds(t2, t3),
        cached: false,
        optimized: 'off',
      },
    );
  }

  /**
   * Loads the graph that `key` determines from the cache, and only on a miss calls `build` for its outputs,
   * serialises and caches it. A warm start thus neither builds nor serialises: it hashes the key (the files'
   * identities, the spec, the code version), reads a small manifest, checks the weight files it names and
   * creates the session. The first compile of a process in a cache folder removes the entries whose weight files
   * are gone (removeStaleEntries), and so does every miss.
   *
   * `key` must name everything `build` depends on (see `GraphKey`); `build` must return the same outputs for
   * the same key. `name` is part of the key too.
   */
  static async compileCached(
    key: GraphKey,
    build: () => Record<string, Value>,
    runtime: RuntimeOptions = {},
    name = 'graph',
  ): Promise<CompiledGraph> {
    const { cacheDir = defaultCacheDir() } = runtime;
    const seconds = (a: number, b: number) => (b - a) / 1000;
    const t0 = performance.now();
    await removeStaleEntriesOnce(cacheDir);
    const { folder, lineage } = await keyedEntry(name, key, cacheDir);
    const path = join(folder, 'model.onnx');
    let manifest = await readEntryManifest<GraphManifest>(folder);
    const t1 = performance.now();
    let [buildS, serializeS, cacheS] = [0, 0, 0];
    const cached = manifest !== undefined;
    if (!manifest) {
      // An entry without a readable manifest or whose weight files changed is damaged or stale (complete
      // entries appear at once, by rename): replace it.
      await rm(folder, { recursive: true, force: true });
      const outputs = build();
      const t2 = performance.now();
      const model = serialize(outputs, name);
      const fields = {
        inputs: model.inputs.map(({ name: n, value }) => ({
          name: n,
          shape: value.shape,
          dtype: value.dtype,
        })),
        outputs: Object.entries(outputs).map(([n, v]) => ({ name: n, shape: v.shape, dtype: v.dtype })),
        flops: countFlops(Object.values(outputs)),
        lineage,
      };
      const t3 = performance.now();
      manifest = (await writeEntry(folder, model, cacheDir, fields)).manifest;
      await removeSupersededEntries(cacheDir, lineage, folder, async (other) => {
        try {
          return (JSON.parse(await readFile(join(other, MANIFEST), 'utf8')) as GraphManifest).lineage;
        } catch {
          return undefined; // not a keyed entry's manifest, or one being replaced: leave it
        }
      });
      [buildS, serializeS, cacheS] = [seconds(t1, t2), seconds(t2, t3), seconds(t3, performance.now())];
    }
    const t4 = performance.now();
    const device = runtime.device ?? 'cpu';
    const own: ModelSource = { model: path, weightsRoot: manifest.weightsRoot };
    const { session, optimized } =
      device === 'cpu' && runtime.optimizedModel !== false
        ? await createOptimizedSession(
            folder,
            own,
            sessionOptionsFor(runtime),
            ORT_VERSION,
            (source, options) => createSession(source, runtime, options),
          )
        : { session: await createSession(own, runtime), optimized: 'off' as const };
    const sessionS = seconds(t4, performance.now());
    const { flops } = manifest;
    return new CompiledGraph(
      session,
      manifest.inputs,
      Object.fromEntries(manifest.outputs.map((o) => [o.name, { shape: o.shape, dtype: o.dtype }])),
      path,
      () => flops,
      { keyS: seconds(t0, t1), buildS, serializeS, cacheS, sessionS, cached, optimized },
    );
  }

  /** Names, shapes and dtypes of the inputs the graph needs. */
  get inputs(): readonly TensorSignature[] {
    return this.inputSignatures;
  }

  async run(feeds: Record<string, TypedData | HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const input of this.inputSignatures) {
      ortFeeds[input.name] = toOrtTensor(input, feeds[input.name]);
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

const ORT_VERSION = ort.env.versions?.node ?? ort.env.versions?.common ?? 'unknown';

function outputTypesOf(outputs: Record<string, Value>): Record<string, { shape: Shape; dtype: DType }> {
  return Object.fromEntries(
    Object.entries(outputs).map(([key, v]) => [key, { shape: v.shape, dtype: v.dtype }]),
  );
}

/**
 * Our session options, with the caller's `sessionOptions` on top; their `extra.session` entries are merged into
 * ours rather than replacing them, so a benchmark that sets one entry keeps the subnormal flag.
 */
export function sessionOptionsFor({
  device = 'cpu',
  threads,
  sessionOptions = {},
}: RuntimeOptions): ort.InferenceSession.SessionOptions {
  const extra = (sessionOptions.extra ?? {}) as { session?: Record<string, string> };
  return {
    executionProviders: [device],
    graphOptimizationLevel: 'all',
    logSeverityLevel: sessionLogSeverity(),
    // A memory pattern keeps a second, planned block beside the arena's first-run blocks (+2.5 GiB for a
    // 512 px tv_bind guidance graph from its second run on); without it the arena reuses its blocks.
    enableMemPattern: false,
    ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
    ...sessionOptions,
    extra: {
      ...extra,
      session: {
        // Gradients of small losses underflow into subnormal floats, which some CPUs handle ~100x slower.
        // ONNX Runtime sets the flag on its pool threads and, once per process, on the thread that creates
        // the first session; onnxruntime-node creates and runs sessions on the JS main thread, so both
        // threads of a run flush (bench/RESULTS.md, "Subnormals"). Values below 1.2e-38 change nothing.
        set_denormal_as_zero: '1',
        // Pre-packed weights are kept beside the originals: +2.4 GiB per SD 1.5 UNet session, for no
        // measurable speed-up here (bench/RESULTS.md).
        disable_prepacking: '1',
        ...extra.session,
      },
    },
  };
}

/**
 * What a session loads: ONNX Runtime's own saved model (a path; its external data lies beside it), or one of our
 * models (its bytes or the path of its `model.onnx`) with the folder its weights' locations are relative to.
 */
type ModelSource = string | { readonly model: string | Uint8Array; readonly weightsRoot: string | undefined };

/**
 * Creates a session. Our models are loaded from their bytes with `model_external_initializers_file_folder_path`
 * set to their weights root: ONNX Runtime then reads each weight where it lies (locations are real paths under
 * that folder, which it requires), so the model needs no link or copy of the weights beside it.
 */
async function createSession(
  source: ModelSource,
  runtime: RuntimeOptions,
  options = sessionOptionsFor(runtime),
): Promise<ort.InferenceSession> {
  const device = runtime.device ?? 'cpu';
  // Refused before Dawn starts where it cannot work, so its native warnings never print (providers.ts).
  assertProviderLoadable(device);
  let session: ort.InferenceSession;
  try {
    if (typeof source === 'string') session = await ort.InferenceSession.create(source, options);
    else {
      const bytes = typeof source.model === 'string' ? await readFile(source.model) : source.model;
      session = await ort.InferenceSession.create(bytes, withWeightsRoot(options, source.weightsRoot));
    }
  } catch (error) {
    if (device !== 'cpu') throw providerUnavailable(device, error);
    throw error;
  }
  if (device === 'cpu') warnIfSubnormalsAreSlow();
  return session;
}

/** `options` with the weights root as ONNX Runtime's external data folder, beside the caller's session entries. */
function withWeightsRoot(
  options: ort.InferenceSession.SessionOptions,
  weightsRoot: string | undefined,
): ort.InferenceSession.SessionOptions {
  if (weightsRoot === undefined) return options;
  const extra = (options.extra ?? {}) as { session?: Record<string, string> };
  return {
    ...options,
    extra: {
      ...extra,
      session: { ...extra.session, model_external_initializers_file_folder_path: weightsRoot },
    },
  };
}

let subnormalsChecked = false;

/**
 * Says once per process when the thread that runs sessions keeps subnormal floats: ONNX Runtime sets the flags
 * there only for the process's first session, so a session created earlier without them (by other code)
 * leaves every run's calling-thread share slow where the CPU penalises subnormals (flushesSubnormals).
 */
function warnIfSubnormalsAreSlow(): void {
  if (subnormalsChecked || arch() !== 'x64') return;
  subnormalsChecked = true;
  if (!flushesSubnormals()) {
    process.emitWarning(
      'this thread does not flush subnormal floats: the first ONNX Runtime session of this process was created ' +
        'without session.set_denormal_as_zero, and ONNX Runtime sets it only then; guidance gradients may run ' +
        'slower. Create a divide-and-bind graph before other ONNX Runtime sessions.',
      { code: 'DNB_SUBNORMALS' },
    );
  }
}

/** Checks a feed against the graph input it is for; ONNX Runtime's own errors do not name the input. */
function toOrtTensor(input: TensorSignature, feed: TypedData | HostTensor | undefined): ort.Tensor {
  const needs = `graph input "${input.name}" needs ${formatShape(input.shape)} ${input.dtype}`;
  if (feed === undefined) {
    throw new Error(`graph input "${input.name}" (${formatShape(input.shape)} ${input.dtype}) was not given`);
  }
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
