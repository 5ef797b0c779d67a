/**
 * CSV as RFC 4180 writes it: comma-separated fields, a field in double quotes may hold commas, newlines and
 * doubled quotes (""), CRLF or LF line ends. Written here because the project has no CSV dependency and an
 * import needs only this much: a parser that refuses bad quoting with its line number instead of guessing.
 */

/** A CSV file that is not well-formed; `line` is 1-based. */
export class CsvError extends Error {
  override name = 'CsvError';
  constructor(
    readonly line: number,
    problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

export interface CsvRow {
  /** The line the row starts on (1-based). */
  line: number;
  fields: string[];
}

/** The rows of a CSV text, blank lines left out. */
export function parseCsv(text: string): CsvRow[] {
  const rows: CsvRow[] = [];
  let line = 1;
  let i = 0;
  while (i < text.length) {
    const start = line;
    const fields: string[] = [];
    let ended = false;
    while (!ended) {
      let field = '';
      if (text[i] === '"') {
        i += 1;
        for (;;) {
          if (i >= text.length) throw new CsvError(start, 'a quoted field is never closed (a " is missing)');
          const char = text[i];
          if (char === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i += 1;
            break;
          }
          if (char === '\n') line += 1;
          field += char;
          i += 1;
        }
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\n' && !(next === '\r' && text[i + 1] === '\n')) {
          throw new CsvError(line, 'text after a closing quote; write a quote inside a quoted field as ""');
        }
      } else {
        while (
          i < text.length &&
          text[i] !== ',' &&
          text[i] !== '\n' &&
          !(text[i] === '\r' && text[i + 1] === '\n')
        ) {
          if (text[i] === '"') {
            throw new CsvError(
              line,
              'a quote inside an unquoted field; put the field in quotes and double the quote',
            );
          }
          field += text[i];
          i += 1;
        }
      }
      fields.push(field);
      if (text[i] === ',') {
        i += 1;
      } else {
        if (text[i] === '\r') i += 1;
        if (text[i] === '\n') {
          i += 1;
          line += 1;
        }
        ended = true;
      }
    }
    const blank = fields.length === 1 && fields[0].trim() === '';
    if (!blank) rows.push({ line: start, fields });
  }
  return rows;
}
