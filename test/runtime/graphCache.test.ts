import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExternalTensor } from '../../src/graph/index.ts';
import * as G from '../../src/graph/index.ts';
import { canonicalJson, codeVersion } from '../../src/runtime/cache.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { writeSafetensors } from '../../src/weights/safetensorsWriter.ts';

const root = mkdtempSync(join(tmpdir(), 'dnb-graph-cache-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const freshDir = (name: string) => mkdtempSync(join(root, `${name}-${folders++}-`));

const W = Float32Array.of(0.5, -1, 2, 0.25, 3, -0.75);

/** A component folder: a weights file with w [3, 2] (times `scale`) and a config; returns where w lies. */
async function writeComponent(dir: string, scale = 1) {
  const weights = join(dir, 'model.safetensors');
  const w = { dtype: 'F32' as const, shape: [3, 2], data: W.map((v) => v * scale) };
  await writeSafetensors(weights, { w }, { overwrite: true });
  const config = join(dir, 'config.json');
  writeFileSync(config, '{"layers": 1}\n');
  const { byteOffset, byteLength } = (await openSafetensors(weights)).tensors.get('w')!;
  return { weights, config, w: { file: weights, byteOffset, byteLength, name: 'w' } };
}

/** y = x·w, plus x·w again per extra layer; counts its calls, so a test can tell a build from a cache hit. */
function builder(w: ExternalTensor, layers = 1) {
  const calls = { n: 0 };
  const build = () => {
    calls.n++;
    const g = new G.Graph();
    const x = g.input('x', [1, 3]);
    const weight = g.external(w, [3, 2], 'float32');
    let y = G.matmul(x, weight);
    for (let i = 1; i < layers; i++) y = G.add(y, G.matmul(x, weight));
    return { y };
  };
  return { build, calls };
}

const run = async (graph: CompiledGraph) =>
  Array.from((await graph.run({ x: Float32Array.of(1, 2, 3) })).y.data as Float32Array);

describe('CompiledGraph.compileCached', () => {
  it('builds on a miss; a second start with the same key neither builds nor serialises, and computes the same', async () => {
    const dir = freshDir('model');
    const cacheDir = freshDir('cache');
    const { weights, config, w } = await writeComponent(dir);
    const { build, calls } = builder(w);
    const key = { files: [weights, config], spec: { layers: 1, shape: [1, 3] } };

    const cold = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 }, 'probe');
    expect(calls.n).toBe(1);
    expect(cold.timings.cached).toBe(false);
    // [1,2,3]·[[0.5,-1],[2,0.25],[3,-0.75]]
    expect(await run(cold)).toEqual([13.5, -2.75]);

    const warm = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 }, 'probe');
    expect(calls.n).toBe(1); // not built again
    expect(warm.timings).toMatchObject({ cached: true, buildS: 0, serializeS: 0, cacheS: 0 });
    expect(warm.path).toBe(cold.path);
    expect(await run(warm)).toEqual([13.5, -2.75]);
    // What the graph would have said about itself comes from the manifest.
    expect(warm.inputs).toEqual([{ name: 'x', shape: [1, 3], dtype: 'float32' }]);
    expect(warm.outputTypes).toEqual({ y: { shape: [1, 2], dtype: 'float32' } });
    expect(warm.flops()).toEqual(cold.flops());
    expect(warm.flops().matmul).toBe(2 * 3 * 2);
    await Promise.all([cold.release(), warm.release()]);
  });

  it('a spec with the same fields in another order is the same key; another spec, name or file is another entry', async () => {
    const dir = freshDir('model');
    const cacheDir = freshDir('cache');
    const { weights, config, w } = await writeComponent(dir);
    const compile = (spec: unknown, layers = 1, name = 'probe') =>
      CompiledGraph.compileCached(
        { files: [weights, config], spec },
        builder(w, layers).build,
        {
          cacheDir,
          threads: 1,
        },
        name,
      );

    const a = await compile({ layers: 1, size: 3 });
    const sameFields = await compile({ size: 3, layers: 1 });
    expect(sameFields.timings.cached).toBe(true);
    expect(sameFields.path).toBe(a.path);

    const twoLayers = await compile({ size: 3, layers: 2 }, 2);
    expect(twoLayers.timings.cached).toBe(false);
    expect(twoLayers.path).not.toBe(a.path);
    expect(await run(twoLayers)).toEqual([27, -5.5]);

    const otherName = await compile({ layers: 1, size: 3 }, 1, 'other');
    expect(otherName.path).not.toBe(a.path);

    // A config edit (same size, later modification time) is a new entry even though the spec is unchanged.
    const before = statSync(config);
    utimesSync(config, new Date(), new Date(before.mtimeMs + 5000));
    const editedConfig = await compile({ layers: 1, size: 3 });
    expect(editedConfig.timings.cached).toBe(false);
    expect(editedConfig.path).not.toBe(a.path);
    // It supersedes the entry of the old config only; other specs and names keep theirs.
    expect([a, twoLayers, otherName, editedConfig].map((g) => existsSync(g.path))).toEqual([
      false,
      true,
      true,
      true,
    ]);
    await Promise.all([a, sameFields, twoLayers, otherName, editedConfig].map((g) => g.release()));
  });

  it('new weight values in the same file make a new entry, which reads them', async () => {
    const dir = freshDir('model');
    const cacheDir = freshDir('cache');
    const { weights, config, w } = await writeComponent(dir);
    const key = { files: [weights, config], spec: {} };
    const first = await CompiledGraph.compileCached(key, builder(w).build, { cacheDir, threads: 1 });
    const { mtimeMs } = statSync(weights);
    await writeComponent(dir, 2);
    utimesSync(weights, new Date(), new Date(mtimeMs + 5000));
    const second = await CompiledGraph.compileCached(key, builder(w).build, { cacheDir, threads: 1 });
    expect(second.timings.cached).toBe(false);
    expect(await run(second)).toEqual([27, -5.5]);
    // The entry built from the old file is superseded and removed (the first session keeps running on it).
    expect(existsSync(dirname(first.path))).toBe(false);
    expect(await run(first)).toEqual([13.5, -2.75]);
    await Promise.all([first.release(), second.release()]);
  });

  it('an entry whose model or manifest was deleted is rebuilt instead of failing to load', async () => {
    const dir = freshDir('model');
    const cacheDir = freshDir('cache');
    const { weights, config, w } = await writeComponent(dir);
    const key = { files: [weights, config], spec: {} };
    const { build, calls } = builder(w);
    const first = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 });
    await first.release();
    rmSync(first.path);
    const again = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 });
    expect(calls.n).toBe(2);
    expect(await run(again)).toEqual([13.5, -2.75]);
    await again.release();

    rmSync(join(dirname(first.path), 'graph.json'));
    const third = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 });
    expect(calls.n).toBe(3);
    expect(await run(third)).toEqual([13.5, -2.75]);
    await third.release();
  });
});

