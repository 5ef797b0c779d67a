import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { broadcastShapes, formatShape, sameShape } from '../shape.ts';
import { add, mul } from './elementwise.ts';
import { sumToShape } from './reduce.ts';
import { reshape } from './reshape.ts';
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
    // (op X)ᵀ is X itself when X is stored transposed: a weight read as B with transB is used as stored in the
    // gradient too, so ONNX Runtime folds no transposed copy of it (a second copy of every linear weight).
    const opAT = transA ? a : transposeLast2(a);
    const opBT = transB ? b : transposeLast2(b);
    const scaled = (v: Value, s: number) => (s === 1 ? v : mul(v, s));
    const gOpA = needed[0] ? scaled(matmul(g, opBT), alpha) : null;
    const gOpB = needed[1] ? scaled(matmul(opAT, g), alpha) : null;
    return [
      gOpA && (transA ? transposeLast2(gOpA) : gOpA),
      gOpB && (transB ? transposeLast2(gOpB) : gOpB),
      ...(c ? [needed[2] ? sumToShape(scaled(g, beta), c.shape) : null] : []),
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

/**
 * A fully connected layer as PyTorch stores it: x·Wᵀ + b with W of shape [out, in], over x's last axis.
 *
 * A Gemm with transB on a 2-D view of x reads W as stored. `MatMul(x, Transpose(W))` would have ONNX Runtime
 * fold Wᵀ into a new initializer, and the gradient's `Transpose(Wᵀ)` into another: every linear weight held
 * twice in a guidance session (bench/RESULTS.md, "SDXL base 1.0 shape"). The bias is added after the Gemm, not
 * as its C, so the sum is rounded as MatMul + Add rounds it.
 */
export function linear(x: Value, weight: Value, bias?: Value): Value {
  const [outFeatures, inFeatures] = weight.shape;
  const rows = reshape(x, [-1, inFeatures]);
  const y = reshape(gemm(rows, weight, undefined, { transB: true }), [...x.shape.slice(0, -1), outFeatures]);
  return bias ? add(y, bias) : y;
}
