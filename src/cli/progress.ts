import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../pipeline/request.ts';

export interface GenerationProgress {
  readonly onProgress: (event: ProgressEvent) => void;
  /** Ends the bar (also after an error, so the terminal's cursor comes back). */
  stop(): void;
}

/**
 * Denoising progress on stderr: a bar over all images' steps when stderr is a terminal, otherwise (a log
 * file, a test) one line per finished image, so logs are not filled with redraws.
 */
export function generationProgress(
  imageCount: number,
  stream: NodeJS.WriteStream = process.stderr,
): GenerationProgress {
  const started = Date.now();
  if (!stream.isTTY) {
    return {
      onProgress(event) {
        if (event.loopIndex + 1 !== event.total) return;
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        stream.write(`image ${event.image + 1}/${imageCount} done (${seconds} s)\n`);
      },
      stop() {},
    };
  }
  const bar = new cliProgress.SingleBar(
    {
      stream,
      // Counted in UNet passes, not --steps: PNDM makes one more pass than it has steps.
      format: 'image {image}/{images} |{bar}| {value}/{total} | {duration_formatted}, ETA {eta_formatted}',
      hideCursor: false, // a hidden cursor would stay hidden after Ctrl-C
      clearOnComplete: false,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  return {
    onProgress(event) {
      const done = event.image * event.total + event.loopIndex + 1;
      const payload = { image: event.image + 1, images: imageCount };
      if (!running) {
        bar.start(imageCount * event.total, done, payload);
        running = true;
      } else {
        bar.update(done, payload);
      }
    },
    stop() {
      if (running) bar.stop();
      running = false;
    },
  };
}
