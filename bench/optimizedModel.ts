// Is loading ONNX Runtime's own optimised model, with optimisation off, faster than optimising at every start?
// `npx tsx bench/optimizedModel.ts --size 256 [--reps 2]`: caches the CFG UNet (batch 2) of the SD 1.5-shaped
// random weights, then times, in this process (weights in the page cache): session creation from our model with
// optimisation 'all' (what a start does today), writing ORT's optimised model once (`optimizedModelFilePath`, its
// initializers in one external file), and session creation from that model with optimisation 'disabled'; with
// the first run and resident memory after each. Prints one JSON line.
import { readFileSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import ort from 'onnxruntime-node';
import { Graph } from '../src/graph/index.ts';
import { loadUNet } from '../src/models/unet/index.ts';
import { randn } from '../src/random/index.ts';
import { defaultCacheDir } from '../src/runtime/cache.ts';
import { CompiledGraph, sessionOptionsFor } from '../src/runtime/session.ts';
import { benchModel } from './benchModel.ts';
import { residentGiB } from './memory.ts';

const { values: args } = parseArgs({
  options: { size: { type: 'string', default: '256' }, reps: { type: 'string', default: '2' } },
});
const latent = Number(args.size) / 8;
const seconds = (from: number) => (performance.now() - from) / 1000;
const log = (line: string) => console.error(line);

const root = await benchModel(defaultCacheDir(), { log });
const unet = await loadUNet(root);
const cacheDir = join(defaultCacheDir(), 'bench', `optimized-${process.pid}`);
const shape = { batch: 2, height: latent, width: latent };
const compiled = await CompiledGraph.compileCached(
  { files: [...unet.weights.files.map((f) => f.path), join(root, 'unet', 'config.json')], spec: shape },
  () => {
    const g = new Graph();
    return { noise: unet.forward(g, unet.declareInputs(g, shape), { materialize: () => false }).noise };
  },
  { cacheDir },
  'unet',
);
const modelPath = compiled.path;
await compiled.release();
const feeds = {
  sample: new ort.Tensor('float32', randn([2, 4, latent, latent], 1), [2, 4, latent, latent]),
  timestep: new ort.Tensor('float32', Float32Array.of(981), []),
  encoder_hidden_states: new ort.Tensor('float32', randn([2, 77, 768], 2), [2, 77, 768]),
};

/** Resident memory in GiB: anonymous (the process's own) and file-backed (mapped files, shared page cache). */
function resident(): { anonGiB: number; fileGiB: number } {
  const status = readFileSync('/proc/self/status', 'utf8');
  const kB = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { anonGiB: kB('RssAnon') / 2 ** 20, fileGiB: kB('RssFile') / 2 ** 20 };
}

/** Creates a session, runs it twice and releases it: seconds for each, and the resident memory after them. */
async function measure(path: string, options: ort.InferenceSession.SessionOptions) {
  const t0 = performance.now();
  const session = await ort.InferenceSession.create(path, options);
  const createS = seconds(t0);
  const rssAfterCreate = residentGiB();
  const t1 = performance.now();
  await session.run(feeds);
  const firstRunS = seconds(t1);
  const rssAfterRun = residentGiB();
  const t2 = performance.now();
  await session.run(feeds);
  const secondRunS = seconds(t2);
  const afterRuns = resident();
  await session.release();
  return { createS, firstRunS, secondRunS, rssAfterCreate, rssAfterRun, ...afterRuns };
}

const ours = sessionOptionsFor({});
const results: Record<string, unknown[]> = { all: [], optimizedDisabled: [] };
// One session with 'all' first, so the weights are in the page cache before anything is timed against them.
results.all.push(await measure(modelPath, ours));
log(`all (page cache warm-up): ${JSON.stringify(results.all.at(-1))}`);

const optimizedPath = join(dirname(modelPath), 'optimized.onnx');
const initializers = 'optimized.weights';
const t = performance.now();
const writer = await ort.InferenceSession.create(modelPath, {
  ...ours,
  optimizedModelFilePath: optimizedPath,
  extra: {
    ...(ours.extra as object),
    session: {
      ...(ours.extra as { session: Record<string, string> }).session,
      optimized_model_external_initializers_file_name: initializers,
      optimized_model_external_initializers_min_size_in_bytes: '1024',
    },
  },
});
const saveS = seconds(t);
await writer.release();
const optimizedBytes =
  (await stat(optimizedPath)).size + (await stat(join(dirname(modelPath), initializers))).size;
log(`saved the optimised model in ${saveS.toFixed(1)} s (${(optimizedBytes / 2 ** 30).toFixed(2)} GiB)`);

// Alternating, so a slow period of the shared machine hits both alike.
for (let i = 0; i < Number(args.reps); i++) {
  results.optimizedDisabled.push(
    await measure(optimizedPath, { ...ours, graphOptimizationLevel: 'disabled' }),
  );
  log(`optimized+disabled: ${JSON.stringify(results.optimizedDisabled.at(-1))}`);
  results.all.push(await measure(modelPath, ours));
  log(`all: ${JSON.stringify(results.all.at(-1))}`);
}
await rm(cacheDir, { recursive: true, force: true });
console.log(JSON.stringify({ size: Number(args.size), loadavg: loadavg(), saveS, optimizedBytes, results }));
