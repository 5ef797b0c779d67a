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
 * Guidance graphs shared by the generations that run at the same time. A guidance session holds a UNet's
 * weights and its working memory (several GiB at 512 px), so at most `keepWarm` graphs stay open once no
 * generation holds them (0: each is released as soon as its last generation lets go, after the last guided loop
 * index, while the CFG pass and the decoder still run). A long-running process (the studio, the benchmark
 * runner) keeps the graphs of its recent specs warm so the next generation starts at once; the oldest idle graph
 * is released first, and before a new one is compiled, so open graphs never exceed max(keepWarm, busy ones + 1).
 */
export class GuidanceGraphPool {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly unet: UNet2DConditionModel,
    private readonly runtime: RuntimeOptions,
    private readonly keepWarm = 0,
  ) {}

  acquire(spec: GuidanceGraphSpec): GuidanceLease {
    const key = JSON.stringify(spec);
    let entry = this.entries.get(key);
    if (entry) {
      // Most recently used last, so the oldest idle graph is the first to go.
      this.entries.delete(key);
      this.entries.set(key, entry);
    } else {
      // The idle graphs that must go are released before the new one is built, so their memory is free for it.
      const trimmed = this.trimIdle(this.keepWarm - 1);
      entry = { graph: trimmed.then(() => GuidanceGraph.compile(this.unet, spec, this.runtime)), users: 0 };
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
        if (held.users === 0) await this.trimIdle(this.keepWarm);
      },
    };
  }

  /** Releases every graph still held (the pipeline's own release). */
  async releaseAll(): Promise<void> {
    const graphs = [...this.entries.values()].map((e) => e.graph);
    this.entries.clear();
    await Promise.all(graphs.map(release));
  }

  /** Releases the oldest idle graphs until at most `keep` graphs in all are open. */
  private async trimIdle(keep: number): Promise<void> {
    const released: Promise<void>[] = [];
    for (const [key, entry] of this.entries) {
      if (this.entries.size <= Math.max(keep, 0)) break;
      if (entry.users > 0) continue;
      this.entries.delete(key);
      released.push(release(entry.graph));
    }
    await Promise.all(released);
  }
}

/** A graph that failed to compile has nothing to release; its error reached the generation already. */
async function release(graph: Promise<GuidanceGraph>): Promise<void> {
  await (await graph.catch(() => null))?.release();
}
