import { gsnPhase, isGuidedStep } from '../guidance/gsnPhase.ts';
import type { GuidanceGraph } from '../guidance/guidanceGraph.ts';
import { stepSizes } from '../guidance/settings.ts';
import type { NoisePredictor, UNetDtype } from '../models/unet/index.ts';
import type { Scheduler } from '../schedulers/scheduler.ts';
import { classifierFreeGuidance, rescaleGuidance } from './classifierFreeGuidance.ts';
import type { PromptConditioning } from './families/index.ts';
import { assertFinite } from './finiteCheck.ts';
import type { GenerationPlan } from './plan.ts';
import type { GenerationHooks } from './request.ts';
import type { TraceStep } from './trace.ts';

/** What one image's denoising loop runs with. */
export interface DenoisingRun {
  readonly plan: GenerationPlan;
  readonly scheduler: Scheduler;
  readonly noisePredictor: NoisePredictor;
  readonly conditioning: PromptConditioning;
  /** The plan's guidance graph (null for plain SD), and what to do after the image's last guided loop index. */
  readonly guidance: {
    readonly graph: GuidanceGraph;
    readonly afterLastGuidedIndex: () => Promise<void>;
  } | null;
  /** Whether the loss pass sees the scheduler's scaled input (SDXL) or the latent itself (SD). */
  readonly lossPassScalesInput: boolean;
  /** 0-based image of the request, for progress and messages. */
  readonly image: number;
  readonly dtype: UNetDtype;
  readonly hooks: GenerationHooks;
}

/**
 * One image's denoising loop: at each loop index the GSN phase (where guided), then the batch-2
 * classifier-free guidance pass on the updated latent and the scheduler step (ALGORITHM.md §2.4). Latents are
 * checked for NaN/Inf after every step; the signal is checked before every UNet pass.
 */
export async function denoise(
  start: Float32Array,
  run: DenoisingRun,
): Promise<{ latent: Float32Array; steps: TraceStep[] }> {
  const { plan, scheduler, conditioning, hooks } = run;
  const planned = plan.guidance;
  const timesteps = scheduler.timesteps;
  const sizes = planned ? stepSizes(planned.settings, timesteps.length) : [];
  const lastGuided = planned ? lastGuidedIndex(planned.settings, timesteps.length) : -1;
  const steps: TraceStep[] = [];
  let latent = start;
  for (let i = 0; i < timesteps.length; i++) {
    const t = timesteps[i];
    if (planned && run.guidance && isGuidedStep(planned.settings, i)) {
      const { graph } = run.guidance;
      const divisor = run.lossPassScalesInput ? scheduler.modelInputDivisor(i) : 1;
      let maps: Float32Array | undefined;
      const phase = await gsnPhase(latent, i, sizes[i], planned.settings, async (z, loopIndex) => {
        hooks.signal?.throwIfAborted();
        const evaluation = await graph.evaluate(
          z,
          t,
          conditioning.conditional,
          planned.tokens,
          loopIndex,
          divisor,
        );
        maps = evaluation.maps;
        return evaluation;
      });
      latent = phase.latent;
      const keepMaps = plan.traceMaps && maps;
      steps.push({ ...phase.report, timestep: t, maps: keepMaps ? Array.from(maps!) : undefined });
      if (i === lastGuided) await run.guidance.afterLastGuidedIndex();
    }
    hooks.signal?.throwIfAborted();
    latent = scheduler.step(await guidedNoise(run, scheduler.scaleModelInput(latent, i), t), i, latent);
    assertFinite(latent, { what: 'latents', image: run.image, loopIndex: i, timestep: t, dtype: run.dtype });
    hooks.onProgress?.({ image: run.image, loopIndex: i, total: timesteps.length });
  }
  return { latent, steps };
}

/** ε of classifier-free guidance (with the plan's rescale) from one batch-2 UNet pass on [input, input]. */
async function guidedNoise(run: DenoisingRun, input: Float32Array, t: number): Promise<Float32Array> {
  const pair = new Float32Array(input.length * 2);
  pair.set(input, 0);
  pair.set(input, input.length);
  const { encoder_hidden_states, text_embeds, time_ids } = run.conditioning.guided;
  const added = text_embeds && time_ids ? { textEmbeds: text_embeds, timeIds: time_ids } : undefined;
  const noise = await run.noisePredictor.predict(pair, t, encoder_hidden_states, added);
  const guided = classifierFreeGuidance(noise, run.plan.guidanceScale);
  return rescaleGuidance(guided, noise, run.plan.guidanceRescale);
}

/** The last loop index that runs GSN (updates or refinement), -1 if none. */
function lastGuidedIndex(settings: Parameters<typeof isGuidedStep>[0], loopIterations: number): number {
  for (let i = loopIterations - 1; i >= 0; i--) if (isGuidedStep(settings, i)) return i;
  return -1;
}
