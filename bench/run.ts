// The performance benchmark: `npm run bench -- --size 256` (see README, Benchmarks). Writes SD 1.5-shaped random
// weights once, then measures each part of a guided generation on the CPU and writes bench/out/*.json.
// `--model-family sdxl` does the same for SDXL base 1.0-shaped fp16 weights (text, CFG step, GSN, VAE).
import { execFileSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { UserError } from '../src/errors.ts';
import type { FlopCount } from '../src/graph/flops.ts';
import { GuidanceGraph } from '../src/guidance/guidanceGraph.ts';
import { ClipTokenizer } from '../src/models/clipTokenizer.ts';
import { loadTextEncoder } from '../src/models/textEncoder/index.ts';
import { loadUNet, type UNetDtype } from '../src/models/unet/index.ts';
import { loadVaeDecoder } from '../src/models/vae/index.ts';
import { defaultAttentionRes } from '../src/pipeline/attentionResolution.ts';
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
import { SDXL_BENCH_VARIANT, sdxlBenchModel } from './sdxlBenchModel.ts';
import { compileSdxlText, SDXL_INPUT_DIVISOR, sdxlTimeIds } from './sdxlText.ts';
import { formatTiming, once, summarize, type Timing, time } from './stats.ts';

const { values: args } = parseArgs({
  options: {
    size: { type: 'string', default: '256' },
    reps: { type: 'string', default: '3' },
    threads: { type: 'string' },
    seed: { type: 'string', default: '0' },
    'fp16-weights': { type: 'boolean', default: false },
    /** sd (SD 1.5-shaped, the default) or sdxl (SDXL base 1.0-shaped, fp16 weight files). */
    'model-family': { type: 'string', default: 'sd' },
    /** The UNet's compute dtype, float32 (the default) or float16. */
    'unet-dtype': { type: 'string', default: 'float32' },
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
const family = args['model-family'];
if (family !== 'sd' && family !== 'sdxl') {
  throw new UserError(`--model-family must be sd or sdxl, got ${JSON.stringify(family)}`);
}
const sdxl = family === 'sdxl';
const unetDtype = args['unet-dtype'] as UNetDtype;
if (unetDtype !== 'float32' && unetDtype !== 'float16') {
  throw new UserError(`--unet-dtype must be float32 or float16, got ${JSON.stringify(unetDtype)}`);
}
// SDXL's start-up and whole-image stages would need the SDXL pipeline in bench/generation.ts and startup's
// loaders; its other stages measure the parts a generation repeats.
const FAMILY_STAGES = sdxl ? 'text,cfg,gsn,vae' : 'text,cfg,gsn,vae,startup,generation,eval';
const stages = new Set((args.only ?? FAMILY_STAGES).split(','));
const SIZE_STAGES = ['text', 'cfg', 'gsn', 'vae', 'startup', 'generation'];
for (const stage of stages) {
  if (sdxl && !FAMILY_STAGES.split(',').includes(stage)) {
    throw new UserError(`--model-family sdxl measures ${FAMILY_STAGES}; drop "${stage}" from --only`);
  }
}
/** The weights variant every loader reads (the SDXL model has fp16 files only). */
const variant = sdxl ? { variant: SDXL_BENCH_VARIANT } : {};
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
  /** Process CPU seconds per timed run. */
  cpuS: Timing;
}

const machine = machineInfo();
log(`machine: ${JSON.stringify(machine)}`);
const needsSd = SIZE_STAGES.some((stage) => stages.has(stage));
const root = !needsSd
  ? ''
  : sdxl
    ? await sdxlBenchModel(cacheDir, { seed: Number(args.seed), log })
    : await benchModel(cacheDir, { seed: Number(args.seed), fp16: args['fp16-weights'], log });
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
  modelFamily: family,
  ...(sdxl && { weights: `fp16 files (${SDXL_BENCH_VARIANT} variant)` }),
  unetDtype,
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
  `bench-${sdxl ? 'sdxl-' : ''}${needsSd ? sizes.join('_') : 'eval'}${args.label ? `-${args.label}` : ''}-${stamp}.json`,
);
await writeFile(outPath, `${JSON.stringify(report, null, 2)}\n`);
log(`written ${outPath}`);

async function benchSize(size: number): Promise<Record<string, unknown>> {
  const latent = size / 8;
  log(`\n== ${size}×${size} (latent ${latent}×${latent}), ${reps} repetitions after a warm-up ==`);
  // A fresh graph cache per run, so the first compile is a real first compile; the cached start-up then reuses it.
  const runCache = join(cacheDir, 'bench', `graphs-${process.pid}-${sdxl ? 'sdxl-' : ''}${size}`);
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
    // Process CPU seconds (all threads) per run beside the wall time: on the shared 2-core machine the wall time
    // mostly says how loaded it was, the CPU time what the graph costs (the first entry is the warm-up's).
    const cpuRuns: number[] = [];
    const timing = await time(reps, async () => {
      const started = process.cpuUsage();
      await run(graph);
      const { user, system } = process.cpuUsage(started);
      cpuRuns.push((user + system) / 1e6);
    });
    const { total, conv: c, matmul, elementwise } = flopsOf(graph);
    const gflops = total / timing.median / 1e9;
    const m: Measurement = {
      compileS,
      timing,
      flops: { total, conv: c, matmul, elementwise },
      gflops,
      fractionOfConvPeak: gflops / conv.gflops,
      peakGiB: peakMemoryGiB(),
      cpuS: summarize(cpuRuns.slice(1)),
    };
    await graph.release();
    log(
      `${name.padEnd(14)} ${formatTiming(timing)}  ${(total / 1e9).toFixed(0)} GFLOP → ${gflops.toFixed(1)} GFLOP/s ` +
        `(${(100 * m.fractionOfConvPeak).toFixed(0)}% of conv), compile ${compileS.toFixed(1)} s, peak ${m.peakGiB.toFixed(2)} GiB, ` +
        `CPU ${m.cpuS.median.toFixed(1)} s a run`,
    );
    out[name] = m;
    return m;
  };

  // SDXL: prompt_embeds [1, 77, 2048] and pooled [1, 1280]; the negative prompt is None, so its embeddings are
  // zeros (force_zeros_for_empty_prompt) and only the prompt is encoded.
  const width = sdxl ? 2048 : 768;
  let cond = randomTensor('cond', [1, 77, width], 3);
  let uncond = sdxl ? new Float32Array(77 * width) : randomTensor('uncond', [1, 77, 768], 4);
  let pooled = randomTensor('pooled', [1, 1280], 7);
  if (sdxl && stages.has('text')) {
    await measure(
      'text',
      () => compileSdxlText(root, { ...variant, ...runtime }),
      (g) => g.flops(),
      async (g) => {
        ({ embeds: cond, pooled } = await g.encode(PROMPT));
      },
    );
    const text = out.text as Measurement;
    out.text = { ...text, note: 'one prompt through both encoders (the negative prompt is None: zeros)' };
  }
  const tokenizer = ClipTokenizer.fromFolder(join(root, 'tokenizer'));
  const ids = [tokenizer.encode(PROMPT).inputIds, tokenizer.encode('').inputIds];
  const textEncoder = await loadTextEncoder(root, variant);
  if (!sdxl && stages.has('text')) {
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

  // SDXL's float32 UNet reads the fp32 file: from the fp16 one ONNX Runtime would hold both copies.
  const unetVariant = sdxl && unetDtype === 'float32' ? {} : variant;
  const unet = await loadUNet(root, { ...unetVariant, dtype: unetDtype });
  // SDXL's added conditioning: the pooled embeddings and the default micro-conditioning, both halves of the batch.
  const timeIds = sdxlTimeIds(size);
  const added = (batch: 1 | 2) => ({
    textEmbeds: batch === 1 ? pooled : concat(new Float32Array(pooled.length), pooled),
    timeIds: batch === 1 ? timeIds : concat(timeIds, timeIds),
  });
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
      async (g) =>
        classifierFreeGuidance(
          await g.predict(pair, TIMESTEP, textBatch, sdxl ? added(2) : undefined),
          sdxl ? 5 : 7.5,
        ),
    );
  }

  if (stages.has('gsn')) {
    // SDXL: the attention resolution the pipeline picks (16 at 512 px, 32 at 1024 px), and the loss pass sees the
    // latent divided by Euler's sqrt(σ² + 1) with the pooled embeddings and time ids, as its CFG pass does.
    const spec = (gsn: (typeof variants)[number]) =>
      sdxl
        ? {
            ...gsnSpec(gsn, latent),
            attentionRes: defaultAttentionRes(unet.config, latent),
            scaledInput: true,
          }
        : gsnSpec(gsn, latent);
    const conditioning: Record<string, Float32Array> = sdxl
      ? { encoder_hidden_states: cond, text_embeds: pooled, time_ids: timeIds }
      : { encoder_hidden_states: cond };
    for (const variant of variants) {
      const m = await measure(
        `gsn_${variant}`,
        () => GuidanceGraph.compile(unet, spec(variant), runtime),
        (g) => g.compiled.flops(),
        (g) => g.evaluate(sample, TIMESTEP, conditioning, TOKENS, 0, sdxl ? SDXL_INPUT_DIVISOR : 1),
      );
      if (cfg) {
        const ratio = m.timing.median / cfg.timing.median;
        out[`gsn_${variant}`] = { ...m, ratioToCfgStep: ratio };
        log(`${''.padEnd(14)} = ${ratio.toFixed(2)}× a CFG step`);
      }
      if (sdxl) out[`gsn_${variant}`] = { ...(out[`gsn_${variant}`] as Measurement), ...spec(variant) };
    }
  }

  if (stages.has('vae')) {
    const vae = await loadVaeDecoder(root, variant);
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
    const parts: Record<string, Record<string, number | boolean | string>> = {};
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
    const generate = () => {
      const line = execFileSync(tsx, [script, root, String(size), ...(threads ? [String(threads)] : [])], {
        encoding: 'utf8',
        env: { ...process.env, DNB_CACHE_DIR: runCache },
        stdio: ['ignore', 'pipe', 'inherit'],
        maxBuffer: 1 << 24,
      });
      return JSON.parse(line.trim().split('\n').pop()!) as GenerationFigures;
    };
    const describe = (g: GenerationFigures) =>
      `${g.totalS.toFixed(1)} s (${g.loopIterations} loop iterations ending at ` +
      `${g.loopEndsS.map((t: number) => t.toFixed(1)).join(', ')} s, ${g.lossEvaluations} loss evaluations, ` +
      `start-up included), peak ${g.peakGiB.toFixed(2)} GiB (private ${g.peakAnonGiB.toFixed(2)}, ` +
      `mapped files ${g.peakFileGiB.toFixed(2)})`;
    // First with this run's cache as the stages above left it (the graphs only a generation needs are built
    // here), then again as a later `dnb generate` finds it: every graph cached.
    const first = generate();
    out.generation = first;
    log(`whole D&B tv_bind image: ${describe(first)}`);
    const warm = generate();
    out.generationWarm = warm;
    log(`the same image again, every graph cached: ${describe(warm)}`);
  }
  await rm(runCache, { recursive: true, force: true });
  return out;
}

/** What bench/generation.ts prints for one whole image. */
interface GenerationFigures {
  totalS: number;
  loopEndsS: number[];
  loopIterations: number;
  lossEvaluations: number;
  peakGiB: number;
  peakAnonGiB: number;
  peakFileGiB: number;
}

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
