import { accessSync, constants, realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, relative, sep } from 'node:path';
import type onnxProto from 'onnx-proto';
import { UserError } from '../errors.ts';
import { byteSize, type DType, fromNumbers, onnxElementType, type TypedData } from './dtype.ts';
import { GraphError } from './errors.ts';
import type { Emitter, Leaf, Node, OnnxAttrs, Value } from './graph.ts';
import type { Shape } from './shape.ts';

/**
 * The ONNX protobuf classes, loaded on the first serialisation: they take ~0.13 s to load, and a warm start, which
 * finds every graph in the cache, serialises nothing. Loaded synchronously (`serialize` is synchronous) from
 * onnx-proto's CommonJS entry.
 */
let protos: typeof onnxProto | undefined;
function onnxProtos(): typeof onnxProto.onnx {
  protos ??= createRequire(import.meta.url)('onnx-proto') as typeof onnxProto;
  return protos.onnx;
}

/** Opset 21 has GroupNormalization with per-channel scale and bias, like PyTorch. */
export const OPSET = 21;
/** Versions of the other operator sets a model may use (only imported when a node does). */
const DOMAIN_VERSIONS: Record<string, number> = { 'com.microsoft': 1 };
const IR_VERSION = 10;

export interface SerializedModel {
  /** The ModelProto bytes. */
  readonly bytes: Uint8Array;
  /** Graph inputs in declaration order. */
  readonly inputs: readonly { name: string; value: Value }[];
  readonly outputNames: readonly string[];
  /**
   * The deepest folder holding the real path of every weight file (symbolic links resolved, as in a Hugging
   * Face snapshot whose files link into `../../blobs`); each initializer's external data `location` is its
   * file's real path relative to it. Undefined when the graph has no weights. ONNX Runtime takes it as
   * `model_external_initializers_file_folder_path` and refuses a location whose real path leaves it, hence
   * real paths: the weights are read where they lie, with no link and no copy.
   */
  readonly weightsRoot: string | undefined;
  /** Real paths of the weight files, in order of first use. */
  readonly weightFiles: readonly string[];
}

/**
 * Serialises the part of a graph that `outputs` need into an ONNX model. Only ancestors of the outputs are
 * emitted, so dead nodes (e.g. gradients nobody reads) never reach the runtime. Weights become initializers
 * with external data pointing into their original files by offset. Synchronous (realpathSync): resolving a few
 * weight paths costs microseconds, and callers serialise inside plain functions.
 */
export function serialize(outputs: Record<string, Value>, name = 'graph'): SerializedModel {
  const onnx = onnxProtos();
  const { nodes, leaves } = collect(Object.values(outputs));
  const weights = weightLocations(leaves);
  const builder = new ModelBuilder(Object.keys(outputs), weights.locations);
  // Inputs first: their names are the caller's and must survive; constants and weights are named around them.
  const isInput = (v: Value) => (v.origin as Leaf).kind === 'input';
  for (const leaf of [...leaves.filter(isInput), ...leaves.filter((v) => !isInput(v))]) builder.leaf(leaf);
  for (const node of nodes) {
    const inputNames = node.inputs.map((v) => builder.nameOf(v));
    const outputNames = node.outputs.map((v) => builder.nameOf(v));
    node.op.emit(builder, inputNames, outputNames, node.attrs, node as Node<never>);
  }
  const outputInfos = Object.entries(outputs).map(([outputName, value]) => {
    builder.node('Identity', [builder.nameOf(value)], [outputName]);
    return valueInfo(outputName, value.shape, value.dtype);
  });
  const graph = onnx.GraphProto.create({
    name,
    node: builder.nodes,
    initializer: builder.initializers,
    input: builder.inputs.map(({ name: n, value }) => valueInfo(n, value.shape, value.dtype)),
    output: outputInfos,
  });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    producerName: 'divide-and-bind',
    opsetImport: [
      { domain: '', version: OPSET },
      ...[...builder.domains].map((domain) => ({ domain, version: DOMAIN_VERSIONS[domain] ?? 1 })),
    ],
    graph,
  });
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    inputs: builder.inputs,
    outputNames: Object.keys(outputs),
    weightsRoot: weights.root,
    weightFiles: weights.files,
  };
}

/**
 * The weights root of a graph's weight files and each file's location under it (by the file name the tensors
 * give). A file that cannot be resolved or read is the user's to fix, so it is a UserError naming it.
 */
function weightLocations(leaves: readonly Value[]): {
  root: string | undefined;
  files: string[];
  locations: Map<string, string>;
} {
  const realPaths = new Map<string, string>();
  for (const leaf of leaves) {
    const origin = leaf.origin as Leaf;
    if (origin.kind !== 'external' || realPaths.has(origin.tensor.file)) continue;
    const { file } = origin.tensor;
    try {
      const real = realpathSync(file);
      accessSync(real, constants.R_OK);
      realPaths.set(file, real);
    } catch (error) {
      throw unreadableModelFile(file, error);
    }
  }
  const files = [...new Set(realPaths.values())];
  if (files.length === 0) return { root: undefined, files, locations: new Map() };
  const root = deepestCommonFolder(files);
  return {
    root,
    files,
    locations: new Map([...realPaths].map(([file, real]) => [file, relative(root, real)])),
  };
}

/** The deepest folder that contains every one of `files` (absolute paths); `/` at worst. */
function deepestCommonFolder(files: readonly string[]): string {
  let common = dirname(files[0]!).split(sep);
  for (const file of files.slice(1)) {
    const parts = dirname(file).split(sep);
    let n = 0;
    while (n < common.length && n < parts.length && common[n] === parts[n]) n++;
    common = common.slice(0, n);
  }
  return common.join(sep) || sep;
}

