import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPngTextChunks } from '../../src/cli/pngTextChunks.ts';
import type { GuidanceTrace } from '../../src/pipeline/trace.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { golden, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { expectClose } from '../helpers/tensors.ts';
import {
  expectFollowsOfficialLog,
  STABLE_GUIDED,
  STABLE_LOSS_FLOOR,
  STABLE_LOSS_REL,
  stableRunLog,
} from '../pipeline/lossLog.ts';
import { type DnbRun, runDnb, writeGoldenLatents } from './runDnb.ts';

const PHASES = 'purple_dog_green_crown_phases';

/**
 * `dnb generate --method divide-bind` with the fixtures' stable parameters (refinement capped at 3 at loop
 * indices 0 and 10) from `stable/init_latent` against the official D&B run with binding, tolerance 2e-5 of
 * max |ref| (the fixtures README measures float32 vs float64 at 1.6e-6), losses per loss as in lossLog.ts. Tokens are chosen automatically.
 */
describe('dnb generate --method divide-bind', () => {
  const dir = tempDir('dnb-cli-dnb-');
  const out = join(dir, 'dog.png');
  const saved = join(dir, 'final.safetensors');
  const trace = join(dir, 'trace.json');
  let run: DnbRun;

  beforeAll(async () => {
    const latents = join(dir, 'init.safetensors');
    await writeGoldenLatents(latents, PHASES, 'stable/init_latent');
    // biome-ignore format: one option per line reads better
    run = await runDnb([
      'generate', 'a purple dog and a green crown',
      '--model', TINY_SD,
      '--method', 'divide-bind',
      '--steps', '20',
      '--scale-factor', '3',
      '--max-iter-to-alter', '10',
      '--thresholds', '0:0.5,10:0.5',
      '--refinement-caps', '3,3',
      '--latents', latents,
      '--save-latents', saved,
      '--trace', trace,
      '--out', out,
      '--cache-dir', join(dir, 'cache'),
      '--threads', '1',
    ]);
  });

  it('succeeds, prints the image path on stdout and the chosen tokens on stderr', () => {
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(`${out}\n`);
    expect(run.stderr).toContain('tokens: objects: 3 dog, 7 crown; attributes: 2 purple, 6 green');
  });

  it('reports each refinement that stopped at its cap, as the official code prints it', () => {
    for (const loopIndex of [0, 10]) {
      expect(run.stderr).toMatch(
        new RegExp(
          `refinement at loop index ${loopIndex} stopped at its cap of 3 iterations \\(indicator 0\\.\\d+, threshold 0\\.5\\)`,
        ),
      );
    }
  });

  it('reproduces the official stable D&B run', async () => {
    const file = await openSafetensors(saved);
    expectClose(
      await file.readFloat32('latents'),
      await golden(PHASES, 'stable/dnb_tv_bind/final_latents'),
      2e-5, // measured 1.7e-6 of max |ref| (losses: 7.3e-6 per loss)
    );
  });

  it('writes a trace with 3 refinement iterations at loop indices 0 and 10', async () => {
    const written = JSON.parse(await readFile(trace, 'utf8')) as GuidanceTrace;
    expect(written.method).toBe('divide-bind');
    expect(written.objects).toEqual([
      { index: 3, token: 'dog' },
      { index: 7, token: 'crown' },
    ]);
    expect(written.steps.map((s) => s.loopIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const refined = written.steps
      .filter((s) => s.refinement)
      .map((s) => [s.loopIndex, s.refinement?.iterations]);
    expect(refined).toEqual([
      [0, 3],
      [10, 3],
    ]);
    // Each loss of the loop, against the official run's log: the final latents alone barely depend on the
    // step sizes or the binding weight.
    const official = stableRunLog('purple_dog_green_crown', 'dnb_tv_bind');
    expectFollowsOfficialLog(written, official, STABLE_GUIDED, STABLE_LOSS_REL, STABLE_LOSS_FLOOR);
  });

  it('names the method and the tokens in the PNG parameters', async () => {
    const texts = readPngTextChunks(await readFile(out));
    const parameters = texts.find((t) => t.keyword === 'parameters')?.text ?? '';
    expect(parameters).toContain('Method: divide-bind');
    expect(parameters).toContain('Tokens: "objects: 3 dog, 7 crown; attributes: 2 purple, 6 green"');
    const dnb = JSON.parse(texts.find((t) => t.keyword === 'dnb')?.text ?? '{}');
    expect(dnb.tokens).toEqual({
      tokenIndices: [3, 7],
      attributeIndices: [2, 6],
      objects: ['dog', 'crown'],
      attributes: ['purple', 'green'],
    });
    expect(dnb.guidance).toMatchObject({ scaleFactor: 3, maxIterToAlter: 10, refinementCaps: [3, 3] });
  });
});
