import { add, erf, mul, pow, sigmoid, tanh, type Value } from '../../graph/index.ts';
import type { BlipActivation } from './config.ts';

/** transformers' ACT2FN entries BLIP configs name, in PyTorch's op order. */
export function blipActivation(name: BlipActivation, x: Value): Value {
  switch (name) {
    case 'gelu':
      // nn.functional.gelu (exact): x·0.5·(1 + erf(x/√2)).
      return mul(mul(x, 0.5), add(erf(mul(x, Math.SQRT1_2)), 1));
    case 'gelu_new':
    case 'gelu_pytorch_tanh': {
      const inner = mul(add(x, mul(pow(x, 3), 0.044715)), Math.sqrt(2 / Math.PI));
      return mul(mul(x, 0.5), add(tanh(inner), 1));
    }
    case 'quick_gelu':
      return mul(x, sigmoid(mul(x, 1.702)));
  }
}
