import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../errors.ts';
import { openPytorchCheckpoint } from './pytorchCheckpoint.ts';
import { openSafetensors, type SafetensorsFile, type TensorInfo } from './safetensors.ts';
import { chooseWeightFiles, parseShardIndex, type WeightFormat } from './weightFiles.ts';

export interface WeightEntry {
  file: SafetensorsFile;
  info: TensorInfo;
  /**
   * The bytes hold the transpose of this 2-D tensor, whose shape `info.shape` is (a single-file checkpoint's
   * OpenCLIP `text_projection`): the graph transposes it; the file's read methods already return it transposed.
   */
  transposed?: boolean;
}

/** All tensors of one model component, across its (possibly sharded) safetensors files. */
export class WeightIndex {
  constructor(
    /** What the weights belong to, for messages, e.g. the component folder. */
    readonly label: string,
    readonly files: SafetensorsFile[],
    readonly tensors: Map<string, WeightEntry>,
  ) {}

  get(name: string): WeightEntry {
    const entry = this.tensors.get(name);
    if (!entry) throw new UserError(`${this.label}: no tensor named "${name}" in ${this.describeFiles()}`);
    return entry;
  }

  readFloat32(name: string): Promise<Float32Array> {
    return this.get(name).file.readFloat32(name);
  }

  describeFiles(): string {
    return this.files.map((file) => file.path).join(', ');
  }
}

/**
 * Opens the weights of a component folder (`unet/`, `vae/`, `text_encoder/`, a transformers model folder): a
 * single file or shards listed by an index, in the plain or the requested variant (e.g. `fp16`); safetensors
 * when the folder has them, else PyTorch `.bin` checkpoints (read without running their pickle).
 */
export async function openComponentWeights(
  dir: string,
  options: { variant?: string } = {},
): Promise<WeightIndex> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    throw new UserError(`${dir}: component folder not found`);
  }
  const choice = chooseWeightFiles(dir, names, options.variant);
  if (choice.kind === 'single') {
    const file = await openWeightFile(join(dir, choice.file), choice.format);
    return new WeightIndex(dir, [file], new Map([...file.tensors].map(([n, info]) => [n, { file, info }])));
  }

  const indexPath = join(dir, choice.index);
  const shardOf = parseShardIndex(indexPath, await readFile(indexPath, 'utf8'));
  const shardNames = [...new Set(shardOf.values())].sort();
  const missing = shardNames.filter((name) => !names.includes(name));
  if (missing.length > 0) {
    throw new UserError(`${indexPath}: lists shard files that are missing: ${missing.join(', ')}`);
  }
  const files = await Promise.all(shardNames.map((name) => openWeightFile(join(dir, name), choice.format)));
  const tensors = new Map<string, WeightEntry>();
  for (const file of files) {
    for (const [name, info] of file.tensors) {
      const earlier = tensors.get(name);
      if (earlier) {
        throw new UserError(`${dir}: tensor "${name}" appears in both ${earlier.file.path} and ${file.path}`);
      }
      tensors.set(name, { file, info });
    }
  }
  for (const [name, shard] of shardOf) {
    if (tensors.get(name)?.file.path !== join(dir, shard)) {
      throw new UserError(`${indexPath}: says "${name}" is in ${shard}, but that shard does not hold it`);
    }
  }
  return new WeightIndex(dir, files, tensors);
}

/** Opens one weight file; both formats give tensors located by byte offset, read on demand. */
function openWeightFile(path: string, format: WeightFormat): Promise<SafetensorsFile> {
  return format === 'pytorch' ? openPytorchCheckpoint(path) : openSafetensors(path);
}

export interface CheckTensorsOptions {
  /** Tensors in the files that the model does not use and may ignore (e.g. `position_ids` buffers). */
  ignoreUnexpected?: (name: string) => boolean;
}

/** How many names of each kind of problem an error message lists. */
const LISTED = 5;

/**
 * Checks that the weights hold exactly the tensors a model expects, with the expected shapes.
 * The error names the files and the first few missing, unexpected and mismatched keys.
 */
export function checkTensors(
  weights: WeightIndex,
  expected: ReadonlyMap<string, readonly number[]> | Readonly<Record<string, readonly number[]>>,
  options: CheckTensorsOptions = {},
): void {
  const expectedEntries: [string, readonly number[]][] =
    expected instanceof Map ? [...expected] : Object.entries(expected as Record<string, readonly number[]>);
  const expectedNames = new Set(expectedEntries.map(([name]) => name));
  const missing: string[] = [];
  const mismatched: string[] = [];
  for (const [name, shape] of expectedEntries) {
    const entry = weights.tensors.get(name);
    if (!entry) {
      missing.push(name);
    } else if (!sameShape(entry.info.shape, shape)) {
      // A single-file checkpoint stores the tensor under another key: name it too.
      const stored = entry.info.name !== name ? ` (stored as ${entry.info.name})` : '';
      mismatched.push(
        `${name}${stored} is [${entry.info.shape.join(', ')}] in ${entry.file.path}, expected [${shape.join(', ')}]`,
      );
    }
  }
  const unexpected = [...weights.tensors.keys()].filter(
    (name) => !expectedNames.has(name) && !options.ignoreUnexpected?.(name),
  );
  if (missing.length + mismatched.length + unexpected.length === 0) return;

  const parts: string[] = [];
  if (missing.length > 0) parts.push(`missing ${count(missing.length)}: ${firstFew(missing)}`);
  if (unexpected.length > 0) parts.push(`unexpected ${count(unexpected.length)}: ${firstFew(unexpected)}`);
  if (mismatched.length > 0) parts.push(`wrong shape (${mismatched.length}): ${firstFew(mismatched)}`);
  throw new UserError(
    `${weights.describeFiles()}: the weights do not match the model's config.json; ${parts.join('; ')}`,
  );
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function count(n: number): string {
  return n === 1 ? '1 tensor' : `${n} tensors`;
}

function firstFew(items: string[]): string {
  const shown = items.slice(0, LISTED).join(', ');
  return items.length > LISTED ? `${shown}, … (${items.length - LISTED} more)` : shown;
}
