import { Graph } from '../src/graph/graph.ts';
import { countFlops, matmul } from '../src/graph/index.ts';
import { CompiledGraph, type RuntimeOptions } from '../src/runtime/session.ts';
import { randomTensor } from './randomWeights.ts';
import { type Timing, time } from './stats.ts';

export interface MatmulResult {
  readonly timing: Timing;
  readonly flops: number;
  readonly gflops: number;
}

/**
 * The practical peak for transformers, whose FLOPs are almost all matrix products: ViT-B/16's MLP up-projection
 * for 8 images ([8·197, 768] × [768, 3072]) through ONNX Runtime with the models' session options.
 */
export async function matmulMicrobenchmark(runtime: RuntimeOptions, reps: number): Promise<MatmulResult> {
  const g = new Graph();
  const x = g.input('x', [8 * 197, 768]);
  const w = g.constant(randomTensor('w', [768, 3072], 1), [768, 3072]);
  const y = matmul(x, w);
  const compiled = await CompiledGraph.compile({ y }, runtime, 'matmul_microbenchmark');
  const input = randomTensor('x', x.shape, 2);
  const timing = await time(reps, () => compiled.run({ x: input }), 2);
  await compiled.release();
  const flops = countFlops([y]).total;
  return { timing, flops, gflops: flops / timing.median / 1e9 };
}
