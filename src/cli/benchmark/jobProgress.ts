import cliProgress from 'cli-progress';

export interface JobProgress {
  /** One job finished (stored or failed); `line` is said when stderr is not a terminal. */
  tick(line: string): void;
  stop(): void;
}

/**
 * Benchmark progress on stderr: images done of the run, the rate and the ETA, on a bar when stderr is a
 * terminal, else one line per job (a log file, a test).
 */
export function jobProgress(
  done: number,
  expected: number,
  stream: NodeJS.WriteStream = process.stderr,
): JobProgress {
  const started = Date.now();
  let count = done;
  if (!stream.isTTY) {
    return {
      tick(line) {
        count++;
        const rate = (count - done) / ((Date.now() - started) / 1000);
        stream.write(`[${count}/${expected}] ${line} (${rate.toFixed(2)} images/s)\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: 'images |{bar}| {value}/{total} | {rate} images/s | {duration_formatted}, ETA {eta_formatted}',
      hideCursor: false, // a hidden cursor would stay hidden after Ctrl-C
      clearOnComplete: false,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(expected, done, { rate: '0.00' });
  return {
    tick() {
      count++;
      bar.update(count, { rate: ((count - done) / ((Date.now() - started) / 1000)).toFixed(2) });
    },
    stop() {
      bar.stop();
    },
  };
}
