import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadPromptSet } from '../../src/benchmark/promptSets.ts';
import {
  loadTifaBenchmark,
  TIFA_QUESTION_ANSWERS,
  TIFA_TEXT_INPUTS,
  tifaCacheFolder,
} from '../../src/benchmark/tifaBenchmark.ts';
import { UserError } from '../../src/errors.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';

const SAMPLE = join(FIXTURES, 'benchmark', 'tifa');
const sample = (file: string) => readFileSync(join(SAMPLE, file));

/** How the fake server answers a file: the file, a 404, a body cut mid-way, or a short but complete body. */
type Answer = 'file' | 'missing' | 'cut-connection' | 'short-body';

let server: Server;
let baseUrl: string;
const answers = new Map<string, Answer>();
const requests: string[] = [];

beforeAll(async () => {
  server = createServer((request, response) => {
    requests.push(request.url ?? '');
    const file = (request.url ?? '').replace(/^\/tifa_v1\.0\//, '');
    const answer = answers.get(file) ?? 'file';
    if (answer === 'missing' || ![TIFA_TEXT_INPUTS, TIFA_QUESTION_ANSWERS].includes(file)) {
      response.writeHead(404).end('Not Found');
      return;
    }
    const bytes = sample(file);
    const half = bytes.subarray(0, bytes.length >> 1);
    if (answer === 'short-body') {
      response.writeHead(200, { 'content-length': half.length }).end(half);
    } else if (answer === 'cut-connection') {
      // Announces the whole file, sends half of it, and drops the connection.
      response.writeHead(200, { 'content-length': bytes.length });
      response.write(half, () => response.destroy());
    } else {
      response.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/tifa_v1.0`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

beforeEach(() => {
  answers.clear();
  requests.length = 0;
});

const quiet = { log: () => {}, env: {} };

/** Everything in the cache folder, temporary files included; [] when it does not exist. */
function cacheContents(cacheDir: string): string[] {
  try {
    return readdirSync(tifaCacheFolder(cacheDir)).sort();
  } catch {
    return [];
  }
}

async function userError(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(UserError);
  const message = (error as UserError).message;
  expect(message).not.toContain('\n');
  return message;
}

describe('TIFA v1.0', () => {
  it('downloads both files into the cache and turns them into the set tifa-v1.0', async () => {
    const cacheDir = tempDir();
    const set = await loadTifaBenchmark({ ...quiet, baseUrl, cacheDir });
    expect(requests.sort()).toEqual([
      `/tifa_v1.0/${TIFA_QUESTION_ANSWERS}`,
      `/tifa_v1.0/${TIFA_TEXT_INPUTS}`,
    ]);
    expect(cacheContents(cacheDir)).toEqual([TIFA_QUESTION_ANSWERS, TIFA_TEXT_INPUTS]);
    for (const file of [TIFA_TEXT_INPUTS, TIFA_QUESTION_ANSWERS]) {
      expect(readFileSync(join(tifaCacheFolder(cacheDir), file))).toEqual(sample(file));
    }

    expect(set).toMatchObject({ name: 'tifa-v1.0', label: 'TIFA v1.0', reconstructed: false });
    expect(set.source).toContain('5 prompts, 19 question-answer pairs');
    expect(set.prompts.map((p) => p.id)).toEqual([
      'coco_301091',
      'coco_629098',
      'drawbench_52',
      'partiprompt_241',
      'paintskill_420',
    ]);
    // Captions verbatim: the trailing space and the escaped curly apostrophe.
    expect(set.prompts[1].text).toBe('some people standing around a bright lit up party bus ');
    expect(set.prompts[3].text).toBe('a corgi’s head depicted as an explosion of a nebula');
    expect(set.prompts.map((p) => p.questions?.length)).toEqual([11, 0, 8, 0, 0]);
    for (const prompt of set.prompts) {
      expect(prompt).toMatchObject({ objects: [], attributes: [], structureSource: 'none' });
    }
    expect(set.prompts[2].questions![5]).toEqual({
      question: 'how many cats are in the picture?',
      choices: ['1', '2', '3', '4'],
      answer: '3',
      category: 'counting',
      element: 'three',
    });
    expect(set.prompts[0].questions!.map((q) => q.category)).toEqual([
      'animal/human',
      'animal/human',
      'object',
      'location',
      'location',
      'activity',
      'activity',
      'color',
      'color',
      'color',
      'color',
    ]);
  });

  it('reads the cache on the second load, without a request, offline or with the server gone', async () => {
    const cacheDir = tempDir();
    const first = await loadTifaBenchmark({ ...quiet, baseUrl, cacheDir });
    requests.length = 0;
    expect(await loadTifaBenchmark({ ...quiet, baseUrl, cacheDir, offline: true })).toEqual(first);
    expect(await loadTifaBenchmark({ ...quiet, baseUrl: 'http://127.0.0.1:9/nothing', cacheDir })).toEqual(
      first,
    );
    expect(await loadPromptSet('tifa-v1.0', { ...quiet, cacheDir, env: { HF_HUB_OFFLINE: '1' } })).toEqual(
      first,
    );
    expect(requests).toEqual([]);
  });

  it('takes its base URL from DNB_TIFA_BASE_URL, and says offline mode stops a download', async () => {
    const cacheDir = tempDir();
    const message = await userError(loadTifaBenchmark({ ...quiet, cacheDir, env: { HF_HUB_OFFLINE: '1' } }));
    expect(message).toMatch(/^TIFA v1\.0 is not in the cache .* and offline mode is on \(HF_HUB_OFFLINE\)/);
    expect(requests).toEqual([]);
    const set = await loadTifaBenchmark({ ...quiet, cacheDir, env: { DNB_TIFA_BASE_URL: `${baseUrl}/` } });
    expect(set.prompts).toHaveLength(5);
    expect(requests).toHaveLength(2);
  });

  it('refuses a 404 with one clear message and caches nothing, not even the file that came', async () => {
    const cacheDir = tempDir();
    answers.set(TIFA_QUESTION_ANSWERS, 'missing');
    const message = await userError(loadTifaBenchmark({ ...quiet, baseUrl, cacheDir }));
    expect(message).toBe(
      `the server answered HTTP 404 for ${baseUrl}/${TIFA_QUESTION_ANSWERS}; set DNB_TIFA_BASE_URL to a base URL ` +
        `that serves ${TIFA_QUESTION_ANSWERS} (default https://raw.githubusercontent.com/Yushi-Hu/tifa/main/tifa_v1.0)`,
    );
    expect(cacheContents(cacheDir)).toEqual([]);
  });

  it('refuses a body cut off mid-way, and a short body that is not complete JSON, caching nothing', async () => {
    const cacheDir = tempDir();
    answers.set(TIFA_QUESTION_ANSWERS, 'cut-connection');
    expect(await userError(loadTifaBenchmark({ ...quiet, baseUrl, cacheDir }))).toMatch(
      /^the download of http:.*tifa_v1\.0_question_answers\.json was cut off \(.*\); nothing was cached, run again/,
    );
    expect(cacheContents(cacheDir)).toEqual([]);

    answers.set(TIFA_QUESTION_ANSWERS, 'file');
    answers.set(TIFA_TEXT_INPUTS, 'short-body');
    expect(await userError(loadTifaBenchmark({ ...quiet, baseUrl, cacheDir }))).toMatch(
      /tifa_v1\.0_text_inputs\.json is not TIFA v1\.0's tifa_v1\.0_text_inputs\.json: it is not complete JSON .*nothing was cached/,
    );
    expect(cacheContents(cacheDir)).toEqual([]);

    // The same cache then downloads normally.
    answers.clear();
    expect((await loadTifaBenchmark({ ...quiet, baseUrl, cacheDir })).prompts).toHaveLength(5);
    expect(cacheContents(cacheDir)).toEqual([TIFA_QUESTION_ANSWERS, TIFA_TEXT_INPUTS]);
  });

  it('names a cached file that was changed by hand', async () => {
    const cacheDir = tempDir();
    await loadTifaBenchmark({ ...quiet, baseUrl, cacheDir });
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(tifaCacheFolder(cacheDir), TIFA_TEXT_INPUTS), '[{"id": "coco_1"}]');
    expect(await userError(loadTifaBenchmark({ ...quiet, baseUrl, cacheDir }))).toMatch(
      /tifa_v1\.0_text_inputs\.json is not in TIFA v1\.0's format: entry 0 \(coco_1\): "caption" must be a string; delete it/,
    );
  });
});
