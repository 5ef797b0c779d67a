import type { Node, Value } from './graph.ts';
import { sizeOf } from './shape.ts';

/** Floating-point operations of a graph, by kind; a multiply-add counts as two. */
export interface FlopCount {
  readonly total: number;
  /** Conv and ConvTranspose. */
  readonly conv: number;
  /** MatMul, Gemm and fused attention's two products. */
  readonly matmul: number;
  /** Every other node, one operation per output element. */
  readonly elementwise: number;
  /** Per ONNX op name. */
  readonly byOp: Readonly<Record<string, number>>;
}

/**
 * Counts the FLOPs of the nodes `outputs` depend on, as serialisation would emit them, so a benchmark can turn
 * a time into GFLOP/s for exactly the model it ran. Reshapes and transposes count their output size too: they
 * move memory, which is small beside the convolutions but not free.
 */
export function countFlops(outputs: readonly Value[]): FlopCount {
  const byOp: Record<string, number> = {};
  let conv = 0;
  let matmul = 0;
  let elementwise = 0;
  for (const node of ancestorNodes(outputs)) {
    const name = node.op.name;
    let flops: number;
    if (name === 'Conv' || name === 'ConvTranspose') {
      flops = convFlops(node);
      conv += flops;
    } else if (name === 'MultiHeadAttention') {
      // q·kᵀ and P·v: 2·B·N·L·D each, for [B, N, D] queries and [B, L, D] keys.
      const [q, k] = node.inputs;
      flops = 4 * sizeOf(q.shape) * k.shape[1];
      matmul += flops;
    } else if (name === 'MatMul' || name === 'Gemm') {
      flops = matmulFlops(node);
      matmul += flops;
    } else {
      flops = node.outputs.reduce((n, v) => n + sizeOf(v.shape), 0);
      elementwise += flops;
    }
    byOp[name] = (byOp[name] ?? 0) + flops;
  }
  return { total: conv + matmul + elementwise, conv, matmul, elementwise, byOp };
}

/**
 * 2·(MACs). Conv: every output element sums (C/group)·kh·kw products. ConvTranspose: every input element is
 * spread over (C_out/group)·kh·kw outputs; its weights are [C_in, C_out/group, kh, kw].
 */
function convFlops(node: Node): number {
  const [x, w] = node.inputs;
  const kernel = w.shape[1] * w.shape[2] * w.shape[3];
  const perElement = node.op.name === 'Conv' ? sizeOf(node.outputs[0].shape) : sizeOf(x.shape);
  return 2 * perElement * kernel;
}

/** 2·M·K·N per matrix product; the output size is (batch)·M·N and K is the reduced axis. */
function matmulFlops(node: Node): number {
  const [a] = node.inputs;
  const out = node.outputs[0];
  const transA = node.op.name === 'Gemm' && (node.attrs as { transA: boolean }).transA;
  const k = transA ? a.shape[a.rank - 2] : a.shape[a.rank - 1];
  let flops = 2 * sizeOf(out.shape) * k;
  // Gemm adds beta·C: one more operation per output element.
  if (node.op.name === 'Gemm' && node.inputs.length > 2) flops += sizeOf(out.shape);
  return flops;
}

function ancestorNodes(outputs: readonly Value[]): Node[] {
  const seen = new Set<Node>();
  const stack = [...outputs];
  while (stack.length > 0) {
    const node = stack.pop()!.producer;
    if (!node || seen.has(node)) continue;
    seen.add(node);
    stack.push(...node.inputs);
  }
  return [...seen];
}
