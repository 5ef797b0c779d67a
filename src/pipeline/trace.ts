import type { PhaseReport } from '../guidance/gsnPhase.ts';
import type { GsnSettings } from '../guidance/settings.ts';

/** One loop index of a guided generation, as `--trace FILE.json` writes it. */
export interface TraceStep extends PhaseReport {
  readonly timestep: number;
  /** Smoothed object maps [k, r, r] row-major, when asked for. */
  readonly maps?: number[];
}

/** What the guidance did, for reading, plotting and the studio. */
export interface GuidanceTrace {
  readonly method: GsnSettings['method'];
  readonly settings: Omit<GsnSettings, 'thresholds'> & { thresholds: Record<string, number> };
  /** The chosen tokens: official index and text. */
  readonly objects: readonly { index: number; token: string }[];
  readonly attributes: readonly ({ index: number; token: string } | null)[];
  readonly steps: TraceStep[];
}

export function settingsForTrace(settings: GsnSettings): GuidanceTrace['settings'] {
  return { ...settings, thresholds: Object.fromEntries(settings.thresholds) };
}