describe('ONNX Runtime optimised models in keyed entries', () => {
  const optimizedFiles = (graph: CompiledGraph) =>
    readdirSync(dirname(graph.path)).filter((f) => f.startsWith('optimized-'));

  it('are saved by the first start and loaded, with optimisation off, by the next, computing the same', async () => {
    const dir = freshDir('model');
    const cacheDir = freshDir('cache');
    const { weights, config, w } = await writeComponent(dir);
    const key = { files: [weights, config], spec: { layers: 3 } };
    const { build } = builder(w, 3);
    const first = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 });
    expect(first.timings.optimized).toBe('saved');
    // One complete model under its final name, nothing half-written (an initializers file only holds tensors of
    // 1 KiB or more, so this tiny graph keeps its weights inline).
    expect(optimizedFiles(first)).toEqual([expect.stringMatching(/^optimized-[0-9a-f]{16}\.onnx$/)]);
    const second = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 });
    expect(second.timings.optimized).toBe('loaded');
    expect(await run(second)).toEqual([40.5, -8.25]);
    expect(await run(first)).toEqual([40.5, -8.25]);

    // Other session options give another optimised model beside the first; opting out uses none.
    const other = await CompiledGraph.compileCached(key, build, {
      cacheDir,
      threads: 1,
      sessionOptions: { enableCpuMemArena: false },
    });
    expect(other.timings.optimized).toBe('saved');
    expect(optimizedFiles(other).filter((f) => f.endsWith('.onnx'))).toHaveLength(2);
    const plain = await CompiledGraph.compileCached(key, build, {
      cacheDir,
      threads: 1,
      optimizedModel: false,
    });
    expect(plain.timings).toMatchObject({ cached: true, optimized: 'off' });
    expect(await run(plain)).toEqual([40.5, -8.25]);
    await Promise.all([first, second, other, plain].map((g) => g.release()));
  });
});

