import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { parseHeader, parseHeaderLength } from '../../src/weights/safetensorsHeader.ts';
import { FUZZ_TIMEOUT_MS, RUNS } from './fuzzRuns.ts';

/** Parses a whole file's bytes the way openSafetensors does, without the disk. */
function parseFile(bytes: Uint8Array): void {
  const length = parseHeaderLength('f', bytes.subarray(0, 8), bytes.byteLength);
  parseHeader('f', bytes.subarray(8, 8 + length), bytes.byteLength);
}

function validFile(): Uint8Array {
  const header = Buffer.from(
    JSON.stringify({
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] },
      b: { dtype: 'F16', shape: [3], data_offsets: [16, 22] },
    }),
  );
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(header.byteLength));
  return new Uint8Array(Buffer.concat([prefix, header, Buffer.alloc(22)]));
}

/** Either it loads or it fails with the project's own one-line UserError naming the file. */
function loadsOrRefuses(bytes: Uint8Array): void {
  try {
    parseFile(bytes);
  } catch (error) {
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message.startsWith('f: ')).toBe(true);
    expect((error as Error).message).not.toContain('\n');
  }
}

describe('the safetensors header reader never crashes', { timeout: FUZZ_TIMEOUT_MS }, () => {
  it(`on random bytes (${RUNS} cases)`, () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 256 }), loadsOrRefuses), { numRuns: RUNS });
  });

  it(`on a valid file with bytes changed, inserted or cut (${RUNS} cases)`, () => {
    const valid = validFile();
    const mutation = fc.oneof(
      fc.record({
        kind: fc.constant('set'),
        at: fc.nat(valid.length - 1),
        value: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant('cut'), at: fc.nat(valid.length), value: fc.constant(0) }),
      fc.record({
        kind: fc.constant('insert'),
        at: fc.nat(valid.length),
        value: fc.integer({ min: 0, max: 255 }),
      }),
    );
    fc.assert(
      fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), (mutations) => {
        let bytes = Array.from(valid);
        for (const { kind, at, value } of mutations) {
          if (kind === 'set') bytes[Math.min(at, bytes.length - 1)] = value;
          else if (kind === 'cut') bytes = bytes.slice(0, at);
          else bytes.splice(at, 0, value);
        }
        loadsOrRefuses(Uint8Array.from(bytes));
      }),
      { numRuns: RUNS },
    );
  });

  it(`on JSON headers of any shape (${RUNS} cases)`, () => {
    fc.assert(
      fc.property(fc.json(), fc.nat(64), (json, dataLength) => {
        const header = Buffer.from(json);
        const prefix = Buffer.alloc(8);
        prefix.writeBigUInt64LE(BigInt(header.byteLength));
        loadsOrRefuses(new Uint8Array(Buffer.concat([prefix, header, Buffer.alloc(dataLength)])));
      }),
      { numRuns: RUNS },
    );
  });

  // The latents fuzzer's find, here at the source: a name read from the header (JSON may escape a newline or a
  // quote into it) is quoted with JSON escapes, and a name of megabytes is cut.
  it('keeps names with newlines, quotes or megabytes on one short line', () => {
    const header = (names: string[]) => {
      const text = Buffer.from(JSON.stringify(Object.fromEntries(names.map((name) => [name, 1]))));
      const prefix = Buffer.alloc(8);
      prefix.writeBigUInt64LE(BigInt(text.byteLength));
      return new Uint8Array(Buffer.concat([prefix, text]));
    };
    expect(() => parseFile(header(['a\nb']))).toThrow('f: entry "a\\nb" is not an object');
    expect(() => parseFile(header(['say "hi"']))).toThrow('f: entry "say \\"hi\\"" is not an object');
    const long = 'x'.repeat(1_000_000);
    expect(() => parseFile(header([long]))).toThrow(
      /^f: entry "x{77}…" \(1000000 characters\) is not an object$/,
    );
    for (const name of ['a\nb', 'a\r\nb', long]) loadsOrRefuses(header([name]));
  });
});
