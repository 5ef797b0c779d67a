import { GuidanceGraph, type GuidanceGraphSpec } from '../guidance/guidanceGraph.ts';
import type { UNet2DConditionModel } from '../models/unet/index.ts';
import type { RuntimeOptions } from '../runtime/session.ts';

/** A generation's hold on a guidance graph; `done` may be called more than once. */
export interface GuidanceLease {
  readonly graph: Promise<GuidanceGraph>;
  done(): Promise<void>;
}

interface Entry {
  readonly graph: Promise<GuidanceGraph>;
  users: number;
}

/**
 * Guidance graphs shared by the generations that run at the same time, each released as soon as no generation
 * holds it: a guidance session holds a UNet's weights and its working memory (several GiB at 512 px), and
 * after the last guided loop index only the CFG pass and the decoder still run. A later generation
 * recompiles it from the on-disk graph cache.
 */
export class GuidanceGraphPool {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly unet: UNet2DConditionModel,
    private readonly runtime: RuntimeOptions,
  ) {}

  acquire(spec: GuidanceGraphSpec): GuidanceLease {
    const key = JSON.stringify(spec);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { graph: GuidanceGraph.compile(this.unet, spec, this.runtime), users: 0 };
      this.entries.set(key, entry);
    }
    entry.users++;
    const held = entry;
    let released = false;
    return {
      graph: held.graph,
      done: async () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.users > 0 || this.entries.get(key) !== held) return;
        this.entries.delete(key);
        // A graph that failed to compile has nothing to release; its error reached the generation already.
        await (await held.graph.catch(() => null))?.release();
      },
    };
  }

  /** Releases every graph still held (the pipeline's own release). */
  async releaseAll(): Promise<void> {
    const graphs = [...this.entries.values()].map((e) => e.graph);
    this.entries.clear();
    await Promise.all(graphs.map(async (g) => (await g.catch(() => null))?.release()));
  }
}