/** The error for a model file (weights, config) that is gone or that this user may not read, saying what to do. */
export function unreadableModelFile(file: string, error: unknown): UserError {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  const what = code === 'ENOENT' ? 'does not exist' : `cannot be read (${code})`;
  return new UserError(
    `the model file ${file} ${what}: the model was deleted, moved or is not readable by this user. ` +
      'Download the model again, or point the model path to where it is now and make it readable.',
  );
}

function collect(outputs: readonly Value[]): { nodes: Node[]; leaves: Value[] } {
  const nodes = new Set<Node>();
  const leaves = new Set<Value>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const v = stack.pop()!;
    const node = v.producer;
    if (!node) leaves.add(v);
    else if (!nodes.has(node)) {
      nodes.add(node);
      stack.push(...node.inputs);
    }
  }
  const byId = <T extends { id: number }>(a: T, b: T) => a.id - b.id;
  return { nodes: [...nodes].sort(byId), leaves: [...leaves].sort(byId) };
}

function valueInfo(name: string, shape: Shape, dtype: DType) {
  return {
    name,
    type: {
      tensorType: { elemType: onnxElementType[dtype], shape: { dim: shape.map((d) => ({ dimValue: d })) } },
    },
  };
}

function rawBytes(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

class ModelBuilder implements Emitter {
  nodes: onnxProto.onnx.INodeProto[] = [];
  initializers: onnxProto.onnx.ITensorProto[] = [];
  inputs: { name: string; value: Value }[] = [];
  /** Operator sets beyond ONNX's own that nodes use. */
  domains = new Set<string>();
  private names = new Map<number, string>();
  private usedNames: Set<string>;
  private constantCache = new Map<string, string>();
  private tempCount = 0;

  /**
   * Output names are the caller's, so they are taken first; generated names go around them. `locations` maps
   * each weight file (as the tensors name it) to its external data location.
   */
  constructor(
    outputNames: readonly string[],
    private readonly locations: ReadonlyMap<string, string>,
  ) {
    this.usedNames = new Set(outputNames);
  }

  nameOf(v: Value): string {
    let n = this.names.get(v.id);
    if (!n) {
      n = this.unique(`v${v.id}`);
      this.names.set(v.id, n);
    }
    return n;
  }

  /** Leaves are named before any node, so input names are kept exactly. */
  leaf(v: Value): void {
    const leaf = v.origin as Leaf;
    if (leaf.kind === 'input') {
      if (this.usedNames.has(leaf.name)) {
        throw new GraphError(`the graph input "${leaf.name}" and an output have the same name`);
      }
      this.usedNames.add(leaf.name);
      this.names.set(v.id, leaf.name);
      this.inputs.push({ name: leaf.name, value: v });
    } else if (leaf.kind === 'constant') {
      this.names.set(v.id, this.constant(leaf.data, v.shape, v.dtype));
    } else {
      const { tensor } = leaf;
      const name = this.unique(tensor.name);
      this.names.set(v.id, name);
      this.initializers.push({
        name,
        dims: [...v.shape],
        dataType: onnxElementType[v.dtype],
        dataLocation: onnxProtos().TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: this.locations.get(tensor.file)! },
          { key: 'offset', value: String(tensor.byteOffset) },
          { key: 'length', value: String(tensor.byteLength) },
        ],
      });
    }
  }

  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs: OnnxAttrs = {},
    domain?: string,
  ): void {
    if (domain) this.domains.add(domain);
    this.nodes.push({
      opType,
      ...(domain ? { domain } : {}),
      input: [...inputs],
      output: [...outputs],
      name: `${opType}_${this.nodes.length}`,
      attribute: Object.entries(attrs).map(([name, value]) => attribute(name, value)),
    });
  }

  int64s(values: readonly number[]): string {
    return this.constant(fromNumbers('int64', values), [values.length], 'int64');
  }

  floats(values: readonly number[], dtype: DType, shape: Shape = [values.length]): string {
    return this.constant(fromNumbers(dtype, values), shape, dtype);
  }

  temp(): string {
    return this.unique(`t${this.tempCount++}`);
  }

  /** Adds an inline initializer, sharing identical small constants (shapes, axes) by content. */
  private constant(data: TypedData, shape: Shape, dtype: DType): string {
    if (data.byteLength !== shape.reduce((n, d) => n * d, 1) * byteSize[dtype]) {
      throw new GraphError(`constant of ${dtype} ${shape} has ${data.byteLength} bytes`);
    }
    const key = data.byteLength <= 64 ? `${dtype}:${shape}:${Array.from(rawBytes(data))}` : null;
    const cached = key && this.constantCache.get(key);
    if (cached) return cached;
    const name = this.unique(`c${this.initializers.length}`);
    this.initializers.push({
      name,
      dims: [...shape],
      dataType: onnxElementType[dtype],
      rawData: rawBytes(data),
    });
    if (key) this.constantCache.set(key, name);
    return name;
  }

  private unique(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}#${i}`;
    this.usedNames.add(name);
    return name;
  }
}

function attribute(name: string, value: OnnxAttrs[string]): onnxProto.onnx.IAttributeProto {
  const { AttributeType } = onnxProtos().AttributeProto;
  if (typeof value === 'number') {
    if (!Number.isInteger(value))
      throw new GraphError(`attribute ${name}: use { float } for the float ${value}`);
    return { name, type: AttributeType.INT, i: value };
  }
  if (typeof value === 'string')
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  if ('float' in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.INTS, ints: [...value] };
}
