import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FIXTURES, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { runDnb } from './runDnb.ts';

// Where onnxruntime-node keeps the CUDA provider once its opt-in download ran; with it, --device cuda works.
const CUDA_PROVIDER = join(
  FIXTURES,
  '../../node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime_providers_cuda.so',
);

describe.skipIf(existsSync(CUDA_PROVIDER))('a device that is not installed', () => {
  const args = (out: string) => [
    'generate',
    'a purple dog',
    '--model',
    TINY_SD,
    '--device',
    'cuda',
    '--steps',
    '2',
    // A given seed is not printed, so the error is all of stderr.
    '--seed',
    '1',
    '--out',
    join(tempDir('dnb-device-'), out),
  ];

  it('is one dnb: line on stderr, without ONNX Runtime log lines before it', async () => {
    const run = await runDnb(args('a.png'));
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^dnb: the cuda execution provider is not available here \(.*\)\. The CUDA provider is an opt-in download: .*\n$/,
    );
  }, 60_000);

  it('with --verbose also shows what ONNX Runtime logged', async () => {
    const run = await runDnb([...args('b.png'), '--verbose']);
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(run.stderr).toContain('[E:onnxruntime:');
    expect(lines.at(-1)).toMatch(/^dnb: the cuda execution provider is not available here/);
  }, 60_000);
});

const VULKAN_LOADER = [
  '/usr/lib/x86_64-linux-gnu/libvulkan.so.1',
  '/usr/lib/libvulkan.so.1',
  '/lib/libvulkan.so.1',
];

describe.skipIf(process.platform !== 'linux' || VULKAN_LOADER.some((path) => existsSync(path)))(
  'webgpu without a Vulkan loader',
  () => {
    it('is refused in one dnb: line before the model loads, with none of Dawn’s own warnings', async () => {
      const dir = tempDir('dnb-webgpu-');
      // biome-ignore format: one option per line reads better
      const run = await runDnb([
        'generate', 'a purple dog',
        '--model', TINY_SD,
        '--device', 'webgpu',
        '--seed', '1',
        '--out', join(dir, 'a.png'),
      ]);
      expect(run.code).toBe(1);
      expect(run.stderr).toMatch(
        /^dnb: the webgpu execution provider is not available here \(libvulkan\.so\.1[^\n]*\n$/,
      );
    });
  },
);
