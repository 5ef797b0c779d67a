import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, TINY_SD, tempDir } from '../helpers/fixtures.ts';
import { runDnb } from './runDnb.ts';

const DNB = join(FIXTURES, '..', '..', 'bin', 'dnb.js');

/** Starts `dnb studio ARGS`, waits for its "Studio ready at URL" line and returns the URL and the stderr so far. */
function startStudio(
  args: readonly string[],
): Promise<{ url: string; stderr: () => string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [DNB, 'studio', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const exited = new Promise<number | null>((done) => child.on('close', done));
  return new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`no ready line within 60 s:\n${stderr}`)), 60_000);
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
      const url = /Studio ready at (\S+)/.exec(stderr)?.[1];
      if (url) {
        clearTimeout(timer);
        done({
          url,
          stderr: () => stderr,
          stop: () => {
            child.kill('SIGTERM');
            return exited;
          },
        });
      }
    });
    exited.then((code) => fail(new Error(`dnb studio exited with ${code}:\n${stderr}`)));
  });
}

describe('dnb studio binds its port before the model loads', () => {
  let occupied: Server;
  let port: number;

  beforeAll(async () => {
    occupied = createServer();
    await new Promise<void>((done) => occupied.listen(0, '127.0.0.1', done));
    port = (occupied.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((done) => occupied.close(() => done())));

  it('a port in use is one dnb: line, exit 1, before anything loads', async () => {
    const started = Date.now();
    const run = await runDnb(['studio', '--model', TINY_SD, '--port', String(port)]);
    const seconds = (Date.now() - started) / 1000;
    expect(run.code).toBe(1);
    // One line and no "loading" line: the listen failed before StableDiffusion.load was called (the tiny
    // model itself loads in about 0.3 s, under the noise of Node's start, so the line is the proof, not time).
    expect(run.stderr).toMatch(
      new RegExp(
        `^dnb: port ${port} on 127\\.0\\.0\\.1 is already in use .*--port 0 picks a free one\\)\\n$`,
      ),
    );
    expect(run.stderr).not.toMatch(/loading|Error:|\n {4}at /);
    // Measured 5 s here (Node's start on a busy 2-core machine); a model load or a hang would exceed this.
    expect(seconds).toBeLessThan(30);
  }, 60_000);

  it('an address this machine does not have is one dnb: line', async () => {
    const run = await runDnb([
      'studio',
      '--model',
      TINY_SD,
      '--host',
      '10.255.255.254',
      '--token',
      'a-long-enough-token',
      '--port',
      '0',
    ]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^dnb: cannot listen on 10\.255\.255\.254:0: .*not an address of this machine.*\n$/,
    );
  }, 60_000);

  it('a --host other than loopback without --token is refused, saying how to give one', async () => {
    const run = await runDnb(['studio', '--model', TINY_SD, '--host', '0.0.0.0', '--port', '0']);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^dnb: --host 0\.0\.0\.0 lets other machines reach the studio.*--token TOKEN.*\n$/,
    );
  }, 60_000);

  it('--token alone prints a generated token in the address; the API needs it', async () => {
    const studio = await startStudio([
      '--model',
      TINY_SD,
      '--port',
      '0',
      '--token',
      '--cache-dir',
      join(tempDir('dnb-studio-cli-'), 'cache'),
    ]);
    try {
      const token = new URL(studio.url).searchParams.get('token') ?? '';
      expect(token.length).toBeGreaterThanOrEqual(16);
      expect(studio.stderr()).toMatch(/^Listening at http:\/\/127\.0\.0\.1:\d+\/; loading /);
      const api = new URL('/api/info', studio.url);
      expect((await fetch(api)).status).toBe(401);
      expect((await fetch(api, { headers: { authorization: `Bearer ${token}` } })).status).toBe(200);
    } finally {
      expect(await studio.stop()).toBe(0);
    }
  }, 90_000);
});
