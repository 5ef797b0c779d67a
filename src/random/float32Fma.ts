/**
 * Correctly rounded float32 fused multiply-add, fma(a, b, c) = round_f32(a*b + c) with one rounding.
 *
 * Needed because PyTorch's AVX2 normal kernel is compiled by GCC with FMA contraction, and a fused
 * result can differ by an ulp from `fround(fround(a*b) + c)`.
 *
 * For float32 inputs a*b is exact in a double (48 significant bits). The sum p + c is rounded once to
 * double; rounding that double to float32 again is wrong only when it lands exactly on a float32
 * midpoint while the exact sum is not there, so the error term of the sum breaks the tie.
 */

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** The float32 adjacent to `r` (a float32) in the direction of `toward`. */
function adjacentFloat32(r: number, toward: number): number {
  f32[0] = r;
  if (r === 0) {
    u32[0] = toward > 0 ? 1 : 0x80000001;
  } else if (toward > r === r > 0) {
    u32[0] += 1; // away from zero
  } else {
    u32[0] -= 1; // toward zero
  }
  return f32[0];
}

/** fma for float32 operands, rounded to nearest-even float32 like `vfmadd` on x86. */
export function fma32(a: number, b: number, c: number): number {
  const p = a * b; // exact
  const s = p + c;
  const r = Math.fround(s);
  if (r === s) return r;
  // Knuth's TwoSum: p + c = s + err exactly.
  const bv = s - p;
  const err = p - (s - bv) + (c - bv);
  if (err === 0) return r;
  const other = adjacentFloat32(r, s);
  if (s - r !== other - s) return r; // not a tie: the double rounding was harmless
  // s sits exactly between r and other; the exact sum lies on the side err points to.
  return err > 0 ? Math.max(r, other) : Math.min(r, other);
}
