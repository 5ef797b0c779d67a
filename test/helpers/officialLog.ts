import type { GuidanceTrace } from '../../src/pipeline/trace.ts';

// The official runs' logs (fixtures manifest.json and phases_manifest.json) and how they compare with a trace.

export interface LossCall {
  i: number;
  in_refinement: boolean;
  loss: number;
}
export interface Run {
  loss_calls: LossCall[];
  refinements?: { i: number; iterations: number }[];
  copied_from?: string;
}
export interface PromptRuns {
  key: string;
  prompt: string;
  token_indices: number[];
  color_indices: number[] | null;
  stable: Record<string, Run>;
}
/**
 * The official loss log as the port produces it: without the duplicate evaluation that starts each refinement
 * (reused) and without the loss passes at loop indices that neither update nor refine (skipped, since their
 * results are thrown away).
 */
export function officialLosses(run: Run, guided: (i: number) => boolean): number[] {
  const refined = new Set((run.refinements ?? []).map((r) => r.i));
  const out: number[] = [];
  let previous: LossCall | null = null;
  for (const call of run.loss_calls) {
    const duplicate = previous && previous.i === call.i && !previous.in_refinement && call.in_refinement;
    if (!(duplicate && refined.has(call.i)) && guided(call.i)) out.push(call.loss);
    previous = call;
  }
  return out;
}

export const portLosses = (trace: GuidanceTrace) => trace.steps.flatMap((s) => s.losses);
export const refinements = (trace: GuidanceTrace) =>
  trace.steps
    .filter((s) => s.refinement)
    .map((s) => ({ i: s.loopIndex, iterations: s.refinement!.iterations }));
