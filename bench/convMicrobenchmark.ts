import { Graph } from '../src/graph/graph.ts';
import { conv2d, countFlops } from '../src/graph/index.ts';
import { CompiledGraph, type RuntimeOptions } from '../src/runtime/session.ts';
import { randomTensor } from './randomWeights.ts';
import { type Timing, time } from './stats.ts';

export interface ConvResult {
  readonly timing: Timing;
  readonly flops: number;
  readonly gflops: number;
}

/**
 * The machine's practical peak: a 320-channel 3×3 convolution at 64×64 (SD 1.5's first UNet stage at 512 px)
 * through ONNX Runtime with the same session options as the models.
 */
export async function convMicrobenchmark(runtime: RuntimeOptions, reps: number): Promise<ConvResult> {
  const g = new Graph();
  const x = g.input('x', [1, 320, 64, 64]);
  const w = g.constant(randomTensor('w', [320, 320, 3, 3], 1), [320, 320, 3, 3]);
  const b = g.constant(randomTensor('b.bias', [320], 1), [320]);
  const y = conv2d(x, w, b, { padding: 1 });
  const compiled = await CompiledGraph.compile({ y }, runtime, 'conv_microbenchmark');
  const input = randomTensor('x', x.shape, 2);
  const timing = await time(reps, () => compiled.run({ x: input }), 2);
  await compiled.release();
  const flops = countFlops([y]).total;
  return { timing, flops, gflops: flops / timing.median / 1e9 };
}
