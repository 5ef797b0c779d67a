import type { Value } from '../graph/index.ts';
import * as G from '../graph/index.ts';

/** `official` reproduces the released code's broadcast bug; `paper` uses true vertical neighbour differences. */
export type TvVariant = 'official' | 'paper';

const meanAbs = (a: Value, b: Value): Value => G.reduceMean(G.abs(G.sub(a, b)), [1, 2]);

/**
 * Total variation of each of k maps [k, h, w] → [k], as D&B's attendance objective. Both terms are means (L1Loss
 * with mean reduction). The official vertical term compares the LAST row, broadcast, with rows 1..h−1
 * (`L1Loss(image[-1:, :], image[1:, :])`), not neighbouring rows (ALGORITHM.md §4.3).
 */
export function totalVariation(maps: Value, variant: TvVariant = 'official'): Value {
  const [, h, w] = maps.shape;
  const horizontal = meanAbs(G.slice(maps, [0], [w - 1], [2]), G.slice(maps, [1], [w], [2]));
  const vertical =
    variant === 'official'
      ? meanAbs(G.slice(maps, [h - 1], [h], [1]), G.slice(maps, [1], [h], [1]))
      : meanAbs(G.slice(maps, [0], [h - 1], [1]), G.slice(maps, [1], [h], [1]));
  return G.add(horizontal, vertical);
}
