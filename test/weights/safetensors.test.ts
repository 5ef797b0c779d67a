import { readFile, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { float32ToBfloat16, float32ToFloat16 } from '../../src/weights/halfFloat.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { useTempDirs } from './tempDir.ts';

const tempDir = useTempDirs();

/** A safetensors file built byte by byte, independent of the writer under test. */
function rawSafetensors(header: unknown, data: Uint8Array, headerLength?: bigint): Buffer {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(headerLength ?? BigInt(json.byteLength));
  return Buffer.concat([prefix, json, data]);
}

async function writeRaw(bytes: Uint8Array): Promise<string> {
  const path = join(await tempDir(), 'model.safetensors');
  await writeFile(path, bytes);
  return path;
}

describe('openSafetensors', () => {
  it('reads a hand-built file: metadata, absolute offsets, F32 and F16 values', async () => {
    const f32 = new Float32Array([1.5, -2, 3.25]);
    const f16 = new Uint16Array([0x3c00, 0xc000, 0x0001, 0x7c00]); // 1, -2, 2^-24, Inf
    const data = Buffer.concat([Buffer.from(f32.buffer), Buffer.from(f16.buffer)]);
    const header = {
      __metadata__: { format: 'pt' },
      a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] },
      b: { dtype: 'F16', shape: [2, 2], data_offsets: [12, 20] },
    };
    const bytes = rawSafetensors(header, data);
    const file = await openSafetensors(await writeRaw(bytes));
    const headerLength = bytes.readUInt32LE(0);
    expect(file.metadata).toEqual({ format: 'pt' });
    expect(file.tensors.get('a')).toEqual({
      name: 'a',
      dtype: 'F32',
      shape: [3],
      byteOffset: 8 + headerLength,
      byteLength: 12,
    });
    expect(file.tensors.get('b')!.byteOffset).toBe(8 + headerLength + 12);
    expect(Array.from(await file.readFloat32('a'))).toEqual([1.5, -2, 3.25]);
    expect(Array.from(await file.readFloat32('b'))).toEqual([1, -2, 2 ** -24, Infinity]);
    expect(Array.from(await file.readTyped('b', 'F16'))).toEqual(Array.from(f16));
    expect(file.byteLength).toBe(bytes.byteLength);
  });

  it('round-trips every dtype through the writer and the reader', async () => {
    const path = join(await tempDir(), 'all.safetensors');
    const values = [0, 1, -1.5, 65504, 2 ** -14, 3.140625];
    await writeSafetensors(
      path,
      {
        f64: { dtype: 'F64', shape: [6], data: Float64Array.from(values) },
        f32: { dtype: 'F32', shape: [2, 3], data: Float32Array.from(values) },
        f16: { dtype: 'F16', shape: [6], data: float32ToFloat16(values) },
        bf16: {
          dtype: 'BF16',
          shape: [3, 2],
          data: float32ToBfloat16([0, 1, -1.5, 65536, 2 ** -14, 3.140625]),
        },
        i64: { dtype: 'I64', shape: [2], data: BigInt64Array.from([-(2n ** 62n), 7n]) },
        i32: { dtype: 'I32', shape: [1], data: Int32Array.from([-5]) },
        i16: { dtype: 'I16', shape: [1], data: Int16Array.from([-300]) },
        i8: { dtype: 'I8', shape: [1], data: Int8Array.from([-7]) },
        u8: { dtype: 'U8', shape: [2], data: Uint8Array.from([0, 255]) },
        bool: { dtype: 'BOOL', shape: [2], data: Uint8Array.from([1, 0]) },
        empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
        lazy: { dtype: 'F32', shape: [2], data: () => Float32Array.from([4, 5]) },
      },
      { metadata: { format: 'pt', note: 'test' } },
    );
    const file = await openSafetensors(path);
    expect(file.metadata).toEqual({ format: 'pt', note: 'test' });
    expect(Array.from(await file.readFloat32('f64'))).toEqual(values);
    expect(Array.from(await file.readFloat32('f32'))).toEqual(values);
    expect(Array.from(await file.readFloat32('f16'))).toEqual(values);
    expect(Array.from(await file.readFloat32('bf16'))).toEqual([0, 1, -1.5, 65536, 2 ** -14, 3.140625]);
    expect(Array.from(await file.readTyped('i64', 'I64'))).toEqual([-(2n ** 62n), 7n]);
    expect(Array.from(await file.readTyped('i32', 'I32'))).toEqual([-5]);
    expect(Array.from(await file.readTyped('i16', 'I16'))).toEqual([-300]);
    expect(Array.from(await file.readTyped('i8', 'I8'))).toEqual([-7]);
    expect(Array.from(await file.readTyped('u8', 'U8'))).toEqual([0, 255]);
    expect(Array.from(await file.readTyped('bool', 'BOOL'))).toEqual([1, 0]);
    expect(await file.readFloat32('empty')).toHaveLength(0);
    expect(Array.from(await file.readFloat32('lazy'))).toEqual([4, 5]);
    expect(file.tensors.get('f32')!.shape).toEqual([2, 3]);
    // Largest elements first and an 8-byte aligned data section: every tensor is aligned.
    for (const info of file.tensors.values()) {
      const size =
        info.byteLength /
        Math.max(
          1,
          info.shape.reduce((a, b) => a * b, 1),
        );
      if (info.byteLength > 0) expect(info.byteOffset % size).toBe(0);
    }
    expect((await readFile(path)).readUInt32LE(0) % 8).toBe(0);
  });

  it('refuses integer tensors in readFloat32 and a wrong dtype in readTyped', async () => {
    const path = join(await tempDir(), 'ints.safetensors');
    await writeSafetensors(path, { ids: { dtype: 'I64', shape: [1], data: BigInt64Array.from([3n]) } });
    const file = await openSafetensors(path);
    await expect(file.readFloat32('ids')).rejects.toThrow(/"ids" has dtype I64, which is not a floating/);
    await expect(file.readTyped('ids', 'F32')).rejects.toThrow(/has dtype I64, expected F32/);
    await expect(file.readRaw('nope')).rejects.toThrow(/no tensor named "nope"/);
  });

  it('reads only the header when opening, not the tensor data', async () => {
    // A 3 GiB file, sparse on disk: opening it by reading the whole file would fail (Node's readFile stops
    // at 2 GiB) or allocate gigabytes, while the header read and one small tensor read take milliseconds.
    const path = join(await tempDir(), 'big.safetensors');
    const big = 3 * 2 ** 30;
    const header = {
      small: { dtype: 'F32', shape: [2], data_offsets: [0, 8] },
      big: { dtype: 'F32', shape: [big / 4], data_offsets: [8, 8 + big] },
    };
    const start = rawSafetensors(header, new Uint8Array(Float32Array.of(1.5, -2).buffer));
    await writeFile(path, start);
    await truncate(path, start.byteLength + big);
    const file = await openSafetensors(path);
    expect(file.tensors.get('big')?.byteLength).toBe(big);
    expect(Array.from(await file.readFloat32('small'))).toEqual([1.5, -2]);
  });
});

