import { type DType, onnxElementType } from '../dtype.ts';
import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { add, div, mul, sqrt, sub } from './elementwise.ts';
import { expand } from './expand.ts';
import { reduceMean, reduceSum, sumToShape } from './reduce.ts';
import { reshape } from './reshape.ts';

/**
 * The type the statistics are computed in: float32 for float32 and half inputs (ONNX's default, which keeps
 * fp16 models accurate), float64 for float64 input, which would otherwise lose its precision.
 */
function stashType(dtype: DType): number {
  return onnxElementType[dtype === 'float64' ? 'float64' : 'float32'];
}

interface NormAttrs {
  readonly epsilon: number;
}

/**
 * Gradient of y = x̂·γ + β with x̂ = (x − μ)/σ over `axes` (σ² the biased variance + ε), written with
 * primitive ops: dx = (ĝ − mean(ĝ) − x̂·mean(ĝ·x̂))/σ with ĝ = g·γ.
 */
function normalizedGradient(x: Value, g: Value, gamma: Value, axes: number[], epsilon: number) {
  const mu = reduceMean(x, axes, true);
  const centered = sub(x, mu);
  const sigma = sqrt(add(reduceMean(mul(centered, centered), axes, true), epsilon));
  const xhat = div(centered, sigma);
  const gh = mul(g, gamma);
  const gx = div(
    sub(sub(gh, reduceMean(gh, axes, true)), mul(xhat, reduceMean(mul(gh, xhat), axes, true))),
    sigma,
  );
  return { gx, xhat };
}

/** LayerNormalization over the last axis with per-feature scale and bias (PyTorch's nn.LayerNorm). */
const LayerNorm: OpDef<NormAttrs> = {
  name: 'LayerNormalization',
  infer([x, scale, bias]) {
    const features = x.shape[x.rank - 1];
    if (scale.rank !== 1 || scale.shape[0] !== features || bias.rank !== 1 || bias.shape[0] !== features) {
      throw new GraphError(`scale and bias must have shape [${features}]`);
    }
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, inputs, outputs, { epsilon }, node) {
    e.node('LayerNormalization', inputs, outputs, {
      axis: -1,
      epsilon: { float: epsilon },
      stash_type: stashType(node.inputs[0].dtype),
    });
  },
  vjp(node, [g], needed) {
    if (!g) return [null, null, null];
    const [x, scale, bias] = node.inputs;
    const { gx, xhat } = normalizedGradient(x, g, scale, [x.rank - 1], node.attrs.epsilon);
    return [
      needed[0] ? gx : null,
      needed[1] ? sumToShape(mul(g, xhat), scale.shape) : null,
      needed[2] ? sumToShape(g, bias.shape) : null,
    ];
  },
};

export function layerNorm(x: Value, scale: Value, bias: Value, epsilon = 1e-5): Value {
  return apply(LayerNorm, [x, scale, bias], { epsilon })[0];
}

interface GroupNormAttrs extends NormAttrs {
  readonly groups: number;
}

/** GroupNormalization (ONNX opset 21: per-channel scale and bias, as PyTorch's nn.GroupNorm) of NC… input. */
const GroupNorm: OpDef<GroupNormAttrs> = {
  name: 'GroupNormalization',
  infer([x, scale, bias], { groups }) {
    const channels = x.shape[1];
    if (x.rank < 3) throw new GraphError('needs an input of rank 3 or more (N, C, …)');
    if (channels % groups !== 0)
      throw new GraphError(`${channels} channels do not split into ${groups} groups`);
    if (scale.shape[0] !== channels || bias.shape[0] !== channels) {
      throw new GraphError(`scale and bias must have shape [${channels}]`);
    }
    return [{ shape: x.shape, dtype: x.dtype }];
  },
  emit(e, inputs, outputs, { epsilon, groups }, node) {
    e.node('GroupNormalization', inputs, outputs, {
      num_groups: groups,
      epsilon: { float: epsilon },
      stash_type: stashType(node.inputs[0].dtype),
    });
  },
  vjp(node, [g], needed) {
    if (!g) return [null, null, null];
    const [x, scale] = node.inputs;
    const { groups, epsilon } = node.attrs;
    const [n, c] = x.shape;
    const grouped = [n, groups, x.size / n / groups];
    const channelShape = [1, c, ...x.shape.slice(2).map(() => 1)];
    const gamma = reshape(scale, channelShape);
    // Normalise per (sample, group): view the input as [N, G, rest] with γ expanded over it.
    const gammaGrouped = reshape(expand(gamma, [1, ...x.shape.slice(1)]), [1, ...grouped.slice(1)]);
    const { gx, xhat } = normalizedGradient(
      reshape(x, grouped),
      reshape(g, grouped),
      gammaGrouped,
      [2],
      epsilon,
    );
    const xhatFull = reshape(xhat, x.shape);
    const spatial = x.shape.map((_d, i) => i).filter((i) => i !== 1);
    return [
      needed[0] ? reshape(gx, x.shape) : null,
      needed[1] ? reduceSum(mul(g, xhatFull), spatial) : null,
      needed[2] ? reduceSum(g, spatial) : null,
    ];
  },
};

export function groupNorm(x: Value, scale: Value, bias: Value, groups: number, epsilon = 1e-5): Value {
  return apply(GroupNorm, [x, scale, bias], { groups, epsilon })[0];
}