describe('ONNX Runtime optimised models with an initializers file', () => {
  it('keep weights of 1 KiB or more in one file beside the model, which a later start reads', async () => {
    const dir = freshDir('model');
    const cacheDir = freshDir('cache');
    const weights = join(dir, 'model.safetensors');
    // 32×32 identity × 3: 4 KiB, written out of line by ORT.
    const data = new Float32Array(32 * 32).map((_, i) => (i % 33 === 0 ? 3 : 0));
    await writeSafetensors(weights, { w: { dtype: 'F32', shape: [32, 32], data } });
    const { byteOffset, byteLength } = (await openSafetensors(weights)).tensors.get('w')!;
    const build = () => {
      const g = new G.Graph();
      const w = g.external({ file: weights, byteOffset, byteLength, name: 'w' }, [32, 32], 'float32');
      return { y: G.matmul(g.input('x', [1, 32]), w) };
    };
    const key = { files: [weights], spec: { identity: 32 } };
    const x = Float32Array.from({ length: 32 }, (_, i) => i);
    const first = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 });
    expect(first.timings.optimized).toBe('saved');
    const files = readdirSync(dirname(first.path)).filter((f) => f.startsWith('optimized-'));
    expect(files).toHaveLength(2);
    expect(files.filter((f) => /^optimized-[0-9a-f]{16}\.onnx$/.test(f))).toHaveLength(1);
    expect(files.filter((f) => f.endsWith('.weights'))).toHaveLength(1);
    const second = await CompiledGraph.compileCached(key, build, { cacheDir, threads: 1 });
    expect(second.timings.optimized).toBe('loaded');
    const y = (await second.run({ x })).y.data as Float32Array;
    expect(Array.from(y)).toEqual(Array.from(x, (v) => 3 * v));
    await Promise.all([first.release(), second.release()]);
  });
});

describe('graph keys', () => {
  it('canonical JSON sorts keys at every depth and drops undefined fields', () => {
    expect(canonicalJson({ b: 1, a: { d: [1, { f: true, e: null }], c: 'x' }, u: undefined })).toBe(
      '{"a":{"c":"x","d":[1,{"e":null,"f":true}]},"b":1}',
    );
  });

  it('refuses values a key cannot hold, naming where they are', () => {
    expect(() => canonicalJson({ shape: { materialize: () => true } })).toThrow(
      'spec.shape.materialize is a function; a graph key holds plain JSON only',
    );
    expect(() => canonicalJson({ sizes: new Map() })).toThrow('spec.sizes is a Map');
    expect(() => canonicalJson({ data: new Float32Array(2) })).toThrow('spec.data is a Float32Array');
    expect(() => canonicalJson({ scale: Number.NaN })).toThrow('spec.scale is NaN');
  });

  it('the code version is a stable hash of this package’s code', async () => {
    const version = codeVersion();
    expect(version).toMatch(/^[0-9a-f]{16}$/);
    expect(codeVersion()).toBe(version);
  });
});
