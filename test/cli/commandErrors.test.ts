import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { runDnb } from './runDnb.ts';

const dir = tempDir('dnb-cli-errors-');
const existing = join(dir, 'existing.png');
writeFileSync(existing, 'the user’s file');
const generate = (...args: string[]) =>
  runDnb(['generate', 'a purple dog and a green crown', '--cache-dir', join(dir, 'cache'), ...args]);

/**
 * Each mistake ends the command with one `dnb:` line on stderr, nothing on stdout, and no stack trace. The runs
 * are separate processes that mostly wait for Node to start, so they run concurrently.
 */
describe.concurrent.each([
  {
    mistake: 'a missing model folder',
    args: ['--model', join(dir, 'no-such-model'), '--out', join(dir, 'a.png')],
    code: 1,
    message: /^dnb: model folder .*no-such-model not found/,
  },
  {
    mistake: 'a height that is not a multiple of 8',
    args: ['--model', TINY_SD, '--height', '100', '--out', join(dir, 'b.png')],
    code: 1,
    message: /^dnb: height 100 is not a positive multiple of 8/,
  },
  {
    mistake: 'a token index past the prompt',
    args: [
      '--model',
      TINY_SD,
      '--method',
      'divide-bind',
      '--token-indices',
      '99',
      '--out',
      join(dir, 'c.png'),
    ],
    code: 1,
    message:
      /^dnb: Object token index 99 is past the prompt's last token 7.*The tokens of .* are: 1 a, 2 purple/,
  },
  {
    mistake: 'an existing output file',
    args: ['--model', TINY_SD, '--out', existing],
    code: 1,
    message: /^dnb: .*existing\.png already exists; choose another path or pass --overwrite/,
  },
  {
    mistake: 'malformed thresholds',
    args: [
      '--model',
      TINY_SD,
      '--method',
      'divide-bind',
      '--thresholds',
      '0:0.05,10',
      '--out',
      join(dir, 'd.png'),
    ],
    code: 2,
    message:
      /^dnb: option '--thresholds <i:v,…>' argument '0:0.05,10' is invalid\. expected LOOP_INDEX:VALUE pairs/,
  },
  {
    mistake: 'an unknown scheduler',
    args: ['--model', TINY_SD, '--scheduler', 'lms', '--out', join(dir, 'e.png')],
    code: 2,
    message: /^dnb: option '--scheduler <name>' argument 'lms' is invalid\. Allowed choices are pndm, ddim/,
  },
  {
    mistake: 'a latents file without a "latents" tensor',
    args: [
      '--model',
      TINY_SD,
      '--latents',
      join(TINY_SD, 'vae', 'diffusion_pytorch_model.safetensors'),
      '--out',
      join(dir, 'f.png'),
    ],
    code: 1,
    message: /^dnb: .*diffusion_pytorch_model\.safetensors has no tensor named "latents" \(it has "/,
  },
  {
    mistake: '--trace with plain SD',
    args: ['--model', TINY_SD, '--trace', join(dir, 't.json'), '--out', join(dir, 'g.png')],
    code: 1,
    message: /^dnb: --trace records the guidance/,
  },
  {
    mistake: 'a missing --out',
    args: ['--model', TINY_SD],
    code: 2,
    message: /^dnb: required option '-o, --out <file.png>' not specified/,
  },
])('dnb generate with $mistake', ({ args, code, message }) => {
  it(`exits with ${code} and one dnb: line`, async () => {
    const run = await generate(...args);
    expect(run.code).toBe(code);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});

describe.concurrent('dnb help', () => {
  it('describes every generate option with the official defaults', async () => {
    const run = await runDnb(['generate', '--help']);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('--refinement-caps <first,later>');
    expect(run.stdout).toMatch(/A&E 0:0\.05,10:0\.5,20:0\.8;\s+D&B 0:0\.05,10:0\.2,20:0\.3/);
    expect(run.stdout).toMatch(/A&E 20,20; D&B\s+100,50/);
  });

  it('treats an unknown command as a usage error', async () => {
    const run = await runDnb(['generat', 'a dog']);
    expect(run.code).toBe(2);
    expect(run.stderr).toBe("dnb: unknown command 'generat' (Did you mean generate?)\n");
  });
});

describe.concurrent('dnb tokens', () => {
  it("lists the prompt's tokens and the automatic choice on stdout", async () => {
    const run = await runDnb(['tokens', 'a purple dog and a green crown', '--model', TINY_SD]);
    expect(run.code).toBe(0);
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe(
      [
        'Prompt: "a purple dog and a green crown"',
        'Tokens (0 is the start token, 8 the end token): 1 a, 2 purple, 3 dog, 4 and, 5 a, 6 green, 7 crown',
        'Automatic choice: objects: 3 dog, 7 crown; attributes: 2 purple, 6 green',
        'As options: --token-indices 3,7 --attribute-indices 2,6',
        '',
      ].join('\n'),
    );
  });

  it('needs only the tokenizer folder', async () => {
    const model = tempDir('dnb-cli-tokenizer-only-');
    cpSync(join(TINY_SD, 'tokenizer'), join(model, 'tokenizer'), { recursive: true });
    const run = await runDnb(['tokens', 'three geese', '--model', model]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Automatic choice: objects: 2 geese');
  });
});
