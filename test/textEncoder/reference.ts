// A plain float64 CLIPTextModel for small configs, written from transformers' description of the model,
// to check configurations the golden fixtures do not cover (exact gelu, other head counts and sizes).

export interface SmallClipConfig {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  maxPositionEmbeddings: number;
  hiddenAct: 'gelu' | 'quick_gelu';
  layerNormEps: number;
}

export interface Tensor {
  shape: number[];
  data: Float32Array;
}

/** Deterministic uniform weights (a 32-bit LCG) of every tensor of the config, by transformers' names. */
export function randomClipWeights(config: SmallClipConfig, seed: number): Map<string, Tensor> {
  let state = seed >>> 0;
  const next = () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32 - 0.5;
  };
  const tensors = new Map<string, Tensor>();
  const make = (name: string, shape: number[], scale: number, offset = 0) => {
    const n = shape.reduce((a, b) => a * b, 1);
    tensors.set(name, { shape, data: Float32Array.from({ length: n }, () => offset + scale * next()) });
  };
  const d = config.hiddenSize;
  const inner = config.intermediateSize;
  make('text_model.embeddings.token_embedding.weight', [config.vocabSize, d], 1);
  make('text_model.embeddings.position_embedding.weight', [config.maxPositionEmbeddings, d], 0.5);
  for (let l = 0; l < config.numHiddenLayers; l++) {
    const p = `text_model.encoder.layers.${l}`;
    for (const proj of ['q_proj', 'k_proj', 'v_proj', 'out_proj']) {
      // Large enough q/k weights that the attention is far from uniform.
      make(`${p}.self_attn.${proj}.weight`, [d, d], proj === 'q_proj' || proj === 'k_proj' ? 1 : 0.4);
      make(`${p}.self_attn.${proj}.bias`, [d], 0.1);
    }
    for (const norm of ['layer_norm1', 'layer_norm2']) {
      make(`${p}.${norm}.weight`, [d], 0.2, 1);
      make(`${p}.${norm}.bias`, [d], 0.1);
    }
    make(`${p}.mlp.fc1.weight`, [inner, d], 0.5);
    make(`${p}.mlp.fc1.bias`, [inner], 0.1);
    make(`${p}.mlp.fc2.weight`, [d, inner], 0.3);
    make(`${p}.mlp.fc2.bias`, [d], 0.1);
  }
  make('text_model.final_layer_norm.weight', [d], 0.2, 1);
  make('text_model.final_layer_norm.bias', [d], 0.1);
  return tensors;
}

/** erf by its Maclaurin series (|x| < 3) or continued fraction, to about 1e-15: ample for a float32 check. */
function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 3) {
    let term = ax;
    let sum = ax;
    for (let n = 1; n < 100; n++) {
      term *= (-ax * ax) / n;
      const add = term / (2 * n + 1);
      sum += add;
      if (Math.abs(add) < 1e-17) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(x) = exp(−x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + …)))).
  let f = ax;
  for (let k = 60; k >= 1; k--) f = ax + k / 2 / f;
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}

/** last_hidden_state [batch, S, D] in float64 for ids [batch, S] (causal mask, no padding mask). */
export function clipTextReference(
  config: SmallClipConfig,
  weights: Map<string, Tensor>,
  ids: BigInt64Array,
  batch: number,
): Float64Array {
  const w = (name: string) => weights.get(`text_model.${name}`)!.data;
  const d = config.hiddenSize;
  const s = ids.length / batch;
  const heads = config.numAttentionHeads;
  const hd = d / heads;
  const out = new Float64Array(batch * s * d);

  const layerNorm = (x: Float64Array[], name: string) =>
    x.map((row) => {
      const mean = row.reduce((a, b) => a + b, 0) / d;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / d;
      const inv = 1 / Math.sqrt(variance + config.layerNormEps);
      const g = w(`${name}.weight`);
      const b = w(`${name}.bias`);
      return row.map((v, i) => (v - mean) * inv * g[i] + b[i]);
    });
  const linear = (x: Float64Array[], name: string, outDim: number) => {
    const weight = w(`${name}.weight`);
    const bias = w(`${name}.bias`);
    return x.map((row) => {
      const y = new Float64Array(outDim);
      for (let o = 0; o < outDim; o++) {
        let acc = bias[o];
        for (let i = 0; i < row.length; i++) acc += weight[o * row.length + i] * row[i];
        y[o] = acc;
      }
      return y;
    });
  };
  const act = (v: number) =>
    config.hiddenAct === 'gelu' ? 0.5 * v * (1 + erf(v / Math.SQRT2)) : v / (1 + Math.exp(-1.702 * v));

  for (let b = 0; b < batch; b++) {
    const token = w('embeddings.token_embedding.weight');
    const position = w('embeddings.position_embedding.weight');
    let h = Array.from({ length: s }, (_, t) => {
      const id = Number(ids[b * s + t]);
      return Float64Array.from({ length: d }, (_, i) => token[id * d + i] + position[t * d + i]);
    });
    for (let l = 0; l < config.numHiddenLayers; l++) {
      const p = `encoder.layers.${l}`;
      const x = layerNorm(h, `${p}.layer_norm1`);
      const q = linear(x, `${p}.self_attn.q_proj`, d);
      const k = linear(x, `${p}.self_attn.k_proj`, d);
      const v = linear(x, `${p}.self_attn.v_proj`, d);
      const attended = Array.from({ length: s }, () => new Float64Array(d));
      for (let head = 0; head < heads; head++) {
        for (let t = 0; t < s; t++) {
          const scores = new Float64Array(t + 1);
          for (let u = 0; u <= t; u++) {
            let dot = 0;
            for (let i = head * hd; i < (head + 1) * hd; i++) dot += q[t][i] * k[u][i];
            scores[u] = dot / Math.sqrt(hd);
          }
          const max = Math.max(...scores);
          const e = scores.map((v) => Math.exp(v - max));
          const total = e.reduce((a, c) => a + c, 0);
          for (let u = 0; u <= t; u++) {
            for (let i = head * hd; i < (head + 1) * hd; i++) attended[t][i] += (e[u] / total) * v[u][i];
          }
        }
      }
      const o = linear(attended, `${p}.self_attn.out_proj`, d);
      h = h.map((row, t) => row.map((val, i) => val + o[t][i]));
      const up = linear(layerNorm(h, `${p}.layer_norm2`), `${p}.mlp.fc1`, config.intermediateSize).map(
        (row) => row.map(act),
      );
      const down = linear(up, `${p}.mlp.fc2`, d);
      h = h.map((row, t) => row.map((val, i) => val + down[t][i]));
    }
    layerNorm(h, 'final_layer_norm').forEach((row, t) => {
      out.set(row, (b * s + t) * d);
    });
  }
  return out;
}
