import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { broadcastShapes, formatShape, sameShape } from '../shape.ts';
import { add, mul } from './elementwise.ts';
import { sumToShape } from './reduce.ts';
import { transpose } from './transpose.ts';

/** Swaps the last two axes. */
export function transposeLast2(x: Value): Value {
  const perm = x.shape.map((_d, i) => i);
  perm[x.rank - 2] = x.rank - 1;
  perm[x.rank - 1] = x.rank - 2;
  return transpose(x, perm);
}

/** Batched matrix product with numpy broadcasting of the batch axes (both operands of rank ≥ 2). */
const MatMul: OpDef<null> = {
  name: 'MatMul',
  infer([a, b]) {
    if (a.rank < 2 || b.rank < 2) throw new GraphError('needs operands of rank 2 or more');
    if (a.dtype !== b.dtype) throw new GraphError(`dtypes differ: ${a.dtype} and ${b.dtype}`);
    const [m, k] = a.shape.slice(-2);
    const [k2, n] = b.shape.slice(-2);
    if (k !== k2) throw new GraphError(`inner dimensions differ: ${k} and ${k2}`);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2));
    return [{ shape: [...batch, m, n], dtype: a.dtype }];
  },
  emit(e, inputs, outputs) {
    e.node('MatMul', inputs, outputs);
  },
  vjp(node, [g], needed) {
    if (!g) return [null, null];
    const [a, b] = node.inputs;
    return [
      needed[0] ? sumToShape(matmul(g, transposeLast2(b)), a.shape) : null,
      needed[1] ? sumToShape(matmul(transposeLast2(a), g), b.shape) : null,
    ];
  },
};

export function matmul(a: Value, b: Value): Value {
  return apply(MatMul, [a, b], null)[0];
}

interface GemmAttrs {
  readonly alpha: number;
  readonly beta: number;
  readonly transA: boolean;
  readonly transB: boolean;
}

/** ONNX Gemm: alpha·op(A)·op(B) + beta·C for 2-D A and B, C broadcast to the result. */
const Gemm: OpDef<GemmAttrs> = {
  name: 'Gemm',
  infer([a, b, c], { transA, transB }) {
    if (a.rank !== 2 || b.rank !== 2) throw new GraphError('needs 2-D A and B');
    const [m, k] = transA ? [a.shape[1], a.shape[0]] : a.shape;
    const [k2, n] = transB ? [b.shape[1], b.shape[0]] : b.shape;
    if (k !== k2) throw new GraphError(`inner dimensions differ: ${k} and ${k2}`);
    if (a.dtype !== b.dtype || (c && c.dtype !== a.dtype)) throw new GraphError('dtypes differ');
    // C broadcasts one way only, to the [M, N] result.
    if (c && !sameShape(broadcastShapes(c.shape, [m, n]), [m, n])) {
      throw new GraphError(`C of shape ${formatShape(c.shape)} does not broadcast to [${m},${n}]`);
    }
    return [{ shape: [m, n], dtype: a.dtype }];
  },
  emit(e, inputs, outputs, { alpha, beta, transA, transB }) {
    e.node('Gemm', inputs, outputs, {
      alpha: { float: alpha },
      beta: { float: beta },
      transA: transA ? 1 : 0,
      transB: transB ? 1 : 0,
    });
  },
  vjp(node, [g], needed) {
    if (!g) return node.inputs.map(() => null);
    const [a, b, c] = node.inputs;
    const { alpha, beta, transA, transB } = node.attrs;
    const opA = transA ? transposeLast2(a) : a;
    const opB = transB ? transposeLast2(b) : b;
    const gOpA = needed[0] ? mul(matmul(g, transposeLast2(opB)), alpha) : null;
    const gOpB = needed[1] ? mul(matmul(transposeLast2(opA), g), alpha) : null;
    return [
      gOpA && (transA ? transposeLast2(gOpA) : gOpA),
      gOpB && (transB ? transposeLast2(gOpB) : gOpB),
      ...(c ? [needed[2] ? sumToShape(mul(g, beta), c.shape) : null] : []),
    ];
  },
};

export function gemm(
  a: Value,
  b: Value,
  c?: Value,
  { alpha = 1, beta = 1, transA = false, transB = false }: Partial<GemmAttrs> = {},
): Value {
  return apply(Gemm, c ? [a, b, c] : [a, b], { alpha, beta, transA, transB })[0];
}

/** A fully connected layer as PyTorch stores it: x·Wᵀ + b with W of shape [out, in]. */
export function linear(x: Value, weight: Value, bias?: Value): Value {
  const y = matmul(x, transposeLast2(weight));
  return bias ? add(y, bias) : y;
}
