import { type DType, isFloat } from '../dtype.ts';
import { GraphError } from '../errors.ts';
import { apply, type OpDef, type Value } from '../graph.ts';
import { broadcastShapes } from '../shape.ts';
import { anchor, type Operand, toValue } from './operand.ts';
import { sumToShape } from './reduce.ts';
import { where } from './select.ts';

// Binary elementwise ops with numpy broadcasting. Their gradients are summed back to each input's shape.

type BinaryVjp = (
  a: Value,
  b: Value,
  y: Value,
  g: Value,
  needed: readonly boolean[],
) => [Value | null, Value | null];

function binaryOp(
  name: string,
  vjp: BinaryVjp | undefined,
  output: (dtype: DType) => DType = (d) => d,
): OpDef<null> {
  return {
    name,
    infer([a, b]) {
      if (a.dtype !== b.dtype) throw new GraphError(`dtypes differ: ${a.dtype} and ${b.dtype}`);
      return [{ shape: broadcastShapes(a.shape, b.shape), dtype: output(a.dtype) }];
    },
    emit(e, inputs, outputs) {
      e.node(name, inputs, outputs);
    },
    vjp: vjp
      ? (node, [g], needed) => {
          if (!g) return [null, null];
          const [a, b] = node.inputs;
          const [ga, gb] = vjp(a, b, node.outputs[0], g, needed);
          return [ga && sumToShape(ga, a.shape), gb && sumToShape(gb, b.shape)];
        }
      : undefined,
  };
}

const Add = binaryOp('Add', (_a, _b, _y, g) => [g, g]);
const Sub = binaryOp('Sub', (_a, _b, _y, g, needed) => [g, needed[1] ? neg(g) : null]);
const Mul = binaryOp('Mul', (a, b, _y, g, needed) => [
  needed[0] ? mul(g, b) : null,
  needed[1] ? mul(g, a) : null,
]);
const Div = binaryOp('Div', (_a, b, y, g, needed) => {
  const ga = div(g, b);
  return [ga, needed[1] ? neg(mul(ga, y)) : null];
});
// PyTorch's masks: d(a^b)/da = 0 where b = 0 (not 0·a⁻¹, NaN at a = 0), and d(a^b)/db = 0 where a = 0 and
// b ≥ 0 (not 0·log 0 = NaN).
const Pow = binaryOp('Pow', (a, b, y, g, needed) => {
  const da = () => where(equal(b, 0), 0, mul(b, pow(a, sub(b, 1))));
  const db = () => {
    const t = mul(y, log(a));
    return where(equal(a, 0), where(less(b, 0), t, 0), t);
  };
  return [needed[0] ? mul(g, da()) : null, needed[1] ? mul(g, db()) : null];
});
// PyTorch's maximum/minimum split the gradient evenly when both inputs are equal.
const Max = binaryOp('Max', (a, b, _y, g) => splitByComparison(a, b, g, greater));
const Min = binaryOp('Min', (a, b, _y, g) => splitByComparison(a, b, g, less));

function splitByComparison(
  a: Value,
  b: Value,
  g: Value,
  wins: (x: Value, y: Value) => Value,
): [Value, Value] {
  const share = where(equal(a, b), 0.5, where(wins(a, b), 1, 0, g.dtype));
  return [mul(g, share), mul(g, sub(1, share))];
}

const Greater = binaryOp('Greater', undefined, () => 'bool');
const Less = binaryOp('Less', undefined, () => 'bool');
const Equal = binaryOp('Equal', undefined, () => 'bool');

function binary(op: OpDef<null>, a: Operand, b: Operand): Value {
  const like = anchor(a, b);
  return apply(op, [toValue(a, like), toValue(b, like)], null)[0];
}

export const add = (a: Operand, b: Operand): Value => binary(Add, a, b);
export const sub = (a: Operand, b: Operand): Value => binary(Sub, a, b);
export const mul = (a: Operand, b: Operand): Value => binary(Mul, a, b);
export const div = (a: Operand, b: Operand): Value => binary(Div, a, b);
export const pow = (a: Operand, b: Operand): Value => binary(Pow, a, b);
export const maximum = (a: Operand, b: Operand): Value => binary(Max, a, b);
export const minimum = (a: Operand, b: Operand): Value => binary(Min, a, b);
export const greater = (a: Operand, b: Operand): Value => binary(Greater, a, b);
export const less = (a: Operand, b: Operand): Value => binary(Less, a, b);
export const equal = (a: Operand, b: Operand): Value => binary(Equal, a, b);

// Unary elementwise ops. Each gradient rule sees the input x, the output y and the output gradient g.

type UnaryVjp = (x: Value, y: Value, g: Value) => Value | null;

function unaryOp(name: string, vjp: UnaryVjp | null): OpDef<null> {
  return {
    name,
    infer([x]) {
      if (!isFloat(x.dtype)) throw new GraphError(`needs a float input, got ${x.dtype}`);
      return [{ shape: x.shape, dtype: x.dtype }];
    },
    emit(e, inputs, outputs) {
      e.node(name, inputs, outputs);
    },
    vjp: (node, [g]) => [g && vjp ? vjp(node.inputs[0], node.outputs[0], g) : null],
  };
}

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

const Neg = unaryOp('Neg', (_x, _y, g) => neg(g));
const Sqrt = unaryOp('Sqrt', (_x, y, g) => div(g, mul(y, 2)));
const Exp = unaryOp('Exp', (_x, y, g) => mul(g, y));
const Log = unaryOp('Log', (x, _y, g) => div(g, x));
// d|x|/dx = sign(x), which is 0 at 0 as in PyTorch.
const Abs = unaryOp('Abs', (x, _y, g) => mul(g, sign(x)));
const Sign = unaryOp('Sign', null);
const Erf = unaryOp('Erf', (x, _y, g) => mul(g, mul(exp(neg(mul(x, x))), TWO_OVER_SQRT_PI)));
const Sigmoid = unaryOp('Sigmoid', (_x, y, g) => mul(g, mul(y, sub(1, y))));
const Tanh = unaryOp('Tanh', (_x, y, g) => mul(g, sub(1, mul(y, y))));
// PyTorch's relu passes no gradient at exactly 0.
const Relu = unaryOp('Relu', (x, _y, g) => where(greater(x, 0), g, 0));
const Identity = unaryOp('Identity', (_x, _y, g) => g);
const Sin = unaryOp('Sin', (x, _y, g) => mul(g, cos(x)));
const Cos = unaryOp('Cos', (x, _y, g) => neg(mul(g, sin(x))));

const unary = (op: OpDef<null>, x: Value): Value => apply(op, [x], null)[0];

export const neg = (x: Value): Value => unary(Neg, x);
export const sqrt = (x: Value): Value => unary(Sqrt, x);
export const exp = (x: Value): Value => unary(Exp, x);
export const log = (x: Value): Value => unary(Log, x);
export const abs = (x: Value): Value => unary(Abs, x);
export const sign = (x: Value): Value => unary(Sign, x);
export const erf = (x: Value): Value => unary(Erf, x);
export const sigmoid = (x: Value): Value => unary(Sigmoid, x);
export const tanh = (x: Value): Value => unary(Tanh, x);
export const relu = (x: Value): Value => unary(Relu, x);
export const identity = (x: Value): Value => unary(Identity, x);
export const sin = (x: Value): Value => unary(Sin, x);
export const cos = (x: Value): Value => unary(Cos, x);
