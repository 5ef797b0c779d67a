// The performance benchmark: `npm run bench -- --size 256` (see README, Benchmarks). Writes SD 1.5-shaped random
// weights once, then measures each part of a guided generation on the CPU and writes bench/out/*.json.
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { FlopCount } from '../src/graph/flops.ts';
import { GuidanceGraph } from '../src/guidance/guidanceGraph.ts';
import { ClipTokenizer } from '../src/models/clipTokenizer.ts';
import { loadTextEncoder } from '../src/models/textEncoder/index.ts';
import { loadUNet } from '../src/models/unet/index.ts';
import { loadVaeDecoder } from '../src/models/vae/index.ts';
import { classifierFreeGuidance } from '../src/pipeline/classifierFreeGuidance.ts';
import { defaultCacheDir } from '../src/runtime/cache.ts';
import type { CompiledGraph, RuntimeOptions } from '../src/runtime/session.ts';
import { benchModel } from './benchModel.ts';
import { convMicrobenchmark } from './convMicrobenchmark.ts';
import { benchEvaluation } from './evaluation.ts';
import { machineInfo } from './machine.ts';
import { matmulMicrobenchmark } from './matmulMicrobenchmark.ts';
import { peakMemoryGiB, resetPeakMemory } from './memory.ts';
import { randomTensor } from './randomWeights.ts';
import { GSN_VARIANTS, gsnSpec, PROMPT, TIMESTEP, TOKENS } from './scenarios.ts';
import { formatTiming, once, type Timing, time } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    reps: { type: 'string', default: '3' },
    threads: { type: 'string' },
    seed: { type: 'string', default: '0' },
    'fp16-weights': { type: 'boolean', default: false },
    /** Comma-separated subset of text,cfg,gsn,vae,startup,generation,eval (eval: the evaluation models). */
    only: { type: 'string' },
    /** Comma-separated subset of the GSN variants ae,tv,tv_bind (all by default). */
    variants: { type: 'string' },
    /** ONNX Runtime session options as JSON, e.g. '{"enableMemPattern":false}'. */
    'session-options': { type: 'string' },
    label: { type: 'string', default: '' },
  },
});

const sizes = args.size.split(',').map(Number);
const reps = Number(args.reps);
const stages = new Set((args.only ?? 'text,cfg,gsn,vae,startup,generation,eval').split(','));
const SIZE_STAGES = ['text', 'cfg', 'gsn', 'vae', 'startup', 'generation'];
const variants = args.variants
  ? GSN_VARIANTS.filter((v) => args.variants!.split(',').includes(v))
  : GSN_VARIANTS;
const cacheDir = defaultCacheDir();
const log = (line: string) => console.log(line);

/** One measured graph: its timings, FLOPs and achieved rate. */
interface Measurement {
  compileS: number;
  timing: Timing;
  flops: Pick<FlopCount, 'total' | 'conv' | 'matmul' | 'elementwise'>;
  gflops: number;
  fractionOfConvPeak: number;
  peakGiB: number;
}

const machine = machineInfo();
log(`machine: ${JSON.stringify(machine)}`);
const needsSd = SIZE_STAGES.some((stage) => stages.has(stage));
const root = needsSd
  ? await benchModel(cacheDir, { seed: Number(args.seed), fp16: args['fp16-weights'], log })
  : '';
const sessionOptions = args['session-options'] ? JSON.parse(args['session-options']) : undefined;
const threads = args.threads ? Number(args.threads) : undefined;

const conv = await convMicrobenchmark({ threads, sessionOptions }, Math.max(reps, 5));
log(`conv 320→320 3×3 at 64×64: ${formatTiming(conv.timing)} → ${conv.gflops.toFixed(1)} GFLOP/s`);

const results: Record<string, unknown> = {};
if (needsSd) for (const size of sizes) results[size] = await benchSize(size);

let evaluation: Record<string, unknown> | undefined;
let matmul: Awaited<ReturnType<typeof matmulMicrobenchmark>> | undefined;
if (stages.has('eval')) {
  matmul = await matmulMicrobenchmark({ threads, sessionOptions }, Math.max(reps, 5));
  log(`matmul [1576,768]×[768,3072]: ${formatTiming(matmul.timing)} → ${matmul.gflops.toFixed(1)} GFLOP/s`);
  const runtime = {
    threads,
    sessionOptions,
    cacheDir: join(cacheDir, 'bench', `graphs-${process.pid}-eval`),
  };
  evaluation = await benchEvaluation(
    cacheDir,
    runtime,
    reps,
    { conv: conv.gflops, matmul: matmul.gflops },
    log,
  );
  await rm(runtime.cacheDir, { recursive: true, force: true });
}

