import { inflateSync } from 'fflate';
import { UserError } from '../errors.ts';
import { readExactly, withFile } from './fileRange.ts';

/**
 * The entries of a zip archive located by absolute byte offset, read from its central directory (zip64
 * included). Written by hand because the zip libraries at hand (fflate) unpack entries into memory and never
 * report where an entry's bytes sit in the file; PyTorch checkpoints store their tensors uncompressed, so that
 * offset is what lets a tensor become ONNX external data with no copy.
 */
export interface ZipEntry {
  name: string;
  /** 0 = stored (uncompressed), 8 = deflate; anything else is refused by the readers. */
  method: number;
  compressedSize: number;
  uncompressedSize: number;
  /** Absolute offset of the entry's (compressed) bytes: after its local header and that header's extra field. */
  dataOffset: number;
}

export interface ZipDirectory {
  path: string;
  byteLength: number;
  entries: Map<string, ZipEntry>;
}

const EOCD_SIGNATURE = 0x06054b50;
const ZIP64_LOCATOR_SIGNATURE = 0x07064b50;
const ZIP64_EOCD_SIGNATURE = 0x06064b50;
const CENTRAL_SIGNATURE = 0x02014b50;
const LOCAL_SIGNATURE = 0x04034b50;
const EOCD_BYTES = 22;
const ZIP64_LOCATOR_BYTES = 20;
const ZIP64_EOCD_BYTES = 56;
const CENTRAL_BYTES = 46;
const LOCAL_BYTES = 30;
/** The end record sits in the last 22 bytes plus a comment of at most 65535 bytes. */
const MAX_EOCD_SEARCH = EOCD_BYTES + 0xffff;
const ZIP64_EXTRA_ID = 0x0001;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

/** Reads the central directory and every entry's local header; `what` names the file kind in messages. */
export async function openZipDirectory(path: string, what: string): Promise<ZipDirectory> {
  return withFile(path, async (handle) => {
    const stats = await handle.stat();
    if (!stats.isFile()) throw new UserError(`${path}: not a regular file`);
    const size = stats.size;
    const fail = (problem: string): never => {
      throw new UserError(`${path}: ${problem}`);
    };
    const read = async (offset: number, length: number): Promise<Buffer> => {
      if (offset < 0 || offset + length > size) {
        fail(`the zip directory points past the end of the ${size}-byte file (truncated or corrupt)`);
      }
      const bytes = Buffer.alloc(length);
      await readExactly(handle, bytes, offset, path);
      return bytes;
    };

    const start = size >= 4 ? await read(0, 4) : Buffer.alloc(0);
    const isZip = start.length === 4 && start.readUInt32LE(0) === LOCAL_SIGNATURE;
    const tailLength = Math.min(size, MAX_EOCD_SEARCH);
    const tail = await read(size - tailLength, tailLength);
    const eocdInTail = findEndRecord(tail);
    if (eocdInTail < 0) {
      if (isZip) {
        fail(
          `is truncated: the zip's directory at the end of the file is missing (${size} bytes; an interrupted ` +
            'download?); download or save it again',
        );
      }
      fail(describeNotZip(start, what));
    }
    const eocd = tail.subarray(eocdInTail);
    const eocdOffset = size - tailLength + eocdInTail;
    let count = eocd.readUInt16LE(10);
    let directorySize = eocd.readUInt32LE(12);
    let directoryOffset = eocd.readUInt32LE(16);
    if (count === U16_MAX || directorySize === U32_MAX || directoryOffset === U32_MAX) {
      const zip64 = await readZip64End(read, eocdOffset, fail);
      ({ count, directorySize, directoryOffset } = zip64);
    }
    if (directoryOffset + directorySize > eocdOffset) {
      fail(
        `the zip directory [${directoryOffset}, ${directoryOffset + directorySize}) overlaps its end record ` +
          `at byte ${eocdOffset}; the file is truncated or corrupt`,
      );
    }
    const directory = await read(directoryOffset, directorySize);
    const entries = new Map<string, ZipEntry>();
    let at = 0;
    for (let index = 0; index < count; index++) {
      if (at + CENTRAL_BYTES > directory.length || directory.readUInt32LE(at) !== CENTRAL_SIGNATURE) {
        fail(`zip directory entry ${index} of ${count} is damaged (the file is corrupt)`);
      }
      const { entry, localOffset, next } = parseCentralEntry(directory, at, fail);
      at = next;
      if (entries.has(entry.name)) fail(`the zip holds two entries named "${entry.name}"`);
      entry.dataOffset = await localDataOffset(read, entry.name, localOffset, fail);
      if (entry.dataOffset + entry.compressedSize > directoryOffset) {
        fail(`entry "${entry.name}" runs past the start of the zip directory (the file is corrupt)`);
      }
      entries.set(entry.name, entry);
    }
    return { path, byteLength: size, entries };
  });
}

/** The last end-of-central-directory signature in the tail, or -1. */
function findEndRecord(tail: Buffer): number {
  for (let at = tail.length - EOCD_BYTES; at >= 0; at--) {
    if (
      tail.readUInt32LE(at) === EOCD_SIGNATURE &&
      at + EOCD_BYTES + tail.readUInt16LE(at + 20) <= tail.length
    ) {
      return at;
    }
  }
  return -1;
}

