import { UserError } from '../errors.ts';

/** Base names of weight files: transformers models use `model`, diffusers models the longer one. */
const WEIGHT_BASE_NAMES = ['model', 'diffusion_pytorch_model'] as const;

/** Which file(s) of a component folder hold its weights. */
export type WeightFileChoice = { kind: 'single'; file: string } | { kind: 'sharded'; index: string };

/** Candidate file names, in order of preference, for one variant (undefined = the plain weights). */
export function weightFileCandidates(variant: string | undefined): { single: string[]; index: string[] } {
  const single: string[] = [];
  const index: string[] = [];
  for (const base of WEIGHT_BASE_NAMES) {
    if (variant === undefined) {
      single.push(`${base}.safetensors`);
      index.push(`${base}.safetensors.index.json`);
    } else {
      single.push(`${base}.${variant}.safetensors`);
      // diffusers, transformers and older uploads each put the variant at a different place.
      index.push(
        `${base}.safetensors.${variant}.index.json`,
        `${base}.safetensors.index.${variant}.json`,
        `${base}.${variant}.safetensors.index.json`,
      );
    }
  }
  return { single, index };
}

/**
 * Chooses the weight files of a component from the names of the files in its folder (a local
 * directory listing or the Hub's file list), with errors that say what was looked for.
 */
export function chooseWeightFiles(
  where: string,
  fileNames: readonly string[],
  variant: string | undefined,
): WeightFileChoice {
  const present = new Set(fileNames);
  const { single, index } = weightFileCandidates(variant);
  const file = single.find((name) => present.has(name));
  if (file) return { kind: 'single', file };
  const indexFile = index.find((name) => present.has(name));
  if (indexFile) return { kind: 'sharded', index: indexFile };

  const lookedFor = `looked for ${[...single, ...index].join(', ')}`;
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
  const pickles = fileNames.filter((name) => PICKLE_WEIGHTS.test(name));
  if (pickles.length > 0) {
    throw new UserError(
      `${where}: only PyTorch pickle weights are present (${pickles.join(', ')}); ` +
        'this program reads .safetensors only, because pickle files can run code when loaded. ' +
        'Convert the folder once with Python: `from diffusers import StableDiffusionPipeline; ' +
        "StableDiffusionPipeline.from_pretrained('IN').save_pretrained('OUT', safe_serialization=True)`",
    );
  }
  throw new UserError(`${where}: no safetensors weights found (${lookedFor}); use --variant for fp16 files`);
}

const PLAIN_WEIGHTS =
  /^(model|diffusion_pytorch_model)(\.safetensors(\.index\.json)?|-\d+-of-\d+\.safetensors)$/;
const PICKLE_WEIGHTS = /\.(bin|ckpt|pt|pth)(\.index\.json)?$/;

/** Variant names that appear in weight file names, e.g. `fp16` in `model.fp16.safetensors`. */
export function variantsPresent(fileNames: readonly string[]): string[] {
  const found = new Set<string>();
  const patterns = [
    /^(?:model|diffusion_pytorch_model)\.([^.]+)\.safetensors$/,
    /^(?:model|diffusion_pytorch_model)\.([^.-]+)-\d+-of-\d+\.safetensors$/,
    /^(?:model|diffusion_pytorch_model)\.safetensors\.([^.]+)\.index\.json$/,
    /^(?:model|diffusion_pytorch_model)\.safetensors\.index\.([^.]+)\.json$/,
    /^(?:model|diffusion_pytorch_model)\.([^.]+)\.safetensors\.index\.json$/,
  ];
  for (const name of fileNames) {
    for (const pattern of patterns) {
      const match = pattern.exec(name);
      if (match && match[1] !== 'index') found.add(match[1]);
    }
  }
  return [...found].sort();
}

/**
 * Parses a sharded-weights index (`{"weight_map": {tensor: shard file}}`) into tensor -> shard file.
 * Shard names must be plain file names in the same folder.
 */
export function parseShardIndex(path: string, text: string): Map<string, string> {
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
    if (typeof shard !== 'string' || !/^[^/\\]+\.safetensors$/.test(shard) || shard.startsWith('.')) {
      throw new UserError(
        `${path}: weight_map entry "${tensor}" names an invalid shard ${JSON.stringify(shard)}`,
      );
    }
    shards.set(tensor, shard);
  }
  return shards;
}
