import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { reduceSum } from './reduce.ts';
import { reshape } from './reshape.ts';
import { slice } from './slice.ts';
import { transpose } from './transpose.ts';

export interface ConvAttrs {
  readonly strides: readonly [number, number];
  /** [top, left, bottom, right], ONNX order. */
  readonly pads: readonly [number, number, number, number];
  readonly dilations: readonly [number, number];
  readonly group: number;
}

const outputSize = (
  size: number,
  kernel: number,
  stride: number,
  before: number,
  after: number,
  dilation: number,
) => Math.floor((size + before + after - dilation * (kernel - 1) - 1) / stride) + 1;

/** 2-D convolution (cross-correlation, as PyTorch) of NCHW input with OIHW weights and optional bias. */
const Conv: OpDef<ConvAttrs> = {
  name: 'Conv',
  infer([x, w, b], { strides, pads, dilations, group }) {
    if (x.rank !== 4 || w.rank !== 4) throw new GraphError('needs a 4-D input and 4-D weights');
    const [n, c, h, wd] = x.shape;
    const [o, ci, kh, kw] = w.shape;
    if (c % group !== 0 || o % group !== 0 || ci * group !== c) {
      throw new GraphError(`weights expect ${ci * group} input channels in ${group} groups, input has ${c}`);
    }
    if (b && (b.rank !== 1 || b.shape[0] !== o)) throw new GraphError(`bias must have shape [${o}]`);
    const oh = outputSize(h, kh, strides[0], pads[0], pads[2], dilations[0]);
    const ow = outputSize(wd, kw, strides[1], pads[1], pads[3], dilations[1]);
    if (oh <= 0 || ow <= 0) throw new GraphError('the kernel is larger than the padded input');
    return [{ shape: [n, o, oh, ow], dtype: x.dtype }];
  },
  emit(e, inputs, outputs, { strides, pads, dilations, group }) {
    e.node('Conv', inputs, outputs, { strides, pads, dilations, group });
  },
  vjp(node, [g], needed) {
    if (!g) return node.inputs.map(() => null);
    const [x, w, b] = node.inputs;
    const gx = needed[0] ? inputGradient(x, g, w, node.attrs) : null;
    const gw = needed[1] ? weightGradient(x, g, w, node.attrs) : null;
    const gb = b && needed[2] ? reduceSum(g, [0, 2, 3]) : null;
    return b ? [gx, gw, gb] : [gx, gw];
  },
};

/**
 * The input gradient is the transposed convolution of g with the same weights; output_padding restores the
 * trailing rows and columns that the forward stride skipped (they get zero gradient).
 */
function inputGradient(x: Value, g: Value, w: Value, attrs: ConvAttrs): Value {
  const { strides, pads, dilations } = attrs;
  const reached = (axis: 0 | 1) =>
    (g.shape[2 + axis] - 1) * strides[axis] -
    pads[axis] -
    pads[axis + 2] +
    dilations[axis] * (w.shape[2 + axis] - 1) +
    1;
  const outputPadding: [number, number] = [x.shape[2] - reached(0), x.shape[3] - reached(1)];
  return apply(ConvTranspose, [g, w], { ...attrs, outputPadding })[0];
}

/**
 * dW[o,c,i,j] = Σ_{n,y,x} g[n,o,y,x]·x[n, group(o)·C/G + c, y·s+i·d, x·s+j·d]: itself a convolution, with the
 * batch axis as the channels being summed and stride and dilation swapped. Groups stay groups: input channel
 * (k, n) of group k pairs with the k-th group's slice of g.
 */
function weightGradient(x: Value, g: Value, w: Value, { strides, pads, dilations, group }: ConvAttrs): Value {
  const [n, c, h, wd] = x.shape;
  const [, ci, kh, kw] = w.shape;
  // x as [C/G, G·N, H, W]: the "batch" is the kernel's input channel, the "channels" are (group, sample).
  const xt = reshape(transpose(reshape(x, [n, group, c / group, h, wd]), [2, 1, 0, 3, 4]), [
    ci,
    group * n,
    h,
    wd,
  ]);
  // g as weights [O, N, gh, gw]: output channel o reads the N channels of its own group.
  const gt = transpose(g, [1, 0, 2, 3]);
  const full = apply(Conv, [xt, gt], { strides: dilations, pads, dilations: strides, group })[0];
  // Rows and columns the forward stride never reached fall outside the kernel; crop them.
  const cropped = slice(full, [0, 0], [kh, kw], [2, 3]);
  return transpose(cropped, [1, 0, 2, 3]);
}

interface ConvTransposeAttrs extends ConvAttrs {
  readonly outputPadding: readonly [number, number];
}

/** ONNX ConvTranspose; used by Conv's input gradient (not differentiated itself). */
const ConvTranspose: OpDef<ConvTransposeAttrs> = {
  name: 'ConvTranspose',
  infer([g, w], { strides, pads, dilations, group, outputPadding }) {
    const [n, , h, wd] = g.shape;
    const [, ci, kh, kw] = w.shape;
    const size = (s: number, k: number, a: 0 | 1) =>
      (s - 1) * strides[a] - pads[a] - pads[a + 2] + dilations[a] * (k - 1) + 1 + outputPadding[a];
    return [{ shape: [n, ci * group, size(h, kh, 0), size(wd, kw, 1)], dtype: g.dtype }];
  },
  emit(e, inputs, outputs, { strides, pads, dilations, group, outputPadding }) {
    e.node('ConvTranspose', inputs, outputs, {
      strides,
      pads,
      dilations,
      group,
      output_padding: outputPadding,
    });
  },
};

export interface ConvOptions {
  stride?: number;
  /** Symmetric padding, as PyTorch's `padding=p`. */
  padding?: number;
  dilation?: number;
  groups?: number;
}

export function conv2d(x: Value, weight: Value, bias?: Value, options: ConvOptions = {}): Value {
  const { stride = 1, padding = 0, dilation = 1, groups = 1 } = options;
  const attrs: ConvAttrs = {
    strides: [stride, stride],
    pads: [padding, padding, padding, padding],
    dilations: [dilation, dilation],
    group: groups,
  };
  return apply(Conv, bias ? [x, weight, bias] : [x, weight], attrs)[0];
}

/** Reshapes a 1-D per-channel vector to broadcast over NCHW. */
export function perChannel(v: Value): Value {
  return reshape(v, [1, v.shape[0], 1, 1]);
}
