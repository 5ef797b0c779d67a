// Does one guidance-graph evaluation take longer for some latents than for others? `npx tsx bench/gsnVariance.ts
// --size 256 --latents 8 --reps 2 [--variant tv_bind] [--denormal-as-zero 0|1] [--session-options JSON]`.
// Compiles one guidance graph on the SD 1.5-shaped random weights (bench/benchModel.ts), evaluates it at N
// different latents, round-robin so slow periods of a shared machine hit every latent alike, and prints one
// JSON line: wall time, process CPU time and the time this process's threads waited for a CPU (the kernel's
// run-queue delay, /proc/self/task/*/schedstat) of every run, with the subnormal values found in each gradient.
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { GuidanceGraph } from '../src/guidance/guidanceGraph.ts';
import { loadUNet } from '../src/models/unet/index.ts';
import { randn } from '../src/random/index.ts';
import { defaultCacheDir } from '../src/runtime/cache.ts';
import { benchModel } from './benchModel.ts';
import { machineInfo } from './machine.ts';
import { type GsnVariant, gsnSpec, TIMESTEP, TOKENS } from './scenarios.ts';
import { summarize } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    latents: { type: 'string', default: '8' },
    reps: { type: 'string', default: '2' },
    variant: { type: 'string', default: 'tv_bind' },
    'denormal-as-zero': { type: 'string', default: '1' },
    /** ONNX Runtime session options as JSON; its `extra.session` entries are added to ours. */
    'session-options': { type: 'string', default: '{}' },
    label: { type: 'string', default: '' },
  },
});

/** Seconds this process's threads have spent waiting on a run queue (field 2 of schedstat, ns). */
function runQueueWaitS(): number {
  let ns = 0;
  for (const task of readdirSync('/proc/self/task')) {
    try {
      ns += Number(readFileSync(`/proc/self/task/${task}/schedstat`, 'utf8').split(' ')[1]);
    } catch {} // a thread that ended in between
  }
  return ns / 1e9;
}

const cpuS = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1e6;
};

/** Float32 values that are subnormal (0 < |x| < 2^-126): what flush-to-zero would have made 0. */
function countSubnormals(values: Float32Array): number {
  let n = 0;
  for (const v of values) if (v !== 0 && Math.abs(v) < 1.1754943508222875e-38) n++;
  return n;
}

const size = Number(args.size);
const latent = size / 8;
const extraOptions = JSON.parse(args['session-options']);
const sessionOptions = {
  ...extraOptions,
  extra: {
    ...extraOptions.extra,
    session: {
      set_denormal_as_zero: args['denormal-as-zero'],
      disable_prepacking: '1',
      ...extraOptions.extra?.session,
    },
  },
};
const cacheDir = defaultCacheDir();
const root = await benchModel(cacheDir, { log: (line) => console.error(line) });
const unet = await loadUNet(root);
const started = performance.now();
const graph = await GuidanceGraph.compile(unet, gsnSpec(args.variant as GsnVariant, latent), {
  cacheDir: join(cacheDir, 'bench', 'graphs-variance'),
  sessionOptions,
});
const compileS = (performance.now() - started) / 1000;
console.error(`compiled in ${compileS.toFixed(1)} s`);
const conditioning = { encoder_hidden_states: randn([1, 77, 768], 1000) };
const latents = Array.from({ length: Number(args.latents) }, (_, i) => randn([1, 4, latent, latent], i));
const evaluate = (z: Float32Array) => graph.evaluate(z, TIMESTEP, conditioning, TOKENS, 0);

await evaluate(latents[0]); // warm-up: the arena's first allocations
const runs: { latent: number; wallS: number; cpuS: number; waitS: number; subnormals: number }[] = [];
const loadBefore = loadavg();
for (let rep = 0; rep < Number(args.reps); rep++) {
  for (const [i, z] of latents.entries()) {
    const [wall0, cpu0, wait0] = [performance.now(), cpuS(), runQueueWaitS()];
    const { gradient } = await evaluate(z);
    runs.push({
      latent: i,
      wallS: (performance.now() - wall0) / 1000,
      cpuS: cpuS() - cpu0,
      waitS: runQueueWaitS() - wait0,
      subnormals: countSubnormals(gradient),
    });
    console.error(JSON.stringify(runs.at(-1)));
  }
}
const loadAfter = loadavg();
await graph.release();

const wall = summarize(runs.map((r) => r.wallS));
const perLatent = latents.map((_, i) => summarize(runs.filter((r) => r.latent === i).map((r) => r.wallS)));
const medians = perLatent.map((t) => t.median);
console.log(
  JSON.stringify({
    machine: machineInfo(),
    label: args.label,
    size,
    variant: args.variant,
    sessionOptions,
    compileS,
    loadBefore,
    loadAfter,
    maxOverMin: wall.max / wall.min,
    latentMediansMaxOverMin: Math.max(...medians) / Math.min(...medians),
    wall,
    cpuMedianS: summarize(runs.map((r) => r.cpuS)).median,
    runs,
  }),
);
