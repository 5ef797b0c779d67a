import { at, broadcastShape, generate, type Tensor } from './tensor.ts';

/** Batched matrix product with broadcast batch axes (both operands of rank ≥ 2). */
export function matmul(a: Tensor, b: Tensor): Tensor {
  const [m, k] = a.shape.slice(-2);
  const n = b.shape[b.shape.length - 1];
  const batch = broadcastShape(a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batchIndex = (t: Tensor, index: number[]) => {
    const lead = t.shape.length - 2;
    return t.shape.slice(0, -2).map((d, i) => (d === 1 ? 0 : index[batch.length - lead + i]));
  };
  return generate([...batch, m, n], (index) => {
    const i = index[batch.length];
    const j = index[batch.length + 1];
    const ba = batchIndex(a, index);
    const bb = batchIndex(b, index);
    let s = 0;
    for (let p = 0; p < k; p++) s += at(a, [...ba, i, p]) * at(b, [...bb, p, j]);
    return s;
  });
}

export function transpose2(t: Tensor): Tensor {
  return generate([t.shape[1], t.shape[0]], ([i, j]) => at(t, [j, i]));
}

/** ONNX Gemm: alpha·op(A)·op(B) + beta·C. */
export function gemm(
  a: Tensor,
  b: Tensor,
  c: Tensor | undefined,
  { alpha = 1, beta = 1, transA = false, transB = false } = {},
): Tensor {
  const product = matmul(transA ? transpose2(a) : a, transB ? transpose2(b) : b);
  return generate(product.shape, (index) => {
    const cv = c
      ? at(
          c,
          c.shape.map((d, i) => (d === 1 ? 0 : index[index.length - c.shape.length + i])),
        )
      : 0;
    return alpha * at(product, index) + beta * cv;
  });
}

export interface ConvParams {
  stride?: number;
  padding?: number;
  dilation?: number;
  groups?: number;
}

/** 2-D cross-correlation of NCHW input with OIHW weights, as PyTorch's conv2d. */
export function conv2d(x: Tensor, w: Tensor, bias: Tensor | undefined, p: ConvParams = {}): Tensor {
  const { stride = 1, padding = 0, dilation = 1, groups = 1 } = p;
  const [n, , h, wd] = x.shape;
  const [o, ci, kh, kw] = w.shape;
  const oh = Math.floor((h + 2 * padding - dilation * (kh - 1) - 1) / stride) + 1;
  const ow = Math.floor((wd + 2 * padding - dilation * (kw - 1) - 1) / stride) + 1;
  const perGroup = o / groups;
  return generate([n, o, oh, ow], ([b, oc, y, xx]) => {
    const group = Math.floor(oc / perGroup);
    let s = bias ? bias.data[oc] : 0;
    for (let c = 0; c < ci; c++) {
      for (let i = 0; i < kh; i++) {
        for (let j = 0; j < kw; j++) {
          const iy = y * stride - padding + i * dilation;
          const ix = xx * stride - padding + j * dilation;
          if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
          s += at(x, [b, group * ci + c, iy, ix]) * at(w, [oc, c, i, j]);
        }
      }
    }
    return s;
  });
}
