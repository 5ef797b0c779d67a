import { jsonSyntaxReason, UserError } from '../errors.ts';
import { type Dtype, dtypeSize, elementCount, isDtype, SAFETENSORS_DTYPES } from './dtypes.ts';

/** One tensor of a safetensors file, located by absolute byte offset so other tools can point at it. */
export interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  /** Offset of the first byte from the start of the file. */
  byteOffset: number;
  byteLength: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  /** Offset of the data section (8 + header length). */
  dataOffset: number;
}

/** Header lengths above this are refused as corrupt: real headers are well under 10 MB. */
export const MAX_HEADER_BYTES = 100_000_000;

export const HEADER_LENGTH_BYTES = 8;

/** Reads and checks the 8-byte little-endian header length, before any more of the file is read. */
export function parseHeaderLength(path: string, prefix: Uint8Array, fileSize: number): number {
  if (fileSize < HEADER_LENGTH_BYTES) {
    throw new UserError(
      `${path}: not a safetensors file (only ${fileSize} bytes; the file is truncated or empty)`,
    );
  }
  const length = Buffer.from(prefix.buffer, prefix.byteOffset, HEADER_LENGTH_BYTES).readBigUInt64LE(0);
  if (length > BigInt(MAX_HEADER_BYTES)) {
    throw new UserError(
      `${path}: header length ${length} exceeds the ${MAX_HEADER_BYTES}-byte limit; ` +
        'this is not a safetensors file or it is corrupt',
    );
  }
  const headerLength = Number(length);
  if (HEADER_LENGTH_BYTES + headerLength > fileSize) {
    throw new UserError(
      `${path}: header length ${headerLength} runs past the end of the ${fileSize}-byte file; ` +
        'the file is truncated (an interrupted download?) or not a safetensors file',
    );
  }
  return headerLength;
}

/** Parses the JSON header and checks every entry against the file's data section. */
export function parseHeader(path: string, headerBytes: Uint8Array, fileSize: number): SafetensorsHeader {
  const fail = (problem: string): never => {
    throw new UserError(`${path}: ${problem}`);
  };
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(headerBytes));
  } catch (err) {
    fail(`header is not valid JSON (${jsonSyntaxReason(err)}); the file is corrupt or not safetensors`);
  }
  if (!isPlainObject(json)) fail('header is not a JSON object');
  const dataOffset = HEADER_LENGTH_BYTES + headerBytes.byteLength;
  const dataSize = fileSize - dataOffset;
  let metadata: Record<string, string> = {};
  const tensors = new Map<string, TensorInfo>();
  const ranges: { name: string; begin: number; end: number }[] = [];

  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(entry, fail);
      continue;
    }
    if (!isPlainObject(entry)) fail(`entry ${quotedName(name)} is not an object`);
    const { dtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    if (typeof dtype !== 'string' || !isDtype(dtype)) {
      fail(
        `tensor ${quotedName(name)} has unknown dtype ${JSON.stringify(dtype)} ` +
          `(known: ${Object.keys(SAFETENSORS_DTYPES).join(', ')})`,
      );
    }
    if (!Array.isArray(shape) || !shape.every(isNonNegativeInteger)) {
      fail(`tensor ${quotedName(name)} has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isNonNegativeInteger) ||
      offsets[0] > offsets[1]
    ) {
      fail(`tensor ${quotedName(name)} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataSize) {
      fail(
        `tensor ${quotedName(name)} data_offsets [${begin}, ${end}] lie outside the ${dataSize}-byte data section ` +
          '(the file is truncated or corrupt)',
      );
    }
    const expected = elementCount(shape as number[]) * dtypeSize(dtype as Dtype);
    if (end - begin !== expected) {
      fail(
        `tensor ${quotedName(name)} has ${end - begin} bytes but shape ${JSON.stringify(shape)} of ${dtype} ` +
          `needs ${expected}`,
      );
    }
    tensors.set(name, {
      name,
      dtype: dtype as Dtype,
      shape: [...(shape as number[])],
      byteOffset: dataOffset + begin,
      byteLength: end - begin,
    });
    ranges.push({ name, begin, end });
  }

  checkTiling(ranges, dataSize, fail);
  return { metadata, tensors, dataOffset };
}

/**
 * The tensors must tile the data section exactly: sorted by offsets, each starts where the previous one ended,
 * the first at 0 and the last at the end. The reference implementation (safetensors' `Metadata::validate`)
 * refuses anything else, and a header whose length is off by a byte shows up here as a gap or trailing bytes
 * instead of loading byte-shifted weights.
 */
function checkTiling(
  ranges: { name: string; begin: number; end: number }[],
  dataSize: number,
  fail: (problem: string) => never,
): void {
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let previous: (typeof ranges)[number] | undefined;
  let cursor = 0;
  for (const current of ranges) {
    if (current.begin < cursor && previous) {
      fail(
        `tensors ${quotedName(previous.name)} [${previous.begin}, ${previous.end}] and ${quotedName(current.name)} ` +
          `[${current.begin}, ${current.end}] overlap`,
      );
    }
    if (current.begin > cursor) {
      const after = previous
        ? `after tensor ${quotedName(previous.name)} `
        : 'at the start of the data section ';
      fail(
        `bytes [${cursor}, ${current.begin}] ${after}belong to no tensor; the header does not match the data ` +
          '(a corrupt file or a wrong header length)',
      );
    }
    cursor = current.end;
    previous = current;
  }
  if (cursor !== dataSize) {
    fail(
      `the tensors end at byte ${cursor} of the ${dataSize}-byte data section; ${dataSize - cursor} trailing ` +
        'bytes belong to no tensor (a corrupt file or a wrong header length)',
    );
  }
}

function parseMetadata(entry: unknown, fail: (problem: string) => never): Record<string, string> {
  if (!isPlainObject(entry)) return fail('__metadata__ is not an object');
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
    if (typeof value !== 'string') fail(`__metadata__ value of ${quotedName(key)} is not a string`);
    metadata[key] = value as string;
  }
  return metadata;
}

/**
 * A name read from a file, quoted for a one-line message: JSON escapes keep a newline or a quote in a tensor
 * name from breaking the line (`"late\\nts"`), and a name of megabytes is cut.
 */
export function quotedName(name: string, maxChars = 80): string {
  const quoted = JSON.stringify(name);
  return quoted.length <= maxChars
    ? quoted
    : `${quoted.slice(0, maxChars - 2)}…" (${name.length} characters)`;
}

function isPlainObject(value: unknown): boolean {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
