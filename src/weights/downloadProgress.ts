import cliProgress from 'cli-progress';

/** Reports the progress of one file download. */
export interface DownloadProgress {
  start(file: string, totalBytes: number, alreadyBytes: number): void;
  advance(bytes: number): void;
  finish(): void;
}

/**
 * `bar`: a cli-progress bar on stderr; `lines`: one line per file (for logs and CI);
 * `none`: silent; `auto`: a bar when stderr is a terminal, otherwise lines.
 */
/** Files smaller than this get no bar of their own. */
const BAR_THRESHOLD_BYTES = 1_000_000;

export type ProgressMode = 'auto' | 'bar' | 'lines' | 'none';

export function createDownloadProgress(
  mode: ProgressMode,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): DownloadProgress {
  const resolved = mode === 'auto' ? (process.stderr.isTTY ? 'bar' : 'lines') : mode;
  if (resolved === 'none') return { start() {}, advance() {}, finish() {} };
  if (resolved === 'lines') {
    return {
      start(file, total, already) {
        const resumed = already > 0 ? `, resuming at ${formatBytes(already)}` : '';
        log(`downloading ${file} (${formatBytes(total)}${resumed})`);
      },
      advance() {},
      finish() {},
    };
  }
  let bar: cliProgress.SingleBar | undefined;
  let done = 0;
  let total = 0;
  return {
    start(file, totalBytes, alreadyBytes) {
      done = alreadyBytes;
      total = totalBytes;
      if (totalBytes < BAR_THRESHOLD_BYTES) return; // configs and tokenizer files come and go too fast
      bar = new cliProgress.SingleBar(
        {
          stream: process.stderr,
          format: '{file} |{bar}| {percentage}% {done} / {size} | ETA {eta_formatted}',
          hideCursor: true,
          etaBuffer: 50,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(totalBytes, alreadyBytes, {
        file,
        done: formatBytes(done),
        size: formatBytes(total),
        speed: '',
      });
    },
    advance(bytes) {
      done += bytes;
      bar?.update(done, { done: formatBytes(done) });
    },
    finish() {
      bar?.update(total, { done: formatBytes(total) });
      bar?.stop();
      bar = undefined;
    },
  };
}

export function formatBytes(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let value = bytes / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : 1)} ${units[unit]}`;
}
