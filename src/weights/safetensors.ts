import { UserError } from '../errors.ts';
import { type AnyTypedArray, type Dtype, type DtypeArrays, typedArrayView } from './dtypes.ts';
import { readExactly, withFile } from './fileRange.ts';
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

  return { path, metadata: header.metadata, byteLength, ...tensorReader(path, header.tensors) };
}

/**
 * The read methods of a SafetensorsFile for tensors located by absolute offset in `path`, whatever the file's
 * format (a PyTorch checkpoint's stored zip entries too).
 */
export function tensorReader(
  path: string,
  tensors: Map<string, TensorInfo>,
): Pick<SafetensorsFile, 'tensors' | 'readRaw' | 'readTyped' | 'readFloat32'> {
  const info = (name: string): TensorInfo => {
    const found = tensors.get(name);
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

  return { tensors, readRaw, readTyped: readTyped as SafetensorsFile['readTyped'], readFloat32 };
}
