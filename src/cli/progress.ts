import cliProgress from 'cli-progress';
import type { ProgressEvent } from '../pipeline/request.ts';

export interface GenerationProgress {
  readonly onProgress: (event: ProgressEvent) => void;
  /**
   * Ends the bar for good (also after an error or an interrupt, so the terminal's line wrapping, which the bar
   * turns off while it draws, comes back); later events are ignored.
   */
  stop(): void;
}

/** The terminal control sequence that turns line wrapping back on (DECAWM). */
export const LINE_WRAP_ON = '\x1b[?7h';

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
  let stopped = false;
  // A process that ends without stop() (a second Ctrl-C exits at once) still gives the terminal back.
  const restoreOnExit = () => stream.write(LINE_WRAP_ON);
  return {
    onProgress(event) {
      if (stopped) return;
      const done = event.image * event.total + event.loopIndex + 1;
      const payload = { image: event.image + 1, images: imageCount };
      if (!running) {
        bar.start(imageCount * event.total, done, payload);
        process.once('exit', restoreOnExit);
        running = true;
      } else {
        bar.update(done, payload);
      }
    },
    stop() {
      stopped = true;
      if (!running) return;
      bar.stop();
      process.off('exit', restoreOnExit);
      running = false;
    },
  };
}
