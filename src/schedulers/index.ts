export type { CreateSchedulerOptions } from './createScheduler.ts';
export { createScheduler, kindOfClassName, SCHEDULER_CLASS_NAMES } from './createScheduler.ts';
export { DdimScheduler } from './ddim.ts';
export { DpmSolverMultistepScheduler } from './dpmSolverMultistep.ts';
export { EulerAncestralScheduler } from './eulerAncestral.ts';
export { EulerDiscreteScheduler } from './eulerDiscrete.ts';
export { PndmScheduler } from './pndm.ts';
export type { NoiseSource, Scheduler, SchedulerKind } from './scheduler.ts';
export type { RawSchedulerConfig } from './schedulerConfig.ts';
