/**
 * What a benchmark run is: the model, the prompt sets, the methods, the seeds and the generation settings
 * every image shares. Stored once in the run's database; a later command on the same folder must give the same
 * settings, so one folder never mixes images made in different ways.
 */
import { createHash } from 'node:crypto';
import type { GsnSettings } from '../guidance/settings.ts';
import type { TvVariant } from '../guidance/totalVariation.ts';
import type { Method } from '../pipeline/request.ts';
import type { RandomDevice } from '../random/index.ts';
import type { SchedulerKind } from '../schedulers/index.ts';

/** The GSN overrides, JSON-friendly (thresholds as a loop index → value record). */
export interface GsnOverrides {
  maxIterToAlter?: number;
  scaleFactor?: number;
  scaleRange?: [number, number];
  thresholds?: Record<string, number>;
  refinementCaps?: [number, number];
  tv?: TvVariant;
  attentionRes?: number;
}

/** The settings that decide the images; where ONNX Runtime runs (device, threads) is not among them. */
export interface GenerationSettings {
  negativePrompt: string;
  rng: RandomDevice;
  steps: number;
  guidanceScale: number;
  height?: number;
  width?: number;
  scheduler?: SchedulerKind;
  karras?: boolean;
  gsn: GsnOverrides;
  dtype: 'fp32' | 'fp16';
  variant?: string;
}

export interface BenchmarkSettings {
  /** The model as the coordinator named it (folder or repo id). */
  model: string;
  /** Prompt-set names, or `file:PATH` for a prompts file. */
  sets: string[];
  methods: Method[];
  seeds: number[];
  generation: GenerationSettings;
  /** A digest of the prompts' text and structure (a prompts file edited between commands is noticed). */
  prompts?: string;
}

/** The GSN overrides as the pipeline takes them. */
export function gsnSettingsOf(overrides: GsnOverrides): Partial<GsnSettings> {
  const { thresholds, ...rest } = overrides;
  return thresholds === undefined
    ? rest
    : { ...rest, thresholds: new Map(Object.entries(thresholds).map(([i, v]) => [Number(i), v])) };
}

/** JSON with object keys sorted and undefined fields dropped, so equal settings give equal text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>)
            .filter(([, x]) => x !== undefined)
            .sort(([a], [b]) => (a < b ? -1 : 1)),
        )
      : v,
  );
}

/** A short name of the settings: job ids on the queue and image metadata carry it. */
export function settingsFingerprint(settings: BenchmarkSettings): string {
  return createHash('sha256').update(canonicalJson(settings)).digest('hex').slice(0, 16);
}

/**
 * The first setting in which two runs differ, as "generation.steps: the folder has 2, this command 3", or
 * null when they agree.
 */
export function firstDifference(stored: unknown, given: unknown, path = ''): string | null {
  const show = (v: unknown) => (v === undefined ? 'unset' : JSON.stringify(v));
  const isObject = (v: unknown) => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (isObject(stored) && isObject(given)) {
    const a = stored as Record<string, unknown>;
    const b = given as Record<string, unknown>;
    for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
      const found = firstDifference(a[key], b[key], path ? `${path}.${key}` : key);
      if (found) return found;
    }
    return null;
  }
  if (canonicalJson(stored) === canonicalJson(given)) return null;
  return `${path}: the folder has ${show(stored)}, this command ${show(given)}`;
}
