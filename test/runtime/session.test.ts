import { mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import * as G from '../../src/graph/index.ts';
import { parseDevice } from '../../src/runtime/providers.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { float32ToBfloat16, float32ToFloat16 } from '../../src/weights/halfFloat.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';

const root = mkdtempSync(join(tmpdir(), 'dnb-runtime-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let folders = 0;
const freshDir = (name: string) => mkdtempSync(join(root, `${name}-${folders++}-`));

interface RawTensor {
  dtype: 'F32' | 'F16' | 'BF16';
  shape: number[];
  bytes: Uint8Array;
}

/**
 * A safetensors file built by hand with a header of odd length, so every tensor's data starts at an odd
 * (unaligned) absolute offset. Returns each tensor's absolute offset and length.
 */
function writeUnalignedSafetensors(path: string, tensors: Record<string, RawTensor>) {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.byteLength] };
    offset += t.bytes.byteLength;
  }
  let json = JSON.stringify(header);
  if (json.length % 2 === 0) json += ' '; // 8 + odd = odd
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(
    path,
    Buffer.concat([prefix, Buffer.from(json), ...Object.values(tensors).map((t) => t.bytes)]),
  );
  const dataStart = 8 + json.length;
  return Object.fromEntries(
    Object.entries(header).map(([name, h]) => {
      const [begin, end] = (h as { data_offsets: [number, number] }).data_offsets;
      return [name, { file: path, byteOffset: dataStart + begin, byteLength: end - begin, name }];
    }),
  );
}

const bytesOf = (a: Float32Array | Uint16Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

const weightValues = Float32Array.of(0.5, -1, 2, 0.25, 3, -0.75);
// Exactly representable in fp16 and bf16, so the casts must give them back exactly.
const halfValues = [1.5, -0.125, 1024, 3];

function writeWeights(dir: string, scale = 1) {
  const path = join(dir, 'model.safetensors');
  const refs = writeUnalignedSafetensors(path, {
    w: { dtype: 'F32', shape: [3, 2], bytes: bytesOf(weightValues.map((v) => v * scale)) },
    h: { dtype: 'F16', shape: [4], bytes: bytesOf(float32ToFloat16(halfValues)) },
    b: { dtype: 'BF16', shape: [2, 2], bytes: bytesOf(float32ToBfloat16(halfValues)) },
  });
  return { path, refs };
}

/** x·w, plus the fp16 and bf16 weights cast to float32 in the graph. */
function buildGraph(refs: ReturnType<typeof writeWeights>['refs']) {
  const g = new G.Graph();
  const x = g.input('x', [1, 3]);
  const w = g.external(refs.w, [3, 2], 'float32');
  const h = G.cast(g.external(refs.h, [4], 'float16'), 'float32');
  const b = G.cast(g.external(refs.b, [2, 2], 'bfloat16'), 'float32');
  return { y: G.matmul(x, w), h: G.mul(h, 2), b };
}

describe('compiled graphs with external weights', () => {
  it('read float32, fp16 and bf16 weights at unaligned offsets of a safetensors file', async () => {
    const dir = freshDir('weights');
    const { path, refs } = writeWeights(dir);
    expect(refs.w.byteOffset % 2).toBe(1);
    expect(refs.h.byteOffset % 2).toBe(1);
    // The reader agrees with the hand-computed offsets.
    const file = await openSafetensors(path);
    expect(file.tensors.get('h')?.byteOffset).toBe(refs.h.byteOffset);

    const compiled = await CompiledGraph.compile(buildGraph(refs), {
      cacheDir: freshDir('cache'),
      threads: 1,
    });
    const result = await compiled.run({ x: Float32Array.of(1, 2, 3) });
    // [1,2,3]·[[0.5,-1],[2,0.25],[3,-0.75]]
    expect(Array.from(result.y.data as Float32Array)).toEqual([1 * 0.5 + 2 * 2 + 3 * 3, -1 + 0.5 - 2.25]);
    expect(Array.from(result.h.data as Float32Array)).toEqual(halfValues.map((v) => 2 * v));
    expect(Array.from(result.b.data as Float32Array)).toEqual(halfValues);
    expect(result.b.shape).toEqual([2, 2]);
    await compiled.release();
  });

  it('reuses the cache entry on the second compile, and makes a new one when the weights file changes', async () => {
    const dir = freshDir('weights');
    const cacheDir = freshDir('cache');
    const { path, refs } = writeWeights(dir);
    const first = await CompiledGraph.compile(buildGraph(refs), { cacheDir });
    const before = statSync(first.path);
    const second = await CompiledGraph.compile(buildGraph(refs), { cacheDir });
    expect(second.path).toBe(first.path);
    const after = statSync(second.path);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]); // not rewritten
    expect(dirname(first.path).startsWith(join(cacheDir, 'graphs'))).toBe(true);

    // New values, same size; the modification time moves on (set explicitly: file systems with coarse
    // timestamps could otherwise keep it).
    writeWeights(dir, 2);
    utimesSync(path, new Date(), new Date(before.mtimeMs + 5000));
    const third = await CompiledGraph.compile(buildGraph(refs), { cacheDir });
    expect(third.path).not.toBe(first.path);
    const result = await third.run({ x: Float32Array.of(1, 0, 0) });
    expect(Array.from(result.y.data as Float32Array)).toEqual([1, -2]);
    await Promise.all([first.release(), second.release(), third.release()]);
  });
});