describe('malformed safetensors files give clear errors naming the file', () => {
  const tensor = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };

  const cases: [string, () => Buffer, RegExp][] = [
    ['an empty file', () => Buffer.alloc(0), /only 0 bytes; the file is truncated or empty/],
    ['a file shorter than the header length', () => Buffer.from([1, 2, 3]), /only 3 bytes/],
    [
      'a truncated header',
      () => rawSafetensors({ x: tensor }, new Uint8Array(8)).subarray(0, 20),
      /header length \d+ runs past the end of the 20-byte file; the file is truncated/,
    ],
    [
      'truncated tensor data',
      () => rawSafetensors({ x: tensor }, new Uint8Array(4)),
      /"x" data_offsets \[0, 8\] lie outside the 4-byte data section/,
    ],
    [
      'a huge header length',
      () => rawSafetensors({ x: tensor }, new Uint8Array(8), 2n ** 40n),
      /header length 1099511627776 exceeds the 100000000-byte limit/,
    ],
    ['bad JSON', () => rawSafetensors('{"x": {', new Uint8Array(0)), /header is not valid JSON/],
    [
      // Found by test/fuzz: V8's message quotes the text around the error, newline included.
      'bad JSON with a newline in it',
      () => rawSafetensors('{"x":\n\u0001}', new Uint8Array(0)),
      /^[^\n]*header is not valid JSON [^\n]*$/,
    ],
    ['a JSON array header', () => rawSafetensors('[1,2]', new Uint8Array(0)), /header is not a JSON object/],
    ['a non-object entry', () => rawSafetensors({ x: 5 }, new Uint8Array(0)), /entry "x" is not an object/],
    [
      'an unknown dtype',
      () => rawSafetensors({ x: { ...tensor, dtype: 'F12' } }, new Uint8Array(8)),
      /"x" has unknown dtype "F12" \(known: F64, F32, F16, BF16/,
    ],
    [
      'a size that does not match the shape',
      () => rawSafetensors({ x: { ...tensor, shape: [3] } }, new Uint8Array(8)),
      /"x" has 8 bytes but shape \[3\] of F32 needs 12/,
    ],
    [
      'overlapping tensors',
      () =>
        rawSafetensors(
          { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { ...tensor, data_offsets: [8, 16] } },
          new Uint8Array(16),
        ),
      /tensors "a" \[0, 16\] and "b" \[8, 16\] overlap/,
    ],
    [
      'reversed data_offsets',
      () => rawSafetensors({ x: { ...tensor, data_offsets: [8, 0] } }, new Uint8Array(8)),
      /"x" has invalid data_offsets \[8,0\]/,
    ],
    [
      'a negative shape',
      () => rawSafetensors({ x: { ...tensor, shape: [-2] } }, new Uint8Array(8)),
      /"x" has an invalid shape \[-2\]/,
    ],
    [
      'a gap between tensors',
      () =>
        rawSafetensors(
          { a: { ...tensor, data_offsets: [0, 8] }, b: { ...tensor, data_offsets: [12, 20] } },
          new Uint8Array(20),
        ),
      /bytes \[8, 12\] after tensor "a" belong to no tensor/,
    ],
    [
      'data before the first tensor',
      () => rawSafetensors({ x: { ...tensor, data_offsets: [4, 12] } }, new Uint8Array(12)),
      /bytes \[0, 4\] at the start of the data section belong to no tensor/,
    ],
    [
      'trailing bytes after the last tensor',
      () => rawSafetensors({ x: tensor }, new Uint8Array(9)),
      /the tensors end at byte 8 of the 9-byte data section; 1 trailing bytes belong to no tensor/,
    ],
    [
      'a header length one byte short (the data section shifted by one byte)',
      // Padding spaces keep the JSON valid, so only the tiling check sees that the data moved.
      () =>
        rawSafetensors(
          `${JSON.stringify({ x: tensor })}  `,
          new Uint8Array(8),
          BigInt(JSON.stringify({ x: tensor }).length + 1),
        ),
      /the tensors end at byte 8 of the 9-byte data section/,
    ],
    [
      'an empty tensor inside another one',
      () =>
        rawSafetensors(
          {
            a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] },
            e: { ...tensor, shape: [0], data_offsets: [8, 8] },
          },
          new Uint8Array(16),
        ),
      /tensors "a" \[0, 16\] and "e" \[8, 8\] overlap/,
    ],
    [
      'non-string metadata',
      () => rawSafetensors({ __metadata__: { n: 1 }, x: tensor }, new Uint8Array(8)),
      /__metadata__ value of "n" is not a string/,
    ],
  ];

  for (const [what, build, message] of cases) {
    it(`rejects ${what}`, async () => {
      const path = await writeRaw(build());
      const error = await openSafetensors(path).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(UserError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message.startsWith(`${path}: `)).toBe(true);
    });
  }

  it('rejects a missing file and a directory', async () => {
    const dir = await tempDir();
    await expect(openSafetensors(join(dir, 'none.safetensors'))).rejects.toThrow(
      /none.safetensors: file not found/,
    );
    await expect(openSafetensors(dir)).rejects.toThrow(UserError);
  });
});

