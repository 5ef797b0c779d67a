import { allocate, byteSize, type DType, fromNumbers, isDataOf, type TypedData } from './dtype.ts';
import { GraphError } from './errors.ts';
import { formatShape, type Shape, sizeOf } from './shape.ts';

/** A tensor stored in a file (a safetensors weight), referenced by the compiled model, never copied. */
export interface ExternalTensor {
  /** Absolute path of the file that holds the bytes. */
  readonly file: string;
  /** Absolute byte offset of the tensor's data in the file. */
  readonly byteOffset: number;
  readonly byteLength: number;
  /** The tensor's name in its file, for error messages and debugging. */
  readonly name: string;
}

/** Where a value without a producing node comes from. */
export type Leaf =
  | { readonly kind: 'input'; readonly name: string }
  | { readonly kind: 'constant'; readonly data: TypedData }
  | { readonly kind: 'external'; readonly tensor: ExternalTensor };

export interface ValueType {
  readonly shape: Shape;
  readonly dtype: DType;
}

/** A symbolic tensor: static shape and dtype, made by a node or a leaf. */
export class Value implements ValueType {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly shape: Shape,
    readonly dtype: DType,
    readonly origin: Node | Leaf,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  /** The node that computes this value, or null for inputs, constants and weights. */
  get producer(): Node | null {
    return this.origin instanceof Node ? this.origin : null;
  }

  toString(): string {
    return `${formatShape(this.shape)} ${this.dtype}`;
  }
}

/** One op application. Ids grow with creation, so inputs always have smaller ids than outputs. */
export class Node<A = unknown> {
  outputs: Value[] = [];
  constructor(
    readonly id: number,
    readonly op: OpDef<A>,
    readonly inputs: readonly Value[],
    readonly attrs: A,
  ) {}
}

/** What an op emits into the ONNX graph; implemented by the serializer. */
export interface Emitter {
  /** `domain` names an operator set other than ONNX's own (e.g. ONNX Runtime's `com.microsoft`). */
  node(
    opType: string,
    inputs: readonly string[],
    outputs: readonly string[],
    attrs?: OnnxAttrs,
    domain?: string,
  ): void;
  /** Name of an int64 initializer holding `values` (for shapes, axes, pads...). */
  int64s(values: readonly number[]): string;
  /** Name of a scalar or 1-D float initializer of the given dtype. */
  floats(values: readonly number[], dtype: DType, shape?: Shape): string;
  /** A fresh name for an intermediate tensor. */
  temp(): string;
}

export type OnnxAttr = number | string | readonly number[] | { readonly float: number };
export type OnnxAttrs = Record<string, OnnxAttr>;

/**
 * An operation: its shape rule, its ONNX emission and, when differentiable, its vector-Jacobian product.
 * Keeping all three together means a new op cannot forget its gradient or its serialisation.
 */
export interface OpDef<A> {
  readonly name: string;
  /** Output types; throws a GraphError (without the op name, which `apply` adds) on bad inputs. */
  infer(inputs: readonly Value[], attrs: A): ValueType[];
  emit(e: Emitter, inputs: readonly string[], outputs: readonly string[], attrs: A, node: Node<A>): void;
  /**
   * Gradients for the inputs given the gradients of the outputs (null = zero). `needed[i]` says whether input
   * i needs one, so the rule can skip work; return null for inputs that need none or have no gradient.
   */
  vjp?(node: Node<A>, outputGrads: readonly (Value | null)[], needed: readonly boolean[]): (Value | null)[];
}

/** Applies an op: checks shapes, creates the node and its output values. */
export function apply<A>(op: OpDef<A>, inputs: readonly Value[], attrs: A): Value[] {
  if (inputs.length === 0) throw new GraphError(`${op.name}: needs at least one input`);
  const graph = inputs[0].graph;
  for (const v of inputs) {
    if (v.graph !== graph) throw new GraphError(`${op.name}: inputs belong to different graphs`);
  }
  const types = checked(op.name, inputs, () => op.infer(inputs, attrs));
  return graph.addNode(op, inputs, attrs, types);
}

/**
 * Runs a check on an op's inputs or options (an op's shape rule, a wrapper resolving axes) and rethrows its
 * GraphError with the op's name and the input shapes, so every build-time error says where it came from.
 */
export function checked<T>(opName: string, inputs: readonly Value[], check: () => T): T {
  try {
    return check();
  } catch (error) {
    if (!(error instanceof GraphError)) throw error;
    const described = inputs.map((v) => v.toString()).join(', ');
    throw new GraphError(`${opName}: ${error.message} (inputs: ${described})`);
  }
}

/** A symbolic computation under construction. */
export class Graph {
  private nextId = 0;
  private readonly inputNames = new Set<string>();
  readonly inputs: Value[] = [];

  /** A value fed at run time under `name` (the ONNX model's input name). */
  input(name: string, shape: Shape, dtype: DType = 'float32'): Value {
    if (this.inputNames.has(name)) throw new GraphError(`input "${name}" is declared twice`);
    checkShape(shape);
    const value = new Value(this, this.nextId++, [...shape], dtype, { kind: 'input', name });
    this.inputNames.add(name);
    this.inputs.push(value);
    return value;
  }

  /** A constant from numbers (converted to `dtype`) or a typed array of matching type. */
  constant(values: ArrayLike<number> | TypedData, shape: Shape, dtype: DType = 'float32'): Value {
    checkShape(shape);
    const data = isDataOf(dtype, values) ? values : fromNumbers(dtype, values as ArrayLike<number>);
    if (data.length !== sizeOf(shape)) {
      throw new GraphError(`constant has ${data.length} elements but shape ${formatShape(shape)}`);
    }
    return new Value(this, this.nextId++, [...shape], dtype, { kind: 'constant', data });
  }

  scalar(value: number, dtype: DType = 'float32'): Value {
    return this.constant([value], [], dtype);
  }

  zeros(shape: Shape, dtype: DType = 'float32'): Value {
    return this.constant(allocate(dtype, sizeOf(shape)), shape, dtype);
  }

  /** A weight read by the runtime straight from its file. `dtype` is the stored dtype. */
  external(tensor: ExternalTensor, shape: Shape, dtype: DType): Value {
    checkShape(shape);
    const expected = sizeOf(shape) * byteSize[dtype];
    if (expected !== tensor.byteLength) {
      throw new GraphError(
        `weight "${tensor.name}" in ${tensor.file} has ${tensor.byteLength} bytes, but ${formatShape(shape)} ${dtype} needs ${expected}`,
      );
    }
    return new Value(this, this.nextId++, [...shape], dtype, { kind: 'external', tensor });
  }

  /** Used by `apply`; creates the node and its outputs. */
  addNode<A>(op: OpDef<A>, inputs: readonly Value[], attrs: A, types: readonly ValueType[]): Value[] {
    const node = new Node(this.nextId++, op, inputs, attrs);
    node.outputs = types.map((t) => new Value(this, this.nextId++, [...t.shape], t.dtype, node));
    return node.outputs;
  }
}

function checkShape(shape: Shape): void {
  if (!shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new GraphError(`invalid shape ${formatShape(shape)}: dimensions must be non-negative integers`);
  }
}
