import { open } from 'node:fs/promises';
import { UserError } from '../errors.ts';
import { type AnyTypedArray, type Dtype, type DtypeArrays, typedArrayView } from './dtypes.ts';
import { bfloat16BitsToFloat32, float16BitsToFloat32 } from './halfFloat.ts';
import { HEADER_LENGTH_BYTES, parseHeader, parseHeaderLength, type TensorInfo } from './safetensorsHeader.ts';

export type { TensorInfo } from './safetensorsHeader.ts';

/**
 * A safetensors file whose header has been read and checked. Tensor data stays on disk and is read
 * on demand by offset, so opening a multi-gigabyte UNet costs one small read.
 */
export interface SafetensorsFile {
  path: string;
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** Total size of the file in bytes. */
  byteLength: number;
  /** The tensor's bytes as stored (little-endian), in a fresh, aligned buffer. */
  readRaw(name: string): Promise<Uint8Array>;
  /**
   * The tensor as its dtype's typed array (F16 and BF16 as 16-bit patterns). With `dtype`, a tensor
   * of another dtype is an error and the result is typed accordingly.
   */
  readTyped<D extends Dtype>(name: string, dtype: D): Promise<DtypeArrays[D]>;
  readTyped(name: string): Promise<AnyTypedArray>;
  /** The tensor converted to float32 (exact for F16 and BF16; F64 is rounded). */
  readFloat32(name: string): Promise<Float32Array>;
}

export async function openSafetensors(path: string): Promise<SafetensorsFile> {
  const { header, byteLength } = await withFile(path, async (handle) => {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new UserError(`${path}: not a regular file`);
    const size = stats.size;
    const prefix = new Uint8Array(HEADER_LENGTH_BYTES);
    if (size >= HEADER_LENGTH_BYTES) await readExactly(handle, prefix, 0, path);
    const headerLength = parseHeaderLength(path, prefix, size);
    const headerBytes = new Uint8Array(headerLength);
    await readExactly(handle, headerBytes, HEADER_LENGTH_BYTES, path);
    return { header: parseHeader(path, headerBytes, size), byteLength: size };
  });

  const info = (name: string): TensorInfo => {
    const found = header.tensors.get(name);
    if (!found) throw new UserError(`${path}: no tensor named "${name}"`);
    return found;
  };

  const readRaw = async (name: string): Promise<Uint8Array> => {
    const { byteOffset, byteLength: length } = info(name);
    // A fresh ArrayBuffer per tensor keeps every typed-array view aligned.
    const bytes = new Uint8Array(new ArrayBuffer(length));
    await withFile(path, (handle) => readExactly(handle, bytes, byteOffset, path));
    return bytes;
  };

  const readTyped = async (name: string, dtype?: Dtype): Promise<AnyTypedArray> => {
    const tensor = info(name);
    if (dtype !== undefined && tensor.dtype !== dtype) {
      throw new UserError(`${path}: tensor "${name}" has dtype ${tensor.dtype}, expected ${dtype}`);
    }
    const bytes = await readRaw(name);
    return typedArrayView(tensor.dtype, bytes.buffer as ArrayBuffer, bytes.byteLength);
  };

  const readFloat32 = async (name: string): Promise<Float32Array> => {
    const tensor = info(name);
    const bytes = await readRaw(name);
    const buffer = bytes.buffer as ArrayBuffer;
    switch (tensor.dtype) {
      case 'F32':
        return typedArrayView('F32', buffer, bytes.byteLength);
      case 'F16':
        return float16BitsToFloat32(typedArrayView('F16', buffer, bytes.byteLength));
      case 'BF16':
        return bfloat16BitsToFloat32(typedArrayView('BF16', buffer, bytes.byteLength));
      case 'F64':
        return Float32Array.from(typedArrayView('F64', buffer, bytes.byteLength));
      default:
        throw new UserError(
          `${path}: tensor "${name}" has dtype ${tensor.dtype}, which is not a floating-point type`,
        );
    }
  };

  return {
    path,
    metadata: header.metadata,
    tensors: header.tensors,
    byteLength,
    readRaw,
    readTyped: readTyped as SafetensorsFile['readTyped'],
    readFloat32,
  };
}

/** Node refuses single reads of 2 GiB or more; big tensors are read in pieces. */
const MAX_READ_BYTES = 1 << 30;

type FileHandle = Awaited<ReturnType<typeof open>>;

async function withFile<T>(path: string, use: (handle: FileHandle) => Promise<T>): Promise<T> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UserError(`${path}: file not found`);
    throw new UserError(`${path}: cannot open (${(err as Error).message})`);
  }
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

async function readExactly(handle: FileHandle, target: Uint8Array, position: number, path: string) {
  let done = 0;
  while (done < target.byteLength) {
    const chunk = Math.min(target.byteLength - done, MAX_READ_BYTES);
    const { bytesRead } = await handle.read(target, done, chunk, position + done);
    if (bytesRead === 0) {
      throw new UserError(`${path}: unexpected end of file at byte ${position + done} (the file shrank?)`);
    }
    done += bytesRead;
  }
}
