import type { DType, Shape, TypedData, Value } from '../../graph/index.ts';
import type { TokenSpecification } from '../../prompt/index.ts';
import type { LossEvaluation } from '../gsnPhase.ts';
import type { Objective } from '../objectives.ts';
import type { GsnSettings } from '../settings.ts';
import type { TvVariant } from '../totalVariation.ts';

/** The tokens one evaluation looks at, in official 1-based positions (start token = 0). */
export interface GuidanceTokens {
  readonly objects: readonly number[];
  /** Aligned with objects; 0 = none. */
  readonly attributes: readonly number[];
}

/** What a method builds its objective from inside the guidance graph. */
export interface ObjectiveContext {
  /** Smoothed object-token maps [k, r, r] at the attention resolution r. */
  readonly objectMaps: Value;
  /** Number of object tokens k. */
  readonly objects: number;
  readonly tv: TvVariant;
  /** Smoothed maps [k, r, r] of the tokens at `positions` (0-based columns) from the layers finer than r. */
  finerMaps(positions: Value): Value;
  /** Declares a graph input; the method's `feeds` give its value at every evaluation. */
  input(name: string, shape: Shape, dtype?: DType): Value;
}

/**
 * A guidance method: everything that differs between Attend & Excite, Divide & Bind and the next one. The
 * denoising loop, the GSN phase and the guidance graph read a method only through this, so a new method is one
 * file in ./index.ts's registry.
 */
export interface GuidanceMethodDefinition<Name extends string = string> {
  /** The name on the command line, in requests, traces and PNG metadata. */
  readonly name: Name;
  /** For people: "Divide & Bind", and the short form of tables and charts, "D&B". */
  readonly label: string;
  readonly shortLabel: string;
  /** The official parameters (ALGORITHM.md §5). */
  readonly defaults: Omit<GsnSettings, 'method'>;
  /**
   * The settings and token fields this method reads beyond the shared ones; given with another method they are
   * dropped with a warning, so a PNG's parameters say only what shaped it.
   */
  readonly ownSettings: readonly (keyof GsnSettings)[];
  readonly ownTokenFields: readonly (keyof TokenSpecification)[];
  /** Whether the objective for these tokens reads the layers finer than the attention resolution. */
  readsFinerLayers(tokens: GuidanceTokens): boolean;
  /** The loss, the refinement indicator and diagnostics, built into the guidance graph. */
  objective(context: ObjectiveContext, readsFinerLayers: boolean): Objective;
  /** The values of the inputs `objective` declared, at one loop index. */
  feeds(tokens: GuidanceTokens, loopIndex: number, readsFinerLayers: boolean): Record<string, TypedData>;
  /** Whether iterative refinement goes on: the evaluation still misses the threshold (ALGORITHM.md §5.3). */
  misses(evaluation: LossEvaluation, threshold: number): boolean;
}