const report = {
  machine,
  command: `npm run bench -- ${process.argv.slice(2).join(' ')}`,
  label: args.label,
  reps,
  threads: threads ?? 'ORT default',
  sessionOptions: sessionOptions ?? {},
  conv: { ...conv.timing, gflops: conv.gflops, flops: conv.flops },
  ...(matmul && { matmul: { ...matmul.timing, gflops: matmul.gflops, flops: matmul.flops } }),
  sizes: results,
  ...(evaluation && { evaluation }),
};
const outDir = new URL('./out/', import.meta.url).pathname;
await mkdir(outDir, { recursive: true });
const stamp = machine.date.toString().replace(/[:.]/g, '-');
const outPath = join(
  outDir,
  `bench-${needsSd ? sizes.join('_') : 'eval'}${args.label ? `-${args.label}` : ''}-${stamp}.json`,
);
await writeFile(outPath, `${JSON.stringify(report, null, 2)}\n`);
log(`written ${outPath}`);

async function benchSize(size: number): Promise<Record<string, unknown>> {
  const latent = size / 8;
  log(`\n== ${size}×${size} (latent ${latent}×${latent}), ${reps} repetitions after a warm-up ==`);
  // A fresh graph cache per run, so the first compile is a real first compile; the cached start-up then reuses it.
  const runCache = join(cacheDir, 'bench', `graphs-${process.pid}-${size}`);
  await rm(runCache, { recursive: true, force: true });
  const runtime: RuntimeOptions = { threads, cacheDir: runCache, sessionOptions };
  const out: Record<string, unknown> = {};

  const measure = async <G extends { release(): Promise<void> }>(
    name: string,
    compile: () => Promise<G>,
    flopsOf: (graph: G) => FlopCount,
    run: (graph: G) => Promise<unknown>,
  ): Promise<Measurement> => {
    resetPeakMemory();
    const [graph, compileS] = await once(compile);
    const timing = await time(reps, () => run(graph));
    const { total, conv: c, matmul, elementwise } = flopsOf(graph);
    const gflops = total / timing.median / 1e9;
    const m: Measurement = {
      compileS,
      timing,
      flops: { total, conv: c, matmul, elementwise },
      gflops,
      fractionOfConvPeak: gflops / conv.gflops,
      peakGiB: peakMemoryGiB(),
    };
    await graph.release();
    log(
      `${name.padEnd(14)} ${formatTiming(timing)}  ${(total / 1e9).toFixed(0)} GFLOP → ${gflops.toFixed(1)} GFLOP/s ` +
        `(${(100 * m.fractionOfConvPeak).toFixed(0)}% of conv), compile ${compileS.toFixed(1)} s, peak ${m.peakGiB.toFixed(2)} GiB`,
    );
    out[name] = m;
    return m;
  };

  const tokenizer = ClipTokenizer.fromFolder(join(root, 'tokenizer'));
  const ids = [tokenizer.encode(PROMPT).inputIds, tokenizer.encode('').inputIds];
  const textEncoder = await loadTextEncoder(root);
  let cond = randomTensor('cond', [1, 77, 768], 3);
  let uncond = randomTensor('uncond', [1, 77, 768], 4);
  if (stages.has('text')) {
    await measure(
      'text',
      () => textEncoder.compile({ batch: 1, ...runtime }),
      (g) => g.graph.flops(),
      async (g) => {
        cond = (await g.run([ids[0]])).data as Float32Array;
        uncond = (await g.run([ids[1]])).data as Float32Array;
      },
    );
    // The pipeline encodes the prompt and the negative prompt: the timing above is both; report one.
    const text = out.text as Measurement;
    out.text = { ...text, note: 'two encodings (prompt and negative prompt) per timing' };
  }

  const unet = await loadUNet(root);
  const sample = randomTensor('latent', [1, 4, latent, latent], 5);
  let cfg: Measurement | undefined;
  if (stages.has('cfg')) {
    const pair = new Float32Array(sample.length * 2);
    pair.set(sample, 0);
    pair.set(sample, sample.length);
    const textBatch = new Float32Array(cond.length * 2);
    textBatch.set(uncond, 0);
    textBatch.set(cond, cond.length);
    cfg = await measure(
      'cfg_step',
      () => unet.compileNoisePrediction({ batch: 2, height: latent, width: latent }, runtime),
      (g) => g.graph.flops(),
      async (g) => classifierFreeGuidance(await g.predict(pair, TIMESTEP, textBatch), 7.5),
    );
  }

  if (stages.has('gsn')) {
    for (const variant of variants) {
      const m = await measure(
        `gsn_${variant}`,
        () => GuidanceGraph.compile(unet, gsnSpec(variant, latent), runtime),
        (g) => g.compiled.flops(),
        (g) => g.evaluate(sample, TIMESTEP, { encoder_hidden_states: cond }, TOKENS, 0),
      );
      if (cfg) {
        const ratio = m.timing.median / cfg.timing.median;
        out[`gsn_${variant}`] = { ...m, ratioToCfgStep: ratio };
        log(`${''.padEnd(14)} = ${ratio.toFixed(2)}× a CFG step`);
      }
    }
  }

  if (stages.has('vae')) {
    const vae = await loadVaeDecoder(root);
    const latents = randomTensor('z', [1, 4, latent, latent], 6);
    await measure(
      'vae_decode',
      () => vae.compile({ batch: 1, latentHeight: latent, latentWidth: latent, ...runtime }),
      (g) => g.graph.flops(),
      (g) => g.run(latents),
    );
  }

  if (stages.has('startup')) {
    // What a second launch pays before its first step: reading configs and weight headers, building and
    // hashing the graphs, and ONNX Runtime loading them from the graph cache (warmed by the stages above).
    // Each graph's parts come from CompiledGraph.timings; its build is the compile call minus those parts.
    resetPeakMemory();
    const parts: Record<string, Record<string, number | boolean>> = {};
    const timed = async <G>(name: string, compile: () => Promise<G>, of: (g: G) => CompiledGraph) => {
      const [graph, seconds] = await once(compile);
      const t = of(graph).timings;
      parts[name] = { ...t, seconds, buildS: t.buildS || seconds - t.serializeS - t.cacheS - t.sessionS };
      return { graph, release: () => of(graph).release() };
    };
    const [graphs, startupS] = await once(async () => {
      const [[te, u, v], loadS] = await once(() =>
        Promise.all([loadTextEncoder(root), loadUNet(root), loadVaeDecoder(root)]),
      );
      parts.load = { seconds: loadS };
      return [
        await timed(
          'text',
          () => te.compile({ batch: 1, ...runtime }),
          (g) => g.graph,
        ),
        await timed(
          'cfg',
          () => u.compileNoisePrediction({ batch: 2, height: latent, width: latent }, runtime),
          (g) => g.graph,
        ),
        await timed(
          'guidance',
          () => GuidanceGraph.compile(u, gsnSpec('tv_bind', latent), runtime),
          (g) => g.compiled,
        ),
        await timed(
          'vae',
          () => v.compile({ batch: 1, latentHeight: latent, latentWidth: latent, ...runtime }),
          (g) => g.graph,
        ),
      ];
    });
    out.cachedStartup = {
      seconds: startupS,
      graphs: 'text, CFG UNet, guidance tv_bind, VAE decoder',
      // Per graph: keyS, buildS, serializeS, cacheS (hash + write), sessionS (ONNX Runtime), cached.
      parts,
    };
    const sum = (key: string) =>
      Object.values(parts).reduce((n, p) => n + (typeof p[key] === 'number' ? (p[key] as number) : 0), 0);
    log(
      `cached start-up ${startupS.toFixed(1)} s (all four graphs of a D&B generation, peak ${peakMemoryGiB().toFixed(2)} GiB): ` +
        `load ${(parts.load.seconds as number).toFixed(2)} s, build ${sum('buildS').toFixed(2)} s, serialise ` +
        `${sum('serializeS').toFixed(2)} s, hash+write ${sum('cacheS').toFixed(2)} s, sessions ${sum('sessionS').toFixed(2)} s`,
    );
    for (const g of graphs) await g.release();
  }

  if (stages.has('generation')) {
    const script = new URL('./generation.ts', import.meta.url).pathname;
    const tsx = new URL('../node_modules/.bin/tsx', import.meta.url).pathname;
    const line = execFileSync(tsx, [script, root, String(size), ...(threads ? [String(threads)] : [])], {
      encoding: 'utf8',
      env: { ...process.env, DNB_CACHE_DIR: runCache },
      stdio: ['ignore', 'pipe', 'inherit'],
      maxBuffer: 1 << 24,
    });
    const generation = JSON.parse(line.trim().split('\n').pop()!);
    out.generation = generation;
    log(
      `whole D&B tv_bind image: ${generation.totalS.toFixed(1)} s (${generation.loopIterations} loop iterations, ` +
        `${generation.lossEvaluations} loss evaluations, start-up included), peak ${generation.peakGiB.toFixed(2)} GiB`,
    );
  }
  await rm(runCache, { recursive: true, force: true });
  return out;
}
