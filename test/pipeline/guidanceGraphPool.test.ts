import { afterEach, describe, expect, it, vi } from 'vitest';
import { GuidanceGraph, type GuidanceGraphSpec } from '../../src/guidance/guidanceGraph.ts';
import type { UNet2DConditionModel } from '../../src/models/unet/index.ts';
import { GuidanceGraphPool } from '../../src/pipeline/guidanceGraphPool.ts';

const SPEC: GuidanceGraphSpec = {
  method: 'divide-bind',
  tv: 'official',
  objects: 2,
  finerLayers: false,
  attentionRes: 16,
  height: 64,
  width: 64,
  keys: 77,
  scaledInput: false,
};
const specOf = (objects: number) => ({ ...SPEC, objects });

/** Stands in for compiling: records which specs were built and which were released. */
function fakeCompiles() {
  const built: number[] = [];
  const released: number[] = [];
  vi.spyOn(GuidanceGraph, 'compile').mockImplementation(async (_unet, spec) => {
    built.push(spec.objects);
    return { spec, release: async () => void released.push(spec.objects) } as unknown as GuidanceGraph;
  });
  return { built, released };
}

const unet = {} as UNet2DConditionModel;
afterEach(() => vi.restoreAllMocks());

describe('the guidance graph pool', () => {
  it('releases a graph when its last generation lets go, by default', async () => {
    const { built, released } = fakeCompiles();
    const pool = new GuidanceGraphPool(unet, {});
    const [a, b] = [pool.acquire(SPEC), pool.acquire(SPEC)];
    await a.graph;
    await a.done();
    expect(released).toEqual([]);
    await b.done();
    await b.done();
    expect([built, released]).toEqual([[2], [2]]);
  });

  it('keeps the recent graphs warm, releasing the oldest idle one before building a new one', async () => {
    const { built, released } = fakeCompiles();
    const pool = new GuidanceGraphPool(unet, {}, 2);
    for (const objects of [1, 2, 1]) {
      const lease = pool.acquire(specOf(objects));
      await lease.graph;
      await lease.done();
    }
    expect([built, released]).toEqual([[1, 2], []]);
    // A third spec: graph 2 (the least recently used) goes first.
    const third = pool.acquire(specOf(3));
    await third.graph;
    expect([built, released]).toEqual([[1, 2, 3], [2]]);
    await third.done();
    await pool.releaseAll();
    expect(released.sort()).toEqual([1, 2, 3]);
  });

  it('never releases a graph a generation holds', async () => {
    const { released } = fakeCompiles();
    const pool = new GuidanceGraphPool(unet, {}, 1);
    const busy = pool.acquire(specOf(1));
    await busy.graph;
    const other = pool.acquire(specOf(2));
    await other.graph;
    expect(released).toEqual([]);
    await other.done();
    expect(released).toEqual([2]);
    await busy.done();
    expect(released).toEqual([2]);
  });
});
