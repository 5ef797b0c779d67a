/**
 * Every `dnb` command pays for the modules the CLI imports statically. The libraries below take 0.13–0.9 s each
 * to load (measured on the 2-core VM: compromise 0.9 s, Vega 0.4 s, Vega-Lite 0.4 s, BullMQ 0.4 s, sharp 0.23 s,
 * onnx-proto 0.13 s), and only some commands, or a generation only after its first step or on a cache miss, need
 * them, so they are imported where they are used. This follows the CLI's static imports, as
 * esbuild resolves them, and fails if one of these libraries is reached.
 */
import { build, type Metafile } from 'esbuild';
import { describe, expect, it } from 'vitest';

const LOADED_ON_DEMAND = ['compromise', 'vega', 'vega-lite', 'bullmq', 'ioredis', 'sharp', 'onnx-proto'];

/** The packages reached from `entry` through static imports only, each with one chain of files that reaches it. */
function staticallyReachedPackages(metafile: Metafile, entry: string): Map<string, string[]> {
  const reached = new Map<string, string[]>();
  const chains = new Map<string, string[]>([[entry, [entry]]]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.shift()!;
    for (const imported of metafile.inputs[file]?.imports ?? []) {
      if (imported.kind !== 'import-statement') continue; // dynamic import() is loaded on demand
      const chain = [...chains.get(file)!, imported.path];
      if (imported.external) {
        if (!reached.has(imported.path)) reached.set(imported.path, chain);
      } else if (!chains.has(imported.path)) {
        chains.set(imported.path, chain);
        queue.push(imported.path);
      }
    }
  }
  return reached;
}

describe('the command line at start-up', () => {
  it('does not load the libraries that only some commands need', async () => {
    const entry = 'src/cli/main.ts';
    const { metafile } = await build({
      entryPoints: [entry],
      bundle: true,
      write: false,
      metafile: true,
      platform: 'node',
      format: 'esm',
      packages: 'external',
      splitting: true,
      outdir: 'unused',
      logLevel: 'silent',
    });
    const reached = staticallyReachedPackages(metafile, entry);
    // It does reach the ones every generation needs, so the walk itself works.
    expect(reached.has('onnxruntime-node')).toBe(true);
    const offenders = LOADED_ON_DEMAND.filter((name) => reached.has(name)).map((name) =>
      reached.get(name)!.join(' → '),
    );
    expect(offenders).toEqual([]);
  });
});
