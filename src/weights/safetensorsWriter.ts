import { UserError } from '../errors.ts';
import { writeFileAtomically } from './atomicFile.ts';
import {
  type AnyTypedArray,
  assertLittleEndianHost,
  type Dtype,
  dtypeSize,
  elementCount,
  isDtype,
  typedArrayMatchesDtype,
} from './dtypes.ts';

export interface TensorToWrite {
  dtype: Dtype;
  shape: readonly number[];
  /**
   * The values as the dtype's typed array (F16/BF16 as Uint16Array bit patterns, see halfFloat.ts).
   * A function is called when the tensor is written, so a benchmark can write a full-size UNet of
   * random weights holding one tensor in memory at a time.
   */
  data: AnyTypedArray | (() => AnyTypedArray);
}

export interface WriteSafetensorsOptions {
  /** String metadata stored under `__metadata__`, e.g. `{ format: 'pt' }`. */
  metadata?: Record<string, string>;
  /** Replace an existing file; without it an existing file is an error. */
  overwrite?: boolean;
}

/**
 * Writes a safetensors file atomically. Tensors are laid out largest element size first and the
 * header is padded to 8 bytes, so every tensor starts aligned to its element size.
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorToWrite>,
  options: WriteSafetensorsOptions = {},
): Promise<void> {
  assertLittleEndianHost();
  const names = Object.keys(tensors).sort((a, b) => {
    const bySize = dtypeSize(tensors[b].dtype) - dtypeSize(tensors[a].dtype);
    return bySize !== 0 ? bySize : a < b ? -1 : a > b ? 1 : 0;
  });

  const header: Record<string, unknown> = {};
  if (options.metadata) {
    for (const [key, value] of Object.entries(options.metadata)) {
      if (typeof value !== 'string') {
        throw new UserError(`${path}: metadata value of "${key}" must be a string`);
      }
    }
    header['__metadata__'] = options.metadata;
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new UserError(`${path}: "__metadata__" is not a valid tensor name`);
    const { dtype, shape } = tensors[name];
    if (!isDtype(dtype)) throw new UserError(`${path}: tensor "${name}" has unknown dtype ${dtype}`);
    if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new UserError(`${path}: tensor "${name}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const byteLength = elementCount(shape) * dtypeSize(dtype);
    header[name] = { dtype, shape: [...shape], data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }

  const json = Buffer.from(JSON.stringify(header), 'utf8');
  const paddedLength = Math.ceil(json.byteLength / 8) * 8;
  const prefix = Buffer.alloc(8 + paddedLength, 0x20); // spaces are valid JSON padding
  prefix.writeBigUInt64LE(BigInt(paddedLength), 0);
  json.copy(prefix, 8);

  await writeFileAtomically(
    path,
    async (handle) => {
      await handle.write(prefix);
      for (const name of names) {
        const { dtype, shape, data } = tensors[name];
        const values = typeof data === 'function' ? data() : data;
        if (!typedArrayMatchesDtype(dtype, values)) {
          throw new UserError(
            `${path}: tensor "${name}" of dtype ${dtype} was given a ${values.constructor.name}`,
          );
        }
        if (values.length !== elementCount(shape)) {
          throw new UserError(
            `${path}: tensor "${name}" has ${values.length} values but shape ${JSON.stringify(shape)} ` +
              `needs ${elementCount(shape)}`,
          );
        }
        await writeAll(handle, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      }
    },
    { overwrite: options.overwrite },
  );
}

type Handle = Parameters<Parameters<typeof writeFileAtomically>[1]>[0];

async function writeAll(handle: Handle, bytes: Uint8Array): Promise<void> {
  const chunk = 1 << 30; // single writes of 2 GiB or more are refused by Node
  for (let done = 0; done < bytes.byteLength; ) {
    const { bytesWritten } = await handle.write(bytes, done, Math.min(chunk, bytes.byteLength - done));
    done += bytesWritten;
  }
}
