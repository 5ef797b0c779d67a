import { isFloat } from './dtype.ts';
import { GraphError } from './errors.ts';
import type { Node, Value } from './graph.ts';
import { add } from './ops/elementwise.ts';
import { sameShape } from './shape.ts';

/**
 * Reverse-mode differentiation as a graph transformation: returns d(output)/d(wrt[i]) as new values of the same
 * graph. Only nodes on a path from a `wrt` value to `output` get gradient rules; gradients of values that fan
 * out are summed. `output` must be a scalar unless `seed` (the output's cotangent) is given. A `wrt` value the
 * output does not depend on gets zeros.
 */
export function grad(output: Value, wrt: readonly Value[], seed?: Value): Value[] {
  if (!seed && output.size !== 1) {
    throw new GraphError(`grad: the output ${output} is not a scalar; pass its cotangent as the seed`);
  }
  if (seed && (!sameShape(seed.shape, output.shape) || seed.dtype !== output.dtype)) {
    throw new GraphError(`grad: the seed ${seed} does not match the output ${output}`);
  }
  for (const v of wrt) {
    if (!isFloat(v.dtype)) throw new GraphError(`grad: cannot differentiate with respect to ${v.dtype} ${v}`);
  }
  const graph = output.graph;
  const nodes = ancestors(output);
  const dependsOnWrt = new Set<number>(wrt.map((v) => v.id));
  for (const node of nodes) {
    if (node.inputs.some((v) => dependsOnWrt.has(v.id))) {
      for (const out of node.outputs) if (isFloat(out.dtype)) dependsOnWrt.add(out.id);
    }
  }

  const grads = new Map<number, Value>();
  grads.set(output.id, seed ?? graph.constant(new Array(output.size).fill(1), output.shape, output.dtype));
  for (const node of [...nodes].reverse()) {
    if (!node.outputs.some((v) => dependsOnWrt.has(v.id))) continue;
    const outputGrads = node.outputs.map((v) => grads.get(v.id) ?? null);
    if (outputGrads.every((g) => g === null)) continue;
    const needed = node.inputs.map((v) => dependsOnWrt.has(v.id));
    if (!node.op.vjp) throw new GraphError(`grad: ${node.op.name} has no gradient rule`);
    const inputGrads = node.op.vjp(node, outputGrads, needed);
    node.inputs.forEach((input, i) => {
      const g = inputGrads[i];
      if (!g || !needed[i]) return;
      if (!sameShape(g.shape, input.shape)) {
        throw new GraphError(`grad: ${node.op.name} returned a gradient of shape ${g} for an input ${input}`);
      }
      const previous = grads.get(input.id);
      grads.set(input.id, previous ? add(previous, g) : g);
    });
  }
  return wrt.map((v) => grads.get(v.id) ?? graph.zeros(v.shape, v.dtype));
}

/** Nodes that `output` depends on, in creation (= topological) order. */
function ancestors(output: Value): Node[] {
  const seen = new Set<Node>();
  const stack = [output];
  while (stack.length > 0) {
    const node = stack.pop()!.producer;
    if (!node || seen.has(node)) continue;
    seen.add(node);
    stack.push(...node.inputs);
  }
  return [...seen].sort((a, b) => a.id - b.id);
}
