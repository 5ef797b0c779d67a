import { spawn } from 'node:child_process';
import { cp, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readPngTextChunks } from '../../src/cli/pngTextChunks.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { FIXTURES, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { runDnb } from './runDnb.ts';

const DNB = join(FIXTURES, '..', '..', 'bin', 'dnb.js');
const PROMPT = 'a purple dog and a green crown';

/** `dnb ARGS` whose `signal` is sent once `trigger` matches stdout or stderr; resolves on exit. */
function runDnbAndSignal(
  args: readonly string[],
  trigger: { stream: 'stdout' | 'stderr'; pattern: RegExp },
  signal: NodeJS.Signals,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DNB, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const text = { stdout: '', stderr: '' };
    let sent = false;
    const watch = (name: 'stdout' | 'stderr') => (chunk: string) => {
      text[name] += chunk;
      if (!sent && name === trigger.stream && trigger.pattern.test(text[name])) {
        sent = true;
        child.kill(signal);
      }
    };
    child.stdout.setEncoding('utf8').on('data', watch('stdout'));
    child.stderr.setEncoding('utf8').on('data', watch('stderr'));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, ...text }));
  });
}

/** A copy of the tiny model with one weight of `component` set to NaN. */
async function tinyModelWithNaN(component: 'unet' | 'vae', tensor: string): Promise<string> {
  const root = join(tempDir('dnb-nan-'), 'model');
  await cp(TINY_SD, root, { recursive: true, dereference: true });
  const path = join(root, component, 'diffusion_pytorch_model.safetensors');
  const file = await openSafetensors(path);
  const tensors: Parameters<typeof writeSafetensors>[1] = {};
  for (const [name, info] of file.tensors) {
    const data = await file.readFloat32(name);
    if (name === tensor) data[0] = Number.NaN;
    tensors[name] = { dtype: 'F32', shape: info.shape, data };
  }
  await writeSafetensors(path, tensors, { overwrite: true });
  return root;
}

describe('dnb generate keeps what is finished when interrupted', () => {
  it('SIGINT after the first of 3 images: exit 130, image 0 with its latents kept, nothing partial', async () => {
    const dir = tempDir('dnb-sigint-');
    const run = await runDnbAndSignal(
      [
        'generate',
        PROMPT,
        '--model',
        TINY_SD,
        '--num-images',
        '3',
        '--steps',
        '20',
        '--out',
        join(dir, 'x.png'),
        '--save-latents',
        join(dir, 'final.safetensors'),
        '--cache-dir',
        join(tempDir(), 'cache'),
        '--threads',
        '1',
      ],
      { stream: 'stdout', pattern: /x-0\.png\n/ },
      'SIGINT',
    );
    expect(run.code).toBe(130);
    expect(run.stdout).toBe(`${join(dir, 'x-0.png')}\n`);
    // The seed came before any step, so the run can be repeated.
    expect(run.stderr.indexOf('seed: ')).toBeLessThan(run.stderr.indexOf('image 1/3 done'));
    expect(run.stderr).toMatch(/dnb: interrupted by SIGINT: kept 1 of 3 image\(s\) \(.*x-0\.png\)/);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    // No temporary or half-written files: only what was finished.
    expect((await readdir(dir)).sort()).toEqual(['final.safetensors', 'x-0.png']);
    const latents = await openSafetensors(join(dir, 'final.safetensors'));
    expect(latents.tensors.get('latents')?.shape).toEqual([1, 4, 32, 32]);
    const dnb = JSON.parse(
      readPngTextChunks(await readFile(join(dir, 'x-0.png'))).find((t) => t.keyword === 'dnb')?.text ?? '{}',
    );
    const seed = Number(/seed: (\d+)/.exec(run.stderr)?.[1]);
    expect(dnb.seed).toBe(seed);
  });

  it('SIGTERM before the first step: exit 143 and no files', async () => {
    const dir = tempDir('dnb-sigterm-');
    const run = await runDnbAndSignal(
      ['generate', PROMPT, '--model', TINY_SD, '--num-images', '2', '--out', join(dir, 'x.png')],
      { stream: 'stderr', pattern: /seed: \d+\n/ },
      'SIGTERM',
    );
    expect(run.code).toBe(143);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(/dnb: interrupted by SIGTERM: kept 0 of 2 image\(s\)/);
    expect(await readdir(dir)).toEqual([]);
  });
});

describe('dnb generate stops on NaN instead of writing a black image', () => {
  it('a NaN UNet weight: exit 1, one line naming the step and the likely causes, no PNG', async () => {
    const model = await tinyModelWithNaN('unet', 'conv_out.bias');
    const dir = tempDir('dnb-nan-out-');
    const run = await runDnb([
      'generate',
      PROMPT,
      '--model',
      model,
      '--steps',
      '3',
      '--seed',
      '1',
      '--out',
      join(dir, 'x.png'),
      '--cache-dir',
      join(dir, 'cache'),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^dnb: image 1: the latents hold 1024 non-finite value\(s\) \(first: NaN\) after loop index 0 \(timestep \d+\); stopped, nothing written for this image: likely corrupt weights/m,
    );
    expect(
      run.stderr
        .trim()
        .split('\n')
        .filter((line) => line.startsWith('dnb:')),
    ).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect((await readdir(dir)).filter((name) => name !== 'cache')).toEqual([]);
  });

  it('a NaN VAE weight: the decoded image is checked too', async () => {
    const model = await tinyModelWithNaN('vae', 'decoder.conv_out.bias');
    const dir = tempDir('dnb-nan-vae-');
    const run = await runDnb([
      'generate',
      PROMPT,
      '--model',
      model,
      '--steps',
      '2',
      '--seed',
      '1',
      '--out',
      join(dir, 'x.png'),
      '--cache-dir',
      join(dir, 'cache'),
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^dnb: image 1: the decoded image hold \d+ non-finite value\(s\) \(first: NaN\); stopped/m,
    );
    expect((await readdir(dir)).filter((name) => name !== 'cache')).toEqual([]);
  });
});
