import { describe, expect, it } from 'vitest';
import { generationProgress, LINE_WRAP_ON } from '../../src/cli/progress.ts';

/** A stand-in for a terminal's stderr that records what the bar writes. */
function fakeTerminal() {
  const written: string[] = [];
  const stream = {
    isTTY: true,
    columns: 100,
    write(text: string) {
      written.push(text);
      return true;
    },
    cursorTo() {
      return true;
    },
    clearLine() {
      return true;
    },
    moveCursor() {
      return true;
    },
    on() {
      return stream;
    },
    removeListener() {
      return stream;
    },
  };
  return { stream: stream as unknown as NodeJS.WriteStream, text: () => written.join('') };
}

describe('the progress bar gives the terminal back', () => {
  it('turns line wrapping off while it draws and on again when stopped (as after Ctrl-C)', () => {
    const terminal = fakeTerminal();
    const progress = generationProgress(3, terminal.stream);
    progress.onProgress({ image: 0, loopIndex: 0, total: 10 });
    expect(terminal.text()).toContain('\x1b[?7l');
    progress.stop();
    expect(terminal.text().lastIndexOf(LINE_WRAP_ON)).toBeGreaterThan(
      terminal.text().lastIndexOf('\x1b[?7l'),
    );
  });

  it('stays stopped: a step that finishes after an interrupt does not redraw the bar', () => {
    const terminal = fakeTerminal();
    const progress = generationProgress(3, terminal.stream);
    progress.onProgress({ image: 0, loopIndex: 0, total: 10 });
    progress.stop();
    const before = terminal.text();
    progress.onProgress({ image: 0, loopIndex: 1, total: 10 });
    expect(terminal.text()).toBe(before);
    progress.stop();
  });
});
