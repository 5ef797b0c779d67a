import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { FIXTURES, golden } from '../helpers/fixtures.ts';

const DNB = join(FIXTURES, '..', '..', 'bin', 'dnb.js');

export interface DnbRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node bin/dnb.js ARGS` as the user would (stderr is a pipe, not a terminal: no progress bar);
 * `env` adds to the test's environment, e.g. HF_ENDPOINT for a fake Hub.
 */
export function runDnb(args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<DnbRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DNB, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A safetensors file holding a golden tensor [1, 4, 32, 32] under the name `--latents` reads. */
export async function writeGoldenLatents(path: string, file: string, name: string): Promise<void> {
  await writeSafetensors(path, {
    latents: { dtype: 'F32', shape: [1, 4, 32, 32], data: await golden(file, name) },
  });
}
