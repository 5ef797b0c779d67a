import type { Value } from '../graph/index.ts';
import * as G from '../graph/index.ts';

/** The part of a UNet attention record the guidance reads (see src/models/unet). */
export interface AttentionLayer {
  readonly name: string;
  readonly place: 'down' | 'mid' | 'up';
  readonly kind: 'self' | 'cross';
  /** The query grid [h, w]. */
  readonly resolution: readonly [number, number];
  /** Softmax probabilities [batch, heads, h·w, keys]. */
  readonly probs: Value;
}

/**
 * The official aggregation reads the store in the order `from_where=("up", "down", "mid")`. SD 1.x's mid block
 * works at latent/8, never the 16×16 of a 512 px image, but SDXL's does (and SD's at 1024 px).
 */
const PLACE_ORDER = ['up', 'down', 'mid'] as const;

function crossLayers(layers: readonly AttentionLayer[], accept: (side: number) => boolean): AttentionLayer[] {
  return PLACE_ORDER.flatMap((place) =>
    layers.filter(
      (l) =>
        l.kind === 'cross' &&
        l.place === place &&
        l.resolution[0] === l.resolution[1] &&
        accept(l.resolution[0]),
    ),
  );
}

/** Mean over heads of several layers' [heads, h, w, keys] maps, as "sum then divide by the count". */
function meanOverHeads(maps: readonly Value[]): Value {
  if (maps.length === 0) throw new G.GraphError('no cross-attention layers at the requested resolution');
  const stacked = G.concat(maps, 0);
  return G.div(G.reduceSum(stacked, [0]), stacked.shape[0]);
}

function headMaps(layer: AttentionLayer, batchIndex: number): Value {
  const [, heads, , keys] = layer.probs.shape;
  const [h, w] = layer.resolution;
  const one = G.slice(layer.probs, [batchIndex], [batchIndex + 1], [0]);
  return G.reshape(one, [heads, h, w, keys]);
}

/**
 * Object-token maps: the mean over every cross-attention layer with `resolution`² queries and over its heads,
 * [resolution, resolution, keys] (ALGORITHM.md §3.3).
 */
export function crossAttentionMaps(
  layers: readonly AttentionLayer[],
  resolution: number,
  batchIndex = 0,
): Value {
  const chosen = crossLayers(layers, (side) => side === resolution);
  return meanOverHeads(chosen.map((l) => headMaps(l, batchIndex)));
}

/**
 * Attribute-token maps of D&B's binding loss: every cross-attention layer finer than `resolution` (up to
 * `maxResolution`), nearest-subsampled to `resolution` (PyTorch's nearest picks rows and columns 0, s, 2s, …),
 * then averaged over layers and heads (ALGORITHM.md §3.4).
 */
export function subsampledCrossAttentionMaps(
  layers: readonly AttentionLayer[],
  resolution: number,
  maxResolution = 64,
  batchIndex = 0,
): Value {
  const chosen = crossLayers(
    layers,
    (side) => side > resolution && side <= maxResolution && side % resolution === 0,
  );
  return meanOverHeads(
    chosen.map((l) => {
      const step = l.resolution[0] / resolution;
      const maps = headMaps(l, batchIndex);
      return G.slice(maps, [0, 0], [maps.shape[1], maps.shape[2]], [1, 2], [step, step]);
    }),
  );
}
