import type { DType } from '../dtype.ts';
import type { Value } from '../graph.ts';

/** A value, or a plain number that becomes a scalar constant of the other operand's dtype. */
export type Operand = Value | number;

export function toValue(x: Operand, like: Value, dtype: DType = like.dtype): Value {
  return typeof x === 'number' ? like.graph.scalar(x, dtype) : x;
}

/** The first operand that is a Value; binary ops need at least one. */
export function anchor(a: Operand, b: Operand): Value {
  if (typeof a !== 'number') return a;
  if (typeof b !== 'number') return b;
  throw new Error('an op needs at least one graph value; both operands are numbers');
}
