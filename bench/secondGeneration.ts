// What a running studio or benchmark worker pays before the first step of its next image:
// `npx tsx bench/secondGeneration.ts [--size 256] [--keep-warm 2] [--again 3]`. Loads the benchmark's SD 1.5-shaped
// model once, generates the same short D&B image 1 + again times in one process, and prints one JSON line: for
// each generation, the seconds from `generate` to the end of each loop iteration, and its start-up: loop indices
// 0 and 1 do the same work (one loss evaluation and one CFG step), so index 0's excess over index 1 is what
// starting the image cost (encoding the prompt, getting the sessions, their first runs).
import { parseArgs } from 'node:util';
import { StableDiffusion } from '../src/pipeline/stableDiffusion.ts';
import { defaultCacheDir } from '../src/runtime/cache.ts';
import { benchModel } from './benchModel.ts';
import { PROMPT, TOKENS } from './scenarios.ts';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    'keep-warm': { type: 'string', default: '2' },
    /** How many more generations follow the first. */
    again: { type: 'string', default: '3' },
  },
});
const size = Number(args.size);
const root = await benchModel(defaultCacheDir(), { log: (line) => console.error(line) });
const sd = await StableDiffusion.load(root, { keepWarm: Number(args['keep-warm']) });

/** One image of three steps, guided at the first two; the times of each loop iteration's end, from the call. */
async function generateOnce(): Promise<{ loopEndsS: number[]; totalS: number; startupS: number }> {
  const started = performance.now();
  const loopEndsS: number[] = [];
  await sd.generate({
    prompt: PROMPT,
    method: 'divide-bind',
    seed: 0,
    height: size,
    width: size,
    steps: 3,
    tokens: { tokenIndices: TOKENS.objects, attributeIndices: TOKENS.attributes },
    gsn: { maxIterToAlter: 2, thresholds: new Map([[0, 0]]), refinementCaps: [0, 0] },
    onProgress: () => loopEndsS.push((performance.now() - started) / 1000),
  });
  const [end0, end1] = loopEndsS as [number, number];
  return { loopEndsS, totalS: (performance.now() - started) / 1000, startupS: end0 - (end1 - end0) };
}

const first = await generateOnce();
const later = [];
for (let i = 0; i < Number(args.again); i++) later.push(await generateOnce());
await sd.release();
const startups = later.map((g) => g.startupS).sort((a, b) => a - b);
console.log(
  JSON.stringify({
    size,
    keepWarm: Number(args['keep-warm']),
    first,
    later,
    laterStartupMedianS: startups[Math.floor(startups.length / 2)],
  }),
);
