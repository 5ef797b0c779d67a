import { basename } from 'node:path';
import { UserError } from '../errors.ts';

/** The weight file formats read: safetensors, and PyTorch's `torch.save` zip checkpoints (`.bin`). */
export type WeightFormat = 'safetensors' | 'pytorch';

/**
 * Base names of weight files per format: transformers models use `model.safetensors` and
 * `pytorch_model.bin`, diffusers models `diffusion_pytorch_model` for both.
 */
const WEIGHT_FILES: readonly { format: WeightFormat; extension: string; bases: readonly string[] }[] = [
  { format: 'safetensors', extension: 'safetensors', bases: ['model', 'diffusion_pytorch_model'] },
  { format: 'pytorch', extension: 'bin', bases: ['pytorch_model', 'diffusion_pytorch_model'] },
];

/** Which file(s) of a component folder hold its weights. */
export type WeightFileChoice =
  | { kind: 'single'; file: string; format: WeightFormat }
  | { kind: 'sharded'; index: string; format: WeightFormat };

export interface WeightFileCandidates {
  format: WeightFormat;
  single: string[];
  index: string[];
}

/**
 * Candidate file names for one variant (undefined = the plain weights), by format in order of preference:
 * safetensors first (single file, then sharded), then PyTorch `.bin` files.
 */
export function weightFileCandidates(variant: string | undefined): WeightFileCandidates[] {
  return WEIGHT_FILES.map(({ format, extension: ext, bases }) => {
    const single: string[] = [];
    const index: string[] = [];
    for (const base of bases) {
      if (variant === undefined) {
        single.push(`${base}.${ext}`);
        index.push(`${base}.${ext}.index.json`);
      } else {
        single.push(`${base}.${variant}.${ext}`);
        // diffusers, transformers and older uploads each put the variant at a different place.
        index.push(
          `${base}.${ext}.${variant}.index.json`,
          `${base}.${ext}.index.${variant}.json`,
          `${base}.${variant}.${ext}.index.json`,
        );
      }
    }
    return { format, single, index };
  });
}

/**
 * Chooses the weight files of a component from the names of the files in its folder (a local
 * directory listing or the Hub's file list), with errors that say what was looked for. Safetensors are
 * preferred; PyTorch `.bin` checkpoints are used when a folder has nothing else.
 */
export function chooseWeightFiles(
  where: string,
  fileNames: readonly string[],
  variant: string | undefined,
): WeightFileChoice {
  const present = new Set(fileNames);
  const candidates = weightFileCandidates(variant);
  for (const { format, single, index } of candidates) {
    const file = single.find((name) => present.has(name));
    if (file) return { kind: 'single', file, format };
    const indexFile = index.find((name) => present.has(name));
    if (indexFile) return { kind: 'sharded', index: indexFile, format };
  }

  const lookedFor = `looked for ${candidates.flatMap(({ single, index }) => [...single, ...index]).join(', ')}`;
  const variants = variantsPresent(fileNames);
  const hasPlain = fileNames.some((name) => PLAIN_WEIGHTS.test(name));
  if (variant !== undefined && (hasPlain || variants.length > 0)) {
    const options = [
      ...(hasPlain ? ['the plain weights (leave out --variant)'] : []),
      ...variants.map((v) => `--variant ${v}`),
    ];
    throw new UserError(
      `${where}: no "${variant}" variant of the weights (${lookedFor}); available: ${options.join(', ')}`,
    );
  }
  if (variant === undefined && variants.length > 0) {
    throw new UserError(
      `${where}: only variant weights are present (${lookedFor}); ` +
        `pass ${variants.map((v) => `--variant ${v}`).join(' or ')}`,
    );
  }
  const unread = fileNames.filter((name) => OTHER_WEIGHTS.test(name));
  if (unread.length > 0) {
    throw new UserError(
      `${where}: no weights under the names this program reads (${lookedFor}); ${unread.join(', ')} ` +
        'are not read: save the state dict as model.safetensors (or with torch.save as pytorch_model.bin, ' +
        'diffusion_pytorch_model.bin in a diffusers component)',
    );
  }
  throw new UserError(
    `${where}: no safetensors weights found, nor PyTorch .bin ones (${lookedFor}); use --variant for fp16 files`,
  );
}

const PLAIN_WEIGHTS =
  /^(?:(?:model|diffusion_pytorch_model)(?:\.safetensors(?:\.index\.json)?|-\d+-of-\d+\.safetensors)|(?:pytorch_model|diffusion_pytorch_model)(?:\.bin(?:\.index\.json)?|-\d+-of-\d+\.bin))$/;
/** Weight files under names no candidate list has (e.g. `model.ckpt`, `weights.pth`). */
const OTHER_WEIGHTS = /\.(bin|ckpt|pt|pth|safetensors)(\.index\.json)?$/;

/** Variant names that appear in weight file names, e.g. `fp16` in `model.fp16.safetensors`. */
export function variantsPresent(fileNames: readonly string[]): string[] {
  const found = new Set<string>();
  const patterns = WEIGHT_FILES.flatMap(({ extension: ext, bases }) => {
    const base = `(?:${bases.join('|')})`;
    return [
      new RegExp(`^${base}\\.([^.]+)\\.${ext}$`),
      new RegExp(`^${base}\\.([^.-]+)-\\d+-of-\\d+\\.${ext}$`),
      new RegExp(`^${base}\\.${ext}\\.([^.]+)\\.index\\.json$`),
      new RegExp(`^${base}\\.${ext}\\.index\\.([^.]+)\\.json$`),
      new RegExp(`^${base}\\.([^.]+)\\.${ext}\\.index\\.json$`),
    ];
  });
  for (const name of fileNames) {
    for (const pattern of patterns) {
      const match = pattern.exec(name);
      if (match && match[1] !== 'index') found.add(match[1]);
    }
  }
  return [...found].sort();
}

/** The format of a weight file or sharded-weights index, from its name. */
export function weightFormatOf(fileName: string): WeightFormat {
  return /\.bin(\.|$)/.test(basename(fileName)) ? 'pytorch' : 'safetensors';
}

/**
 * Parses a sharded-weights index (`{"weight_map": {tensor: shard file}}`) into tensor -> shard file.
 * Shard names must be plain file names in the same folder, in the index's format (`.bin` shards for a
 * `pytorch_model.bin.index.json`).
 */
export function parseShardIndex(path: string, text: string): Map<string, string> {
  const extension = weightFormatOf(path) === 'pytorch' ? '.bin' : '.safetensors';
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${path}: not valid JSON (${(err as Error).message})`);
  }
  const weightMap = (json as { weight_map?: unknown } | null)?.weight_map;
  if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
    throw new UserError(`${path}: has no "weight_map" object, so it is not a sharded-weights index`);
  }
  const shards = new Map<string, string>();
  for (const [tensor, shard] of Object.entries(weightMap as Record<string, unknown>)) {
    if (typeof shard !== 'string' || !isShardName(shard, extension)) {
      throw new UserError(
        `${path}: weight_map entry "${tensor}" names an invalid shard ${JSON.stringify(shard)}`,
      );
    }
    shards.set(tensor, shard);
  }
  return shards;
}

function isShardName(shard: string, extension: string): boolean {
  return shard.endsWith(extension) && !/[/\\]/.test(shard) && !shard.startsWith('.');
}
