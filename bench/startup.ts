// Where a generation's start-up goes: `npx tsx bench/startup.ts --size 256 [--phase all|today|keyed] [--reps 2]`.
// Each measurement is a fresh process (what `dnb generate` is), with the weights in the page cache and the
// graph cache warmed by the process before it, and prints one JSON line of parts per graph: reading the
// weights' index and checking it, building the graph, serialising, caching (hash + write), ONNX Runtime's session
// creation, and the first and second run. `today` compiles as the callers do now (`CompiledGraph.compile`:
// build and serialise on every start); `keyed` uses `CompiledGraph.compileCached` (nothing built on a hit).
import { execFileSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { TypedData } from '../src/graph/index.ts';
import { Graph, type Value } from '../src/graph/index.ts';
import { GuidanceGraph } from '../src/guidance/guidanceGraph.ts';
import { guidanceMethod } from '../src/guidance/methods/index.ts';
import { loadTextEncoder } from '../src/models/textEncoder/index.ts';
import { loadUNet } from '../src/models/unet/index.ts';
import { loadVaeDecoder } from '../src/models/vae/index.ts';
import { randn } from '../src/random/index.ts';
import { defaultCacheDir } from '../src/runtime/cache.ts';
import { CompiledGraph, type CompileTimings, type RuntimeOptions } from '../src/runtime/session.ts';
import { benchModel } from './benchModel.ts';
import { peakMemoryGiB } from './memory.ts';
import { gsnSpec, TOKENS } from './scenarios.ts';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    phase: { type: 'string', default: 'all' },
    reps: { type: 'string', default: '2' },
    /** A child's mode: `today` or `keyed`, with the cache folder to use. */
    child: { type: 'string' },
    'cache-dir': { type: 'string' },
  },
});

const size = Number(args.size);
const latent = size / 8;
const seconds = (from: number) => (performance.now() - from) / 1000;
/** Thrown by a keyed build that must not run: the entry is not in the cache. */
const missing = new Error('not in the cache');

interface GraphParts extends CompileTimings {
  /** The whole compile call (for `today`, building is this minus the parts CompiledGraph measured). */
  compileS: number;
  firstRunS: number;
  secondRunS: number;
}

if (args.child) {
  console.log(JSON.stringify(await child(args.child as 'today' | 'keyed', args['cache-dir']!)));
} else {
  await driver();
}

/** Runs the children one after the other and prints the summary; the first of each mode warms its cache. */
async function driver(): Promise<void> {
  const root = await benchModel(defaultCacheDir(), { log: (line) => console.error(line) });
  const cacheDir = join(defaultCacheDir(), 'bench', `startup-${process.pid}`);
  const tsx = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
  const script = new URL(import.meta.url).pathname;
  const results: Record<string, unknown[]> = {};
  const phases = args.phase === 'all' ? ['today', 'keyed'] : [args.phase];
  try {
    for (const phase of phases) {
      results[phase] = [];
      // One cold start that fills the cache, then warm starts.
      for (let rep = 0; rep <= Number(args.reps); rep++) {
        const line = execFileSync(
          tsx,
          [script, '--child', phase, '--size', String(size), '--cache-dir', cacheDir],
          {
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'inherit'],
            env: { ...process.env, DNB_BENCH_ROOT: root },
          },
        );
        const result = JSON.parse(line.trim().split('\n').pop()!);
        console.error(`${phase} ${rep === 0 ? 'cold' : 'warm'}: ${JSON.stringify(result)}`);
        results[phase].push({ start: rep === 0 ? 'cold' : 'warm', ...result });
      }
    }
  } finally {
    await rm(cacheDir, { recursive: true, force: true });
  }
  console.log(JSON.stringify({ size, results }));
}

