import { UserError } from '../errors.ts';
import { dtypeSize, elementCount } from './dtypes.ts';
import { PickleError, unpickle } from './pickle.ts';
import { describe, TensorRecord, torchStateDictPolicy } from './pytorchCheckpointPickle.ts';
import { type SafetensorsFile, type TensorInfo, tensorReader } from './safetensors.ts';
import { openZipDirectory, readZipEntry, type ZipDirectory } from './zipDirectory.ts';

const WHAT = 'PyTorch checkpoint';

/**
 * Opens a PyTorch checkpoint written by `torch.save` (PyTorch >= 1.6: a zip with `{archive}/data.pkl` and one
 * uncompressed record per storage, e.g. transformers' `pytorch_model.bin`) without running its pickle: only
 * tensors and OrderedDicts are rebuilt, anything else is refused (see pytorchCheckpointPickle.ts). The result
 * reads like a safetensors file: each tensor is located by absolute byte offset inside its storage record, so
 * it becomes ONNX external data in place, with no copy.
 *
 * Tensors must be contiguous (strides of a row-major layout; dimensions of size 1 may have any stride, as in
 * torch's `is_contiguous`); a view at a storage offset is fine. Other strides are refused with a clear error
 * rather than copied, since a copy could not be pointed at in the file. See `selectStateDict` for which
 * tensors of a wrapped checkpoint (`{"model": ...}`) are read.
 */
export async function openPytorchCheckpoint(path: string): Promise<SafetensorsFile> {
  const zip = await openZipDirectory(path, WHAT);
  const prefix = recordPrefix(zip);
  await checkByteOrder(zip, prefix);
  const pickleEntry = zip.entries.get(`${prefix}data.pkl`)!;
  let root: unknown;
  try {
    root = unpickle(await readZipEntry(zip, pickleEntry), torchStateDictPolicy());
  } catch (err) {
    if (err instanceof PickleError) throw new UserError(`${path}: ${err.message}`);
    throw err;
  }
  const tensors = new Map<string, TensorInfo>();
  for (const [name, record] of selectStateDict(path, root)) {
    tensors.set(name, locateTensor(zip, prefix, name, record));
  }
  return { path, metadata: {}, byteLength: zip.byteLength, ...tensorReader(path, tensors) };
}

/** The folder all records sit in (`archive/` for torch >= 2.x, the file's stem for older versions). */
function recordPrefix(zip: ZipDirectory): string {
  const pickles = [...zip.entries.keys()].filter((name) => /^[^/]+\/data\.pkl$/.test(name));
  if (pickles.length === 0) {
    const names = [...zip.entries.keys()];
    const shown = names.slice(0, 5).join(', ') + (names.length > 5 ? ', …' : '');
    throw new UserError(
      `${zip.path}: has no data.pkl record, so it is not a ${WHAT} written by torch.save ` +
        `(the zip holds ${names.length === 0 ? 'nothing' : shown})`,
    );
  }
  if (pickles.length > 1)
    throw new UserError(`${zip.path}: holds several data.pkl records (${pickles.join(', ')})`);
  const prefix = pickles[0]!.slice(0, -'data.pkl'.length);
  if (zip.entries.has(`${prefix}constants.pkl`)) {
    throw new UserError(
      `${zip.path}: is a TorchScript archive (torch.jit.save), not a state dict; save model.state_dict() with ` +
        'torch.save, or convert it to safetensors',
    );
  }
  return prefix;
}

/** torch >= 2.1 records the byte order; tensors are read in place, so only little-endian files are usable. */
async function checkByteOrder(zip: ZipDirectory, prefix: string): Promise<void> {
  const entry = zip.entries.get(`${prefix}byteorder`);
  if (!entry) return; // older torch: always little-endian in practice
  const order = new TextDecoder().decode(await readZipEntry(zip, entry)).trim();
  if (order !== 'little') {
    throw new UserError(
      `${zip.path}: was saved on a ${order}-endian machine; only little-endian checkpoints are read ` +
        '(load and re-save it on a little-endian machine, or convert it to safetensors)',
    );
  }
}

