// A whole Divide & Bind (tv_bind) image in its own process, so its peak resident memory is the generation's
// alone: `tsx bench/generation.ts MODEL SIZE [THREADS]`; prints one JSON line.
import { StableDiffusion } from '../src/pipeline/stableDiffusion.ts';
import { peakMemoryGiB } from './memory.ts';
import { sampleMemory } from './memorySampler.ts';
import { PROMPT, TOKENS } from './scenarios.ts';

/** Fixed work: 4 PNDM steps (5 loop iterations), GSN updates at loop indices 0–1, 2 refinements at index 0. */
export const GENERATION = { steps: 4, maxIterToAlter: 2, refinements: 2 } as const;

const [model, sizeText, threadsText] = process.argv.slice(2);
const size = Number(sizeText);
const memory = sampleMemory();
const started = performance.now();
const sd = await StableDiffusion.load(model, { threads: threadsText ? Number(threadsText) : undefined });
const loaded = performance.now();
const loopTimes: number[] = [];
const result = await sd.generate({
  prompt: PROMPT,
  method: 'divide-bind',
  seed: 0,
  height: size,
  width: size,
  steps: GENERATION.steps,
  tokens: { tokenIndices: TOKENS.objects, attributeIndices: TOKENS.attributes },
  gsn: {
    maxIterToAlter: GENERATION.maxIterToAlter,
    // A threshold no map reaches, so refinement runs exactly to its cap at loop index 0 and nowhere else.
    thresholds: new Map([[0, 1e9]]),
    refinementCaps: [GENERATION.refinements, 0],
    attentionRes: size / 8 / 4,
  },
  onProgress: () => loopTimes.push((performance.now() - started) / 1000),
});
const finished = performance.now();
const trace = result.images[0].trace;
const evaluations = trace?.steps.reduce((n, s) => n + s.losses.length, 0) ?? 0;
await sd.release();
const sampled = await memory.stop();
console.log(
  JSON.stringify({
    size,
    loadS: (loaded - started) / 1000,
    // The first loop iteration includes compiling (or loading from the cache) the text, UNet and guidance graphs.
    loopEndsS: loopTimes,
    totalS: (finished - started) / 1000,
    lossEvaluations: evaluations,
    loopIterations: loopTimes.length,
    peakGiB: peakMemoryGiB(),
    // VmHWM counts memory-mapped weights (ORT's saved optimised models) with the private memory; these
    // say how much of the peak was which (sampled every 50 ms, so a peak may be missed by a few MB).
    peakAnonGiB: sampled.anonGiB,
    peakFileGiB: sampled.fileGiB,
  }),
);
