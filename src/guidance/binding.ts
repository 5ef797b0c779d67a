import type { Value } from '../graph/index.ts';
import * as G from '../graph/index.ts';

/** The official code adds this floor after thresholding and does not renormalise. */
const FLOOR = 1e-5;

/**
 * D&B's binding term for k object/attribute pairs: the Jensen–Shannon divergence between the spatial
 * distributions of each object map and its attribute map, both [k, h, w], as the official code computes it
 * (ALGORITHM.md §4.4): the attribute map is rescaled to the object's peak; both are softmaxed over pixels with
 * temperature 1; both are thresholded at τ·max(object distribution), τ = 0.3 when the object's TV < 0.1 else
 * 0.2; relu + 1e−5 without renormalisation; JSD = ½KL(p‖m) + ½KL(q‖m) in nats. Returns [k].
 */
export function bindingDivergence(objectMaps: Value, attributeMaps: Value, objectTv: Value): Value {
  const [k, h, w] = objectMaps.shape;
  const objectPeak = G.reduceMax(objectMaps, [1, 2], true);
  const rescaled = G.mul(attributeMaps, G.div(objectPeak, G.reduceMax(attributeMaps, [1, 2], true)));
  const p = G.softmax(G.reshape(objectMaps, [k, h * w]), 1);
  const q = G.softmax(G.reshape(rescaled, [k, h * w]), 1);
  // τ is chosen by a comparison, so no gradient flows through the choice (Where has none for constants).
  const tau = G.where(G.less(objectTv, 0.1), 0.3, 0.2, objectTv.dtype);
  const threshold = G.mul(G.reshape(tau, [k, 1]), G.reduceMax(p, [1], true));
  const pt = G.add(G.relu(G.sub(p, threshold)), FLOOR);
  const qt = G.add(G.relu(G.sub(q, threshold)), FLOOR);
  const logM = G.log(G.mul(G.add(pt, qt), 0.5));
  const kl = (a: Value) => G.reduceSum(G.mul(a, G.sub(G.log(a), logM)), [1]);
  return G.mul(G.add(kl(pt), kl(qt)), 0.5);
}

/** λ(i): the binding weight by denoising loop index, 1 / 5 / 10 before 10 / before 20 / after. */
export function bindingWeight(loopIndex: number): number {
  return loopIndex < 10 ? 1 : loopIndex < 20 ? 5 : 10;
}
