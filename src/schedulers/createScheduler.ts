import { UserError } from '../errors.ts';
import { DdimScheduler } from './ddim.ts';
import { DpmSolverMultistepScheduler } from './dpmSolverMultistep.ts';
import { EulerAncestralScheduler } from './eulerAncestral.ts';
import { EulerDiscreteScheduler } from './eulerDiscrete.ts';
import { PndmScheduler } from './pndm.ts';
import type { NoiseSource, Scheduler, SchedulerKind } from './scheduler.ts';
import type { RawSchedulerConfig } from './schedulerConfig.ts';

/** The diffusers class behind each kind. */
export const SCHEDULER_CLASS_NAMES: Readonly<Record<SchedulerKind, string>> = {
  pndm: 'PNDMScheduler',
  ddim: 'DDIMScheduler',
  euler: 'EulerDiscreteScheduler',
  'euler-a': 'EulerAncestralDiscreteScheduler',
  'dpm++': 'DPMSolverMultistepScheduler',
};

export interface CreateSchedulerOptions {
  /** Overrides the config's `_class_name`, like `XScheduler.from_config(config)`. */
  kind?: SchedulerKind;
  numInferenceSteps: number;
  /** Overrides `use_karras_sigmas` (Euler and DPM-Solver only, as in diffusers 0.21.4). */
  karras?: boolean;
  /** Noise for Euler ancestral; required there, unused elsewhere. */
  randn?: NoiseSource;
  /** The latent shape handed to `randn` (default: the flat length). */
  sampleShape?: readonly number[];
}

/**
 * A scheduler for one image, configured from a diffusers `scheduler_config.json` object with the
 * semantics of diffusers 0.21.4's `from_config` (missing keys take the chosen class's defaults).
 */
export function createScheduler(config: RawSchedulerConfig, options: CreateSchedulerOptions): Scheduler {
  const kind = options.kind ?? kindOfClassName(config['_class_name']);
  const steps = options.numInferenceSteps;
  if (!Number.isInteger(steps) || steps < 1) {
    throw new UserError(`the number of inference steps must be a positive integer, got ${steps}`);
  }
  let effectiveConfig = config;
  if (options.karras !== undefined) {
    if (kind !== 'euler' && kind !== 'dpm++') {
      throw new UserError(
        `Karras sigmas are available for the euler and dpm++ schedulers only (not ${SCHEDULER_CLASS_NAMES[kind]})`,
      );
    }
    effectiveConfig = { ...config, use_karras_sigmas: options.karras };
  }
  switch (kind) {
    case 'pndm':
      return new PndmScheduler(effectiveConfig, steps);
    case 'ddim':
      return new DdimScheduler(effectiveConfig, steps);
    case 'euler':
      return new EulerDiscreteScheduler(effectiveConfig, steps);
    case 'euler-a':
      if (!options.randn) {
        throw new UserError('the euler-a scheduler adds noise at every step: pass a randn noise source');
      }
      return new EulerAncestralScheduler(effectiveConfig, steps, options.randn, options.sampleShape);
    case 'dpm++':
      return new DpmSolverMultistepScheduler(effectiveConfig, steps);
    default:
      throw new UserError(`unknown scheduler kind "${kind as string}"; ${supportedList()}`);
  }
}

/** The kind for a config's `_class_name`. */
export function kindOfClassName(className: unknown): SchedulerKind {
  for (const [kind, name] of Object.entries(SCHEDULER_CLASS_NAMES)) {
    if (name === className) return kind as SchedulerKind;
  }
  const shown = className === undefined ? 'no _class_name' : `_class_name ${JSON.stringify(className)}`;
  throw new UserError(`unsupported scheduler: the config has ${shown}; ${supportedList()}`);
}

function supportedList(): string {
  const entries = Object.entries(SCHEDULER_CLASS_NAMES).map(([kind, name]) => `${name} (${kind})`);
  return `supported: ${entries.join(', ')}`;
}
