import { Worker } from 'node:worker_threads';

/** The largest resident set seen of each kind, in GiB. */
export interface SampledPeaks {
  /** Private memory: what the process itself allocated (weights read into buffers, activations). */
  readonly anonGiB: number;
  /** File-backed pages mapped into the process (memory-mapped weights): page cache, reclaimable when clean. */
  readonly fileGiB: number;
  /** Their sum at the same instant, the most of both at once. */
  readonly totalGiB: number;
}

// A worker thread, because ONNX Runtime's `run` blocks the main thread for seconds: timers there would not
// fire during the runs, which is when memory peaks. Linux records the peak of the whole RSS (VmHWM) but not of
// its private and file-backed parts, so they are sampled.
const SAMPLER = `
const { parentPort, workerData } = require('node:worker_threads');
const { readFileSync } = require('node:fs');
const kB = (text, field) => Number(new RegExp(field + ':\\\\s+(\\\\d+) kB').exec(text)?.[1] ?? 0);
const peaks = { anon: 0, file: 0, total: 0 };
const sample = () => {
  const status = readFileSync('/proc/self/status', 'utf8');
  const anon = kB(status, 'RssAnon');
  const file = kB(status, 'RssFile') + kB(status, 'RssShmem');
  peaks.anon = Math.max(peaks.anon, anon);
  peaks.file = Math.max(peaks.file, file);
  peaks.total = Math.max(peaks.total, anon + file);
};
const timer = setInterval(sample, workerData.intervalMs);
parentPort.on('message', () => {
  clearInterval(timer);
  sample();
  parentPort.postMessage(peaks);
});
`;

/**
 * Samples this process's private and file-backed resident memory every `intervalMs` on a worker thread until
 * `stop` is called, which resolves to the peaks seen (Linux only: /proc/self/status).
 */
export function sampleMemory(intervalMs = 50): { stop: () => Promise<SampledPeaks> } {
  const worker = new Worker(SAMPLER, { eval: true, workerData: { intervalMs } });
  return {
    stop: () =>
      new Promise((resolve, reject) => {
        worker.once('error', reject);
        worker.once('message', (peaks: { anon: number; file: number; total: number }) => {
          const GiB = 1024 ** 2; // the fields are in kB
          void worker.terminate();
          resolve({ anonGiB: peaks.anon / GiB, fileGiB: peaks.file / GiB, totalGiB: peaks.total / GiB });
        });
        worker.postMessage('stop');
      }),
  };
}
