import { UserError } from '../../errors.ts';
import type { AnyTypedArray, Dtype } from '../dtypes.ts';
import { type SafetensorsFile, type TensorInfo, tensorReader } from '../safetensors.ts';
import { WeightIndex } from '../weightIndex.ts';
import type { MappedTensor } from './tensorView.ts';

/**
 * A component's weights inside a single-file checkpoint: a WeightIndex under the diffusers names whose entries
 * point at byte ranges of the file (a row block of a fused tensor, a 1×1 conv read as a linear weight), so the
 * graph's external initializers reference the checkpoint in place and nothing is converted on disk.
 * `info.name` keeps the checkpoint key, for messages. A tensor stored transposed is marked `transposed`: its
 * `info.shape` is the diffusers shape, its bytes are the transpose (ModelParameters transposes it in the graph;
 * the read methods here return the diffusers layout).
 */
export function mappedWeights(
  file: SafetensorsFile,
  label: string,
  mapped: readonly MappedTensor[],
): WeightIndex {
  const infos = new Map<string, TensorInfo>();
  const transposed = new Set<string>();
  for (const tensor of mapped) {
    const stored = file.tensors.get(tensor.source);
    if (!stored) throw new Error(`${file.path}: mapped key "${tensor.source}" is not in the file`);
    if (infos.has(tensor.name)) {
      throw new UserError(
        `${file.path}: two keys become the diffusers tensor "${tensor.name}" (${tensor.source} is one)`,
      );
    }
    infos.set(tensor.name, viewInfo(file.path, stored, tensor));
    if (tensor.view?.kind === 'transpose') transposed.add(tensor.name);
  }
  const reader = tensorReader(file.path, infos);
  const view: SafetensorsFile = {
    path: file.path,
    metadata: file.metadata,
    byteLength: file.byteLength,
    ...reader,
    ...(transposed.size > 0 ? transposingReads(reader, infos, transposed) : {}),
  };
  const entries = new Map(
    [...infos].map(([name, info]) => [name, { file: view, info, transposed: transposed.has(name) }]),
  );
  return new WeightIndex(label, [view], entries);
}

/** The stored tensor's bytes as the diffusers tensor: same dtype, another offset, length or shape. */
function viewInfo(path: string, stored: TensorInfo, tensor: MappedTensor): TensorInfo {
  const view = tensor.view;
  const base = { ...stored, name: tensor.source, shape: [...stored.shape] };
  if (!view) return base;
  const fail = (expected: string): never => {
    throw new UserError(
      `${path}: "${tensor.source}" is [${stored.shape.join(', ')}]; ${expected} (for "${tensor.name}")`,
    );
  };
  switch (view.kind) {
    case 'rows': {
      if (stored.shape.length < 1 || stored.shape[0] % view.parts !== 0) {
        fail(`expected a first dimension divisible by ${view.parts}`);
      }
      const length = stored.byteLength / view.parts;
      return {
        ...base,
        shape: [stored.shape[0] / view.parts, ...stored.shape.slice(1)],
        byteOffset: stored.byteOffset + view.part * length,
        byteLength: length,
      };
    }
    case 'squeeze': {
      const shape = [...stored.shape];
      while (shape.length > 2 && shape[shape.length - 1] === 1) shape.pop();
      if (shape.length !== 2) fail('expected a linear weight or a 1×1 convolution');
      return { ...base, shape };
    }
    case 'transpose':
      if (stored.shape.length !== 2) fail('expected a matrix');
      return { ...base, shape: [stored.shape[1], stored.shape[0]] };
  }
}

/** Read methods that return the transposed tensors in their diffusers layout. */
function transposingReads(
  reader: ReturnType<typeof tensorReader>,
  infos: ReadonlyMap<string, TensorInfo>,
  transposed: ReadonlySet<string>,
): Pick<SafetensorsFile, 'readRaw' | 'readTyped' | 'readFloat32'> {
  // Stored [cols, rows]; the diffusers tensor is [rows, cols] = info.shape.
  const readTyped = reader.readTyped as (name: string, dtype?: Dtype) => Promise<AnyTypedArray>;
  const fix = <T extends AnyTypedArray>(name: string, values: T): T => {
    const info = infos.get(name);
    if (!info || !transposed.has(name)) return values;
    const [rows, cols] = info.shape;
    const out = new (values.constructor as new (n: number) => T)(values.length);
    for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = values[c * rows + r];
    return out;
  };
  return {
    async readRaw(name) {
      if (!transposed.has(name)) return reader.readRaw(name);
      const typed = await reader.readTyped(name);
      const fixed = fix(name, typed);
      return new Uint8Array(fixed.buffer, fixed.byteOffset, fixed.byteLength);
    },
    readTyped: (async (name: string, dtype?: Dtype) =>
      fix(name, await readTyped(name, dtype))) as SafetensorsFile['readTyped'],
    readFloat32: async (name) => fix(name, await reader.readFloat32(name)),
  };
}
