/**
 * The report's image grids: for each set, a few prompts as rows and the methods as columns, every row from one
 * seed so the methods start from the same noise and differ only by their guidance.
 */
import type { ReportEntry, ReportInput } from './reportInput.ts';

export interface GridRow {
  promptId: string;
  prompt: string;
  seed: string;
  /** One per method of the input, null where that image is missing. */
  images: (ReportEntry | null)[];
}

export interface ImageGrid {
  set: string;
  label: string;
  rows: GridRow[];
}

export interface GridOptions {
  /** Prompts per set (default 6), the first ones of the set. */
  promptsPerSet?: number;
  /** Seeds per prompt (default 1), the smallest ones with every method's image. */
  seedsPerPrompt?: number;
}

export function selectImageGrids(input: ReportInput, options: GridOptions = {}): ImageGrid[] {
  const promptsPerSet = options.promptsPerSet ?? 6;
  const seedsPerPrompt = options.seedsPerPrompt ?? 1;
  const grids: ImageGrid[] = [];
  for (const set of input.sets) {
    // Prompt → seed → method → entry, prompts in the order the input lists them.
    const prompts = new Map<string, Map<string, Map<string, ReportEntry>>>();
    for (const entry of input.entries) {
      if (entry.set !== set.name) continue;
      const seeds = prompts.get(entry.promptId) ?? new Map<string, Map<string, ReportEntry>>();
      prompts.set(entry.promptId, seeds);
      const methods = seeds.get(entry.seed) ?? new Map<string, ReportEntry>();
      seeds.set(entry.seed, methods);
      methods.set(entry.method, entry);
    }
    const rows: GridRow[] = [];
    for (const seeds of [...prompts.values()].slice(0, promptsPerSet)) {
      // Complete seeds first (every method there), then by seed number.
      const ordered = [...seeds.entries()].sort(
        ([seedA, a], [seedB, b]) => b.size - a.size || compareSeeds(seedA, seedB),
      );
      for (const [seed, methods] of ordered.slice(0, seedsPerPrompt)) {
        const any = [...methods.values()][0];
        rows.push({
          promptId: any.promptId,
          prompt: any.prompt,
          seed,
          images: input.methods.map((method) => methods.get(method) ?? null),
        });
      }
    }
    if (rows.length > 0) grids.push({ set: set.name, label: set.label, rows });
  }
  return grids;
}

function compareSeeds(a: string, b: string): number {
  const difference = BigInt(a) - BigInt(b);
  return difference < 0n ? -1 : difference > 0n ? 1 : 0;
}