/** One start-up: load the three components, then compile and run each graph a D&B generation needs first. */
async function child(mode: 'today' | 'keyed', cacheDir: string) {
  const root = process.env.DNB_BENCH_ROOT!;
  const runtime: RuntimeOptions = { cacheDir };
  const load = {} as Record<string, number>;
  let t = performance.now();
  const textEncoder = await loadTextEncoder(root);
  load.textEncoderS = seconds(t);
  t = performance.now();
  const unet = await loadUNet(root);
  load.unetS = seconds(t);
  t = performance.now();
  const vae = await loadVaeDecoder(root);
  load.vaeS = seconds(t);

  const files = (weights: { files: { path: string }[] }, component: string) => [
    ...weights.files.map((f) => f.path),
    join(root, component, 'config.json'),
  ];
  const spec = gsnSpec('tv_bind', latent);
  const guidanceFeeds = guidanceMethod(spec.method).feeds(TOKENS, 0, spec.finerLayers);
  const graphs: Record<
    string,
    {
      key: { files: string[]; spec: unknown };
      today: () => Promise<CompiledGraph>;
      build: () => Record<string, Value>;
    }
  > = {
    text: {
      key: {
        files: files(textEncoder.weights, 'text_encoder'),
        spec: { kind: 'text', batch: 1, length: 77 },
      },
      today: async () => (await textEncoder.compile({ batch: 1, ...runtime })).graph,
      build: () => {
        const g = new Graph();
        return textEncoder.buildOutputs(g, g.input('input_ids', [1, 77], 'int64'), ['last_hidden_state']);
      },
    },
    cfg: {
      key: {
        files: files(unet.weights, 'unet'),
        spec: { kind: 'noise', batch: 2, height: latent, width: latent },
      },
      today: async () =>
        (await unet.compileNoisePrediction({ batch: 2, height: latent, width: latent }, runtime)).graph,
      build: () => {
        const g = new Graph();
        const inputs = unet.declareInputs(g, { batch: 2, height: latent, width: latent });
        return { noise: unet.forward(g, inputs, { materialize: () => false }).noise };
      },
    },
    guidance: {
      key: { files: files(unet.weights, 'unet'), spec: { kind: 'guidance', ...spec } },
      today: async () => (await GuidanceGraph.compile(unet, spec, runtime)).compiled,
      // The guidance graph's builder lives inside GuidanceGraph.compile; until it calls compileCached itself,
      // the benchmark takes the outputs it hands to CompiledGraph.compile (a miss only: a hit never gets here).
      build: () => {
        throw new Error('the keyed guidance graph is filled by fillGuidanceEntry');
      },
    },
    vae: {
      key: {
        files: files(vae.weights, 'vae'),
        spec: { kind: 'vae', batch: 1, height: latent, width: latent },
      },
      today: async () =>
        (await vae.compile({ batch: 1, latentHeight: latent, latentWidth: latent, ...runtime })).graph,
      build: () => {
        const g = new Graph();
        return { image: vae.build(g, g.input('latents', [1, 4, latent, latent])) };
      },
    },
  };

  const parts: Record<string, GraphParts> = {};
  let toFirstStepS = 0;
  for (const [name, graph] of Object.entries(graphs)) {
    t = performance.now();
    let compiled: CompiledGraph;
    if (mode === 'today') compiled = await graph.today();
    else if (name === 'guidance') compiled = await keyedGuidance(graph.key, () => graph.today(), runtime);
    else compiled = await CompiledGraph.compileCached(graph.key, graph.build, runtime, name);
    const compileS = seconds(t);
    const timings = compiled.timings;
    const buildS =
      mode === 'today' ? compileS - timings.serializeS - timings.cacheS - timings.sessionS : timings.buildS;
    // The VAE decoder runs only at the end of an image, so its runs are no part of the start-up.
    const feeds = feedsFor(compiled, name === 'guidance' ? guidanceFeeds : {});
    const timeRun = async () => {
      if (name === 'vae') return 0;
      const started = performance.now();
      await compiled.run(feeds);
      return seconds(started);
    };
    const firstRunS = await timeRun();
    const secondRunS = await timeRun();
    await compiled.release();
    parts[name] = { ...timings, buildS, compileS, firstRunS, secondRunS };
    // The first denoising step of a D&B image starts once the text is encoded (twice: prompt and negative
    // prompt) and the guidance and CFG graphs are ready; the VAE is needed only at the end.
    if (name !== 'vae') toFirstStepS += compileS + (name === 'text' ? 2 * firstRunS : 0);
  }
  const loadS = load.textEncoderS + load.unetS + load.vaeS;
  return {
    mode,
    loadavg: loadavg()[0],
    load,
    parts,
    /** Loading the components, then the text, CFG and guidance graphs ready and the prompt encoded. */
    toFirstStepS: loadS + toFirstStepS,
    peakGiB: peakMemoryGiB(),
  };
}

/**
 * The keyed guidance graph: on a hit straight from the cache; on a miss, GuidanceGraph.compile builds it and the
 * outputs it passes to CompiledGraph.compile are compiled through compileCached under `key` instead.
 */
async function keyedGuidance(
  key: { files: string[]; spec: unknown },
  compileToday: () => Promise<CompiledGraph>,
  runtime: RuntimeOptions,
): Promise<CompiledGraph> {
  const hit = await CompiledGraph.compileCached(
    key,
    () => {
      throw missing;
    },
    runtime,
    'guidance',
  ).catch((e) => {
    if (e === missing) return undefined;
    throw e;
  });
  if (hit) return hit;
  const original = CompiledGraph.compile;
  CompiledGraph.compile = (outputs, options, name) =>
    CompiledGraph.compileCached(key, () => outputs, options, name ?? 'guidance');
  try {
    return await compileToday();
  } finally {
    CompiledGraph.compile = original;
  }
}

/** Feeds of the right shapes: randn floats, CLIP's start/end tokens for ids, the benchmark's tokens. */
function feedsFor(graph: CompiledGraph, extra: Record<string, TypedData>): Record<string, TypedData> {
  const feeds: Record<string, TypedData> = { ...extra };
  for (const [i, { name, shape, dtype }] of graph.inputs.entries()) {
    if (name in feeds) continue;
    if (name === 'input_ids')
      feeds[name] = BigInt64Array.from({ length: 77 }, (_, j) => (j === 0 ? 49406n : 49407n));
    else if (name === 'object_positions')
      feeds[name] = BigInt64Array.from(TOKENS.objects, (p) => BigInt(p - 1));
    else if (name === 'timestep') feeds[name] = Float32Array.of(981);
    else if (dtype === 'float32') feeds[name] = randn(shape, 100 + i);
    else throw new Error(`bench/startup.ts: no feed for ${name} (${dtype})`);
  }
  return feeds;
}
