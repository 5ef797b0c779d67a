/**
 * Parses JSON written by Python's `json.dump`, which writes non-finite floats as the bare tokens
 * `NaN`, `Infinity` and `-Infinity` (diffusers does, e.g. DPM-Solver's `lambda_min_clipped`).
 * Those tokens outside strings become numbers; everything else is standard JSON.
 */
export function parsePythonJson(text: string): unknown {
  const marker = '\u0000nonfinite:';
  let out = '';
  let i = 0;
  while (i < text.length) {
    const c = text[i];
    if (c === '"') {
      const end = endOfString(text, i);
      out += text.slice(i, end);
      i = end;
      continue;
    }
    const token = /^(-?Infinity|NaN)/.exec(text.slice(i, i + 9));
    if (token) {
      out += JSON.stringify(marker + token[1]);
      i += token[1].length;
      continue;
    }
    out += c;
    i++;
  }
  return JSON.parse(out, (_key, value) => {
    if (typeof value === 'string' && value.startsWith(marker)) return Number(value.slice(marker.length));
    return value;
  });
}

/** Index just past the closing quote of the string starting at `start`. */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}
