import onnxProto from 'onnx-proto';
import { beforeAll, describe, expect, it } from 'vitest';
import { concat, Graph, grad, mul, reduceSum, serialize, slice, type Value } from '../../src/graph/index.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { goldenFile, seededUniform, TIMESTEPS, tempDirForFile, tinyUNet } from './fixtures.ts';

const cacheDir = tempDirForFile('dnb-unet-grad-');

/**
 * A guidance-like scalar of the 16×16 cross-attention maps: a fixed random weighting of tokens 2..7 of every
 * 16×16 cross layer and head (the UNet output is not used, as in A&E and D&B).
 */
async function attentionLoss() {
  const unet = await tinyUNet();
  const graph = new Graph();
  const inputs = unet.declareInputs(graph, { batch: 1, height: 32, width: 32 });
  const { attention } = unet.forward(graph, inputs);
  const maps = attention
    .filter((r) => r.kind === 'cross' && r.resolution[0] === 16)
    .map((r) => slice(r.probs, [2], [8], [3]));
  const stacked = concat(maps, 1); // [1, 5·8, 256, 6]
  const random = seededUniform(7);
  const weights = graph.constant(Float32Array.from({ length: 256 * 6 }, random), [1, 1, 256, 6]);
  const loss = reduceSum(mul(stacked, weights));
  return { graph, inputs, loss };
}

describe('gradients through the UNet attention probabilities', () => {
  let loss: Value;
  let sample: Value;
  beforeAll(async () => {
    ({
      loss,
      inputs: { sample },
    } = await attentionLoss());
  });

  it('a graph that reads only the 16×16 maps leaves out the UNet after the last 16×16 attention', () => {
    const [g] = grad(loss, [sample]);
    const model = onnxProto.onnx.ModelProto.decode(serialize({ loss, g }).bytes);
    const weights = new Set(model.graph!.initializer!.map((t) => t.name!));
    const last = 'up_blocks.1.attentions.2.transformer_blocks.0';
    expect(weights).toContain(`${last}.attn2.to_q.weight`);
    expect(weights).toContain('down_blocks.0.resnets.0.conv1.weight');
    for (const unused of [
      `${last}.attn2.to_out.0.weight`, // P·v of the last layer is not needed, nor anything after it
      `${last}.ff.net.2.weight`,
      'up_blocks.1.upsamplers.0.conv.weight',
      'up_blocks.2.resnets.0.conv1.weight',
      'conv_out.weight',
    ]) {
      expect(weights).not.toContain(unused);
    }
  });

  it('d(loss)/d(sample) matches central differences', async () => {
    const [g] = grad(loss, [sample]);
    const dir = await cacheDir();
    const withGrad = await CompiledGraph.compile({ loss, g }, { cacheDir: dir });
    const lossOnly = await CompiledGraph.compile({ loss }, { cacheDir: dir });
    const gold = await goldenFile('purple_dog_green_crown');
    const latent = await gold.readFloat32('init_latent');
    const feeds = {
      timestep: Float32Array.of(TIMESTEPS.t_first),
      encoder_hidden_states: await gold.readFloat32('prompt_embeds'),
    };
    const gradient = (await withGrad.run({ ...feeds, sample: latent })).g.data as Float32Array;
    const lossAt = async (i: number, delta: number) => {
      const s = latent.slice();
      s[i] += delta;
      return (await lossOnly.run({ ...feeds, sample: s })).loss.data[0] as number;
    };

    // The three steepest coordinates (largest signal) and two arbitrary ones.
    const order = [...gradient.keys()].sort((a, b) => Math.abs(gradient[b]) - Math.abs(gradient[a]));
    const largest = Math.abs(gradient[order[0]]);
    expect(largest).toBeGreaterThan(0.1);
    // Step 0.03 on latents of std 1: measured truncation error ≤ 4.3e-4·max|g| for this loss (≤ 5e-3 at step
    // 0.1, rounding noise dominating below 0.01: |loss| ≈ 16 has float32 noise ~1e-6, i.e. ~3e-5 in the
    // quotient). 2e-3·max|g| leaves room for that, while a wrong rule (a dropped skip path, a transposed head
    // split) is off by a sizeable fraction of max|g|.
    const h = 0.03;
    for (const i of [...order.slice(0, 3), 100, 3000]) {
      const fd = ((await lossAt(i, h)) - (await lossAt(i, -h))) / (2 * h);
      expect(
        Math.abs(fd - gradient[i]),
        `coordinate ${i}: analytic ${gradient[i]}, central ${fd}`,
      ).toBeLessThan(2e-3 * largest);
    }
  });
});