function describeNotZip(start: Buffer, what: string): string {
  // torch.save before PyTorch 1.6 wrote pickles one after another; they begin with PROTO 2 (0x80 0x02).
  if (start[0] === 0x80 && start[1] === 0x02) {
    return (
      `is a ${what} in PyTorch's legacy (pre-1.6) format, which is not read; re-save it with a recent ` +
      'PyTorch (torch.save) or convert it to safetensors'
    );
  }
  return `is not a ${what} (not a zip archive: no zip end-of-directory record)`;
}

type ReadAt = (offset: number, length: number) => Promise<Buffer>;

async function readZip64End(read: ReadAt, eocdOffset: number, fail: (problem: string) => never) {
  if (eocdOffset < ZIP64_LOCATOR_BYTES) fail('the zip64 end-of-directory locator is missing (corrupt file)');
  const locator = await read(eocdOffset - ZIP64_LOCATOR_BYTES, ZIP64_LOCATOR_BYTES);
  if (locator.readUInt32LE(0) !== ZIP64_LOCATOR_SIGNATURE) {
    fail('the zip64 end-of-directory locator is missing (corrupt file)');
  }
  const record = await read(safeNumber(locator.readBigUInt64LE(8), fail), ZIP64_EOCD_BYTES);
  if (record.readUInt32LE(0) !== ZIP64_EOCD_SIGNATURE) fail('the zip64 end-of-directory record is damaged');
  return {
    count: safeNumber(record.readBigUInt64LE(32), fail),
    directorySize: safeNumber(record.readBigUInt64LE(40), fail),
    directoryOffset: safeNumber(record.readBigUInt64LE(48), fail),
  };
}

function parseCentralEntry(directory: Buffer, at: number, fail: (problem: string) => never) {
  const flags = directory.readUInt16LE(at + 8);
  const method = directory.readUInt16LE(at + 10);
  let compressedSize = directory.readUInt32LE(at + 20);
  let uncompressedSize = directory.readUInt32LE(at + 24);
  const nameLength = directory.readUInt16LE(at + 28);
  const extraLength = directory.readUInt16LE(at + 30);
  const commentLength = directory.readUInt16LE(at + 32);
  let localOffset = directory.readUInt32LE(at + 42);
  const next = at + CENTRAL_BYTES + nameLength + extraLength + commentLength;
  if (next > directory.length) fail('the zip directory is cut short (the file is corrupt)');
  const name = directory.toString('utf8', at + CENTRAL_BYTES, at + CENTRAL_BYTES + nameLength);
  if (flags & 1) fail(`entry "${name}" is encrypted`);

  // zip64 fields appear, in this order, only for the 32-bit fields that hold 0xFFFFFFFF.
  const extra = directory.subarray(
    at + CENTRAL_BYTES + nameLength,
    at + CENTRAL_BYTES + nameLength + extraLength,
  );
  for (let e = 0; e + 4 <= extra.length; ) {
    const id = extra.readUInt16LE(e);
    const length = extra.readUInt16LE(e + 2);
    if (id === ZIP64_EXTRA_ID) {
      let field = e + 4;
      const take = (): number => {
        if (field + 8 > e + 4 + length) fail(`entry "${name}" has a short zip64 extra field`);
        const value = safeNumber(extra.readBigUInt64LE(field), fail);
        field += 8;
        return value;
      };
      if (uncompressedSize === U32_MAX) uncompressedSize = take();
      if (compressedSize === U32_MAX) compressedSize = take();
      if (localOffset === U32_MAX) localOffset = take();
    }
    e += 4 + length;
  }
  const entry: ZipEntry = { name, method, compressedSize, uncompressedSize, dataOffset: -1 };
  return { entry, localOffset, next };
}

/** The local header repeats the name and has its own extra field (torch pads there), so its length counts. */
async function localDataOffset(
  read: ReadAt,
  name: string,
  localOffset: number,
  fail: (problem: string) => never,
): Promise<number> {
  const header = await read(localOffset, LOCAL_BYTES);
  if (header.readUInt32LE(0) !== LOCAL_SIGNATURE) {
    fail(`entry "${name}" has no local header at byte ${localOffset} (the file is corrupt)`);
  }
  const nameLength = header.readUInt16LE(26);
  const extraLength = header.readUInt16LE(28);
  const localName = (await read(localOffset + LOCAL_BYTES, nameLength)).toString('utf8');
  if (localName !== name) {
    fail(`entry "${name}" has a local header for "${localName}" (the file is corrupt)`);
  }
  return localOffset + LOCAL_BYTES + nameLength + extraLength;
}

function safeNumber(value: bigint, fail: (problem: string) => never): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a zip64 size or offset (${value}) is out of range`);
  return Number(value);
}

/** An entry's bytes (stored entries as they are, deflated ones inflated); for small records such as data.pkl. */
export async function readZipEntry(zip: ZipDirectory, entry: ZipEntry): Promise<Uint8Array> {
  const bytes = new Uint8Array(entry.compressedSize);
  await withFile(zip.path, (handle) => readExactly(handle, bytes, entry.dataOffset, zip.path));
  if (entry.method === 0) return bytes;
  if (entry.method !== 8) {
    throw new UserError(`${zip.path}: entry "${entry.name}" uses zip compression method ${entry.method}`);
  }
  const inflated = inflateSync(bytes, { out: new Uint8Array(entry.uncompressedSize) });
  if (inflated.byteLength !== entry.uncompressedSize) {
    throw new UserError(
      `${zip.path}: entry "${entry.name}" inflates to the wrong size (the file is corrupt)`,
    );
  }
  return inflated;
}
