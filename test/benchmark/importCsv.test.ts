import { describe, expect, it } from 'vitest';
import { CsvError, parseCsv } from '../../src/benchmark/promptSetCsv.ts';

function csvError(text: string): string {
  try {
    parseCsv(text);
  } catch (error) {
    expect(error).toBeInstanceOf(CsvError);
    return (error as CsvError).message;
  }
  throw new Error(`no error for ${JSON.stringify(text)}`);
}

describe('the CSV reader of dnb benchmark import (RFC 4180)', () => {
  it('reads quoted commas, doubled quotes, newlines inside quotes and CRLF, with each row’s first line', () => {
    const text = 'prompt,token_indices\r\n"a cat, a dog","2,5"\r\n\r\n"say ""cheese""\nplease",\nlast,7';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['prompt', 'token_indices'] },
      { line: 2, fields: ['a cat, a dog', '2,5'] },
      { line: 4, fields: ['say "cheese"\nplease', ''] },
      { line: 6, fields: ['last', '7'] },
    ]);
    expect(parseCsv('a,b\n')).toEqual([{ line: 1, fields: ['a', 'b'] }]);
    expect(parseCsv('')).toEqual([]);
  });

  it('refuses bad quoting with the line it is on', () => {
    expect(csvError('prompt\n"a cat\nand a dog')).toBe(
      'line 2: a quoted field is never closed (a " is missing)',
    );
    expect(csvError('prompt\n"a cat" and a dog\n')).toBe(
      'line 2: text after a closing quote; write a quote inside a quoted field as ""',
    );
    expect(csvError('prompt\na "cat"\n')).toBe(
      'line 2: a quote inside an unquoted field; put the field in quotes and double the quote',
    );
  });
});