describe('writeSafetensors', () => {
  it('does not overwrite an existing file unless asked, and leaves no temporary files', async () => {
    const dir = await tempDir();
    const path = join(dir, 'latents.safetensors');
    await writeFile(path, 'precious');
    const tensors = { z: { dtype: 'F32' as const, shape: [1], data: Float32Array.from([1]) } };
    await expect(writeSafetensors(path, tensors)).rejects.toThrow(/latents.safetensors already exists/);
    expect(await readFile(path, 'utf8')).toBe('precious');
    await writeSafetensors(path, tensors, { overwrite: true });
    expect(Array.from(await (await openSafetensors(path)).readFloat32('z'))).toEqual([1]);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual(['latents.safetensors']);
  });

  it('rejects data that does not match the dtype or the shape, writing nothing', async () => {
    const dir = await tempDir();
    const path = join(dir, 'bad.safetensors');
    await expect(
      writeSafetensors(path, { x: { dtype: 'F16', shape: [2], data: Float32Array.from([1, 2]) } }),
    ).rejects.toThrow(/"x" of dtype F16 was given a Float32Array/);
    await expect(
      writeSafetensors(path, { x: { dtype: 'F32', shape: [3], data: Float32Array.from([1, 2]) } }),
    ).rejects.toThrow(/"x" has 2 values but shape \[3\] needs 3/);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(dir)).toEqual([]);
  });
});
