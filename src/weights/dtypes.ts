import { endianness } from 'node:os';

/** Element types of the safetensors format (names as they appear in the header). */
export const SAFETENSORS_DTYPES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

export type Dtype = keyof typeof SAFETENSORS_DTYPES;

/** The typed array that holds each dtype's raw values (F16/BF16 as their 16-bit patterns). */
export interface DtypeArrays {
  F64: Float64Array;
  F32: Float32Array;
  F16: Uint16Array;
  BF16: Uint16Array;
  I64: BigInt64Array;
  I32: Int32Array;
  I16: Int16Array;
  I8: Int8Array;
  U64: BigUint64Array;
  U32: Uint32Array;
  U16: Uint16Array;
  U8: Uint8Array;
  BOOL: Uint8Array;
  F8_E4M3: Uint8Array;
  F8_E5M2: Uint8Array;
}

export type AnyTypedArray = DtypeArrays[Dtype];

type ArrayConstructorFor<T> = new (buffer: ArrayBuffer, byteOffset: number, length: number) => T;

const ARRAY_CONSTRUCTORS: { [D in Dtype]: ArrayConstructorFor<DtypeArrays[D]> } = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U64: BigUint64Array,
  U32: Uint32Array,
  U16: Uint16Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
  F8_E4M3: Uint8Array,
  F8_E5M2: Uint8Array,
};

export function isDtype(name: string): name is Dtype {
  return Object.hasOwn(SAFETENSORS_DTYPES, name);
}

export function dtypeSize(dtype: Dtype): number {
  return SAFETENSORS_DTYPES[dtype];
}

/** Safetensors data is little-endian; typed arrays use the host's order, so refuse big-endian hosts. */
export function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') {
    throw new Error('safetensors typed-array views need a little-endian host');
  }
}

/** Views `byteLength` bytes at the start of `buffer` (which must be aligned) as the dtype's typed array. */
export function typedArrayView<D extends Dtype>(
  dtype: D,
  buffer: ArrayBuffer,
  byteLength: number,
): DtypeArrays[D] {
  assertLittleEndianHost();
  const Ctor = ARRAY_CONSTRUCTORS[dtype] as ArrayConstructorFor<DtypeArrays[D]>;
  return new Ctor(buffer, 0, byteLength / dtypeSize(dtype));
}

/** Whether `data` is the typed array the writer expects for `dtype`. */
export function typedArrayMatchesDtype(dtype: Dtype, data: ArrayBufferView): boolean {
  return data instanceof ARRAY_CONSTRUCTORS[dtype];
}

export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}
