import { mkdtempSync, rmSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import * as G from '../../src/graph/index.ts';
import { CompiledGraph, sessionOptionsFor } from '../../src/runtime/session.ts';
import { flushesSubnormals } from '../../src/runtime/subnormals.ts';

const cacheDir = mkdtempSync(join(tmpdir(), 'dnb-subnormals-'));
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

/** 1.5e-38 halved is 7.5e-39, a subnormal float32: a thread that flushes writes 0 instead. */
const TINY = 1.5e-38;

// ONNX Runtime sets the flags through SSE's MXCSR only; elsewhere its flag is a no-op.
describe.runIf(arch() === 'x64')('subnormals on the threads that run a session', () => {
  it('are flushed on the JS thread and on the pool threads once our first session exists', async () => {
    const small = new G.Graph();
    const x = small.input('x', [4]);
    const halfSmall = await CompiledGraph.compile({ y: G.mul(x, 0.5) }, { cacheDir, threads: 2 });
    // The JS main thread creates and runs sessions (onnxruntime-node 1.30); the session set its flags.
    expect(flushesSubnormals()).toBe(true);
    // Four elements are not split across threads: the calling thread computes them.
    const out = await halfSmall.run({ x: Float32Array.of(TINY, -TINY, 1, TINY) });
    expect(Array.from(out.y.data as Float32Array)).toEqual([0, -0, 0.5, 0]);

    // 2^22 elements are split across the pool's threads and the calling thread: every share must flush.
    const n = 1 << 22;
    const large = new G.Graph();
    const big = large.input('x', [n]);
    const halfLarge = await CompiledGraph.compile({ y: G.mul(big, 0.5) }, { cacheDir, threads: 2 });
    const result = (await halfLarge.run({ x: new Float32Array(n).fill(TINY) })).y.data as Float32Array;
    expect(result.findIndex((v) => v !== 0)).toBe(-1);
    await Promise.all([halfSmall.release(), halfLarge.release()]);
  });
});

describe('session options', () => {
  it('keep the subnormal flag when a caller adds its own session entries', () => {
    const options = sessionOptionsFor({
      sessionOptions: { extra: { session: { 'intra_op.allow_spinning': '0' } }, enableCpuMemArena: false },
    });
    expect(options.extra).toEqual({
      session: { set_denormal_as_zero: '1', disable_prepacking: '1', 'intra_op.allow_spinning': '0' },
    });
    expect(options.enableCpuMemArena).toBe(false);
    // An explicit choice still wins (the BLIP decoder turns pre-packing back on).
    const blip = sessionOptionsFor({ sessionOptions: { extra: { session: { disable_prepacking: '0' } } } });
    expect((blip.extra as { session: Record<string, string> }).session.disable_prepacking).toBe('0');
  });
});
