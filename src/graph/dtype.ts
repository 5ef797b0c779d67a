import { float32ToBfloat16Bits, float32ToFloat16Bits } from '../weights/halfFloat.ts';

/** Element types a graph value can have. `float64` exists for finite-difference tests. */
export type DType = 'float32' | 'float16' | 'bfloat16' | 'float64' | 'int64' | 'bool';

export type TypedData = Float32Array | Float64Array | Uint16Array | BigInt64Array | Uint8Array;

/** ONNX TensorProto.DataType codes. */
export const onnxElementType: Record<DType, number> = {
  float32: 1,
  bool: 9,
  float16: 10,
  float64: 11,
  int64: 7,
  bfloat16: 16,
};

export const byteSize: Record<DType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int64: 8,
  bool: 1,
};

export function isFloat(dtype: DType): boolean {
  return dtype !== 'int64' && dtype !== 'bool';
}

/** The typed array that holds `n` elements of `dtype` on the JavaScript side (half floats as raw bits). */
export function allocate(dtype: DType, n: number): TypedData {
  switch (dtype) {
    case 'float32':
      return new Float32Array(n);
    case 'float64':
      return new Float64Array(n);
    case 'float16':
    case 'bfloat16':
      return new Uint16Array(n);
    case 'int64':
      return new BigInt64Array(n);
    case 'bool':
      return new Uint8Array(n);
  }
}

/** Whether `values` is the typed array that holds `dtype` on the JavaScript side (see `allocate`). */
export function isDataOf(dtype: DType, values: ArrayLike<number> | TypedData): values is TypedData {
  switch (dtype) {
    case 'float32':
      return values instanceof Float32Array;
    case 'float64':
      return values instanceof Float64Array;
    case 'float16':
    case 'bfloat16':
      return values instanceof Uint16Array;
    case 'int64':
      return values instanceof BigInt64Array;
    case 'bool':
      return values instanceof Uint8Array;
  }
}

/** Converts a list of numbers to the typed array of `dtype` (rounding for half floats). */
export function fromNumbers(dtype: DType, values: ArrayLike<number>): TypedData {
  const out = allocate(dtype, values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (dtype === 'int64') (out as BigInt64Array)[i] = BigInt(Math.trunc(v));
    else if (dtype === 'float16') out[i] = float32ToFloat16Bits(v);
    else if (dtype === 'bfloat16') out[i] = float32ToBfloat16Bits(v);
    else if (dtype === 'bool') out[i] = v ? 1 : 0;
    else out[i] = v;
  }
  return out;
}