/**
 * The tensors of the checkpoint's state dict, by name. The state dict is the pickled dict itself, or, for a
 * wrapper such as a LAVIS/BLIP `.pth` (`{"model": ..., "epoch": ...}`) or a Lightning `.ckpt`
 * (`{"state_dict": ...}`), its `state_dict` or else its `model` entry when that is a dict. Dicts nested inside
 * it are flattened with "." between keys (`{"text": {"w": t}}` gives `text.w`); values that are not tensors
 * (numbers, strings, lists) are skipped.
 */
export function selectStateDict(path: string, root: unknown): Map<string, TensorRecord> {
  if (!(root instanceof Map)) {
    throw new UserError(`${path}: holds a pickled ${describe(root)}, not a state dict (a dict of tensors)`);
  }
  const wrapped = ['state_dict', 'model'].map((key) => root.get(key)).find((value) => value instanceof Map);
  const stateDict = (wrapped ?? root) as Map<unknown, unknown>;
  const tensors = new Map<string, TensorRecord>();
  const visiting = new Set<Map<unknown, unknown>>();
  const walk = (dict: Map<unknown, unknown>, prefix: string): void => {
    if (visiting.has(dict)) throw new UserError(`${path}: the state dict contains itself`);
    visiting.add(dict);
    for (const [key, value] of dict) {
      const name = `${prefix}${String(key)}`;
      if (value instanceof Map) {
        walk(value, `${name}.`);
      } else if (value instanceof TensorRecord) {
        if (tensors.has(name)) throw new UserError(`${path}: the state dict has two tensors named "${name}"`);
        tensors.set(name, value);
      }
    }
    visiting.delete(dict);
  };
  walk(stateDict, '');
  if (tensors.size === 0) {
    throw new UserError(`${path}: the pickled ${describe(root)} holds no tensors, so it is not a state dict`);
  }
  return tensors;
}

/** Where a contiguous tensor's bytes are: inside its storage record, after `storageOffset` elements. */
function locateTensor(zip: ZipDirectory, prefix: string, name: string, tensor: TensorRecord): TensorInfo {
  const { storage, storageOffset, shape, stride } = tensor;
  const recordName = `${prefix}data/${storage.key}`;
  const fail: (problem: string) => never = (problem) => {
    throw new UserError(`${zip.path}: tensor "${name}" ${problem}`);
  };
  const entry = zip.entries.get(recordName);
  if (!entry) fail(`is stored in record ${recordName}, which the zip does not hold (the file is corrupt)`);
  if (entry.method !== 0) {
    fail(
      `is in record ${recordName}, which is compressed (zip method ${entry.method}); tensors are read in ` +
        'place from uncompressed records, as torch.save writes them: save it again with torch.save or convert ' +
        'it to safetensors',
    );
  }
  const size = dtypeSize(storage.dtype);
  if (entry.uncompressedSize < storage.numel * size) {
    fail(
      `is in record ${recordName} of ${entry.uncompressedSize} bytes, but its storage has ${storage.numel} ` +
        `${storage.dtype} elements (${storage.numel * size} bytes); the file is corrupt`,
    );
  }
  const count = elementCount(shape);
  const contiguous = contiguousStrides(shape);
  if (count > 0 && shape.some((dim, i) => dim !== 1 && stride[i] !== contiguous[i])) {
    fail(
      `[${shape.join(', ')}] has strides (${stride.join(', ')}), not the contiguous (${contiguous.join(', ')}): ` +
        'only contiguous tensors are read, in place; save it with tensor.contiguous() or convert the file to ' +
        'safetensors',
    );
  }
  if (storageOffset + count > storage.numel) {
    fail(
      `needs elements ${storageOffset} to ${storageOffset + count} of storage ${storage.key}, which has only ` +
        `${storage.numel}; the file is corrupt`,
    );
  }
  return {
    name,
    dtype: storage.dtype,
    shape: [...shape],
    byteOffset: entry.dataOffset + storageOffset * size,
    byteLength: count * size,
  };
}

function contiguousStrides(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let step = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = step;
    step *= shape[i]!;
  }
  return strides;
}