describe('devices and feeds', () => {
  const g = new G.Graph();
  const x = g.input('x', [2, 3]);
  const outputs = { y: G.exp(x) };

  // Neither provider can start on a default install (CUDA binaries are an opt-in download; WebGPU needs a
  // Vulkan driver and a GPU). Where one does start, the graph must simply compute the same values.
  const howTo = { webgpu: 'WebGPU runs through Dawn', cuda: 'The CUDA provider is an opt-in download' };
  for (const device of ['webgpu', 'cuda'] as const) {
    it(`an unavailable ${device} provider gives a UserError saying how to enable it`, async () => {
      const outcome = await CompiledGraph.compile(outputs, { device, cacheDir: freshDir('cache') }).catch(
        (error: unknown) => error,
      );
      if (outcome instanceof CompiledGraph) {
        const result = await outcome.run({ x: new Float32Array(6) });
        expect(Array.from(result.y.data as Float32Array)).toEqual([1, 1, 1, 1, 1, 1]);
        await outcome.release();
        return;
      }
      expect(outcome).toBeInstanceOf(UserError);
      const message = (outcome as Error).message;
      expect(message).toMatch(
        new RegExp(`^the ${device} execution provider is not available here \\(.+\\)\\. `),
      );
      expect(message).toContain(howTo[device]);
    });
  }

  it('an unknown device name is a UserError listing the choices', () => {
    expect(() => parseDevice('tpu')).toThrow(UserError);
    expect(() => parseDevice('tpu')).toThrow('unknown device "tpu"; choose one of cpu, webgpu, cuda');
    expect(parseDevice('cpu')).toBe('cpu');
  });

  it('a missing, mis-sized or mistyped feed is a clear error', async () => {
    const compiled = await CompiledGraph.compile(outputs, { cacheDir: freshDir('cache'), threads: 1 });
    expect(compiled.inputs).toEqual([{ name: 'x', shape: [2, 3], dtype: 'float32' }]);
    await expect(compiled.run({})).rejects.toThrow('graph input "x" ([2,3] float32) was not given');
    await expect(compiled.run({ x: new Float32Array(5) })).rejects.toThrow(
      'graph input "x" needs [2,3] float32, got 5 elements',
    );
    await expect(compiled.run({ x: new Float64Array(6) })).rejects.toThrow(
      'graph input "x" needs [2,3] float32, got a Float64Array',
    );
    await expect(compiled.run({ x: { data: new Float32Array(6), shape: [3, 2] } })).rejects.toThrow(
      'graph input "x" needs [2,3] float32, got shape [3,2]',
    );
    const ok = await compiled.run({ x: { data: new Float32Array(6), shape: [2, 3] } });
    expect(Array.from(ok.y.data as Float32Array)).toEqual([1, 1, 1, 1, 1, 1]);
    await compiled.release();
  });
});
