import { readFileSync } from 'node:fs';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { unzipSync, type Zippable, zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import * as G from '../../src/graph/index.ts';
import { ModelParameters } from '../../src/models/parameters.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import type { Dtype } from '../../src/weights/dtypes.ts';
import { PickleError, unpickle } from '../../src/weights/pickle.ts';
import { openPytorchCheckpoint, selectStateDict } from '../../src/weights/pytorchCheckpoint.ts';
import { torchStateDictPolicy } from '../../src/weights/pytorchCheckpointPickle.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { openComponentWeights } from '../../src/weights/weightIndex.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { useTempDirs } from './tempDir.ts';

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '../fixtures');
/** Written by test/fixtures/weights/pytorch/make_checkpoints.py, whose docstring lists what each holds. */
const PYTORCH = join(FIXTURES, 'weights/pytorch');
const CLIP = join(FIXTURES, 'eval/clip-tiny/model.safetensors');
const SUBSET = join(PYTORCH, 'clip-text-subset.bin');
const tempDir = useTempDirs();

/** The tensors clip-text-subset.bin adds to the ones it copies from clip-tiny. */
const ONLY_IN_SUBSET = ['text_model.embeddings.position_ids'];

/** make_checkpoints.py's dtype_values: the formula the dtypes.bin tensors were written from. */
function dtypeValues(dtype: Dtype, n: number): number[] {
  return Array.from({ length: n }, (_, i) => {
    if (dtype === 'U8') return (i * 7) % 256;
    if (dtype === 'BOOL') return i % 3 === 0 ? 1 : 0;
    if (dtype.startsWith('F') || dtype === 'BF16') return (i - 5) * 0.25;
    return i * 3 - 7;
  });
}

async function expectSameTensors(binPath: string, options: { expectedCount: number }) {
  const bin = await openPytorchCheckpoint(binPath);
  const reference = await openSafetensors(CLIP);
  const copied = [...bin.tensors.keys()].filter((name) => !ONLY_IN_SUBSET.includes(name));
  expect(copied).toHaveLength(options.expectedCount);
  const fileBytes = await readFile(binPath);
  for (const name of copied) {
    const ours = bin.tensors.get(name)!;
    const theirs = reference.tensors.get(name)!;
    expect([name, ours.dtype, ours.shape]).toEqual([name, theirs.dtype, theirs.shape]);
    // Every value bit for bit (measured: identical, as the bytes were copied, not converted).
    expect(Buffer.from(await bin.readRaw(name))).toEqual(Buffer.from(await reference.readRaw(name)));
    expect(await bin.readFloat32(name)).toEqual(await reference.readFloat32(name));
    // The offset is absolute in the .bin file, so ONNX external data can point at it.
    const inPlace = fileBytes.subarray(ours.byteOffset, ours.byteOffset + ours.byteLength);
    expect(inPlace.equals(Buffer.from(await reference.readRaw(name)))).toBe(true);
  }
  return bin;
}

describe('openPytorchCheckpoint on torch.save files', () => {
  it('reads every tensor of a torch.save state dict equal to the safetensors it was made from', async () => {
    const bin = await expectSameTensors(SUBSET, { expectedCount: 37 });
    // torch pads each record to 64 bytes in its local header (not in the central directory).
    for (const info of bin.tensors.values()) expect(info.byteOffset % 64).toBe(0);
    // q, k and v are views at element offsets 0, 1024 and 2048 of one storage.
    const at = (p: string) => bin.tensors.get(`text_model.encoder.layers.0.self_attn.${p}_proj.weight`)!;
    expect([at('k').byteOffset - at('q').byteOffset, at('v').byteOffset - at('q').byteOffset]).toEqual([
      4096, 8192,
    ]);
    expect(bin.tensors.get('logit_scale')!.shape).toEqual([]);
    const positions = await bin.readTyped('text_model.embeddings.position_ids', 'I64');
    expect(bin.tensors.get('text_model.embeddings.position_ids')!.shape).toEqual([1, 77]);
    expect(Array.from(positions, Number)).toEqual(Array.from({ length: 77 }, (_, i) => i));
    expect(bin.byteLength).toBe((await stat(SUBSET)).size);
  });

  it('reads the same file written with zip64 records (sizes, offsets and the end record)', async () => {
    const zip64 = await readFile(join(PYTORCH, 'clip-text-subset-zip64.bin'));
    expect(zip64.includes(Buffer.from([0x50, 0x4b, 0x06, 0x06]))).toBe(true); // zip64 end record present
    await expectSameTensors(join(PYTORCH, 'clip-text-subset-zip64.bin'), { expectedCount: 37 });
  });

  it('reads every storage dtype, views at a storage offset and unit dimensions with any stride', async () => {
    const file = await openPytorchCheckpoint(join(PYTORCH, 'dtypes.bin'));
    const dtypes: Dtype[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL'];
    for (const dtype of dtypes) {
      const name = `values.${dtype}`;
      expect([name, file.tensors.get(name)!.dtype, file.tensors.get(name)!.shape]).toEqual([
        name,
        dtype,
        [3, 4],
      ]);
      const expected = dtypeValues(dtype, 12);
      if (dtype.startsWith('F') || dtype === 'BF16') {
        expect(Array.from(await file.readFloat32(name))).toEqual(expected); // exact: all are multiples of 1/4
      } else {
        expect(Array.from(await file.readTyped(name), Number)).toEqual(expected);
      }
    }
    expect(Array.from(await file.readFloat32('view.rows_1_2'))).toEqual(dtypeValues('F32', 12).slice(4));
    expect(file.tensors.get('view.rows_1_2')!.shape).toEqual([2, 4]);
    expect(Array.from(await file.readFloat32('unit_dim.odd_stride'))).toEqual(dtypeValues('F32', 4));
  });

  it('reads records under any folder name, as older torch named it after the file', async () => {
    const renamed = Object.fromEntries(
      Object.entries(subsetRecords()).map(([name, data]) => [
        name.replace(/^archive\//, 'pytorch_model/'),
        data,
      ]),
    );
    const file = await openPytorchCheckpoint(await writeCheckpoint(renamed));
    expect(file.tensors.size).toBe(38);
    expect(await file.readFloat32('text_projection.weight')).toEqual(
      await (await openSafetensors(CLIP)).readFloat32('text_projection.weight'),
    );
  });

  it('selects the "model" entry of a LAVIS-style {"model": ..., "epoch": 3} checkpoint', async () => {
    const file = await openPytorchCheckpoint(join(PYTORCH, 'nested-model.pth'));
    expect([...file.tensors.keys()]).toEqual(['logit_scale', 'text_projection.weight']);
    const reference = await openSafetensors(CLIP);
    expect(await file.readFloat32('text_projection.weight')).toEqual(
      await reference.readFloat32('text_projection.weight'),
    );
  });

  it('feeds a .bin tensor to an ONNX graph as external data, with the values of the safetensors file', async () => {
    // A component folder in the temp dir: the loader looks for `pytorch_model.bin` in it.
    const dir = await tempDir();
    await mkdir(join(dir, 'clip'));
    await copyFile(SUBSET, join(dir, 'clip/pytorch_model.bin'));
    const weights = await openComponentWeights(join(dir, 'clip'));
    const graph = new G.Graph();
    const x = graph.input('x', [1, 32]);
    const name = 'text_model.encoder.layers.0.self_attn.k_proj.weight'; // a view inside the shared q/k/v storage
    const w = new ModelParameters(graph, weights).get(name, [32, 32]);
    const compiled = await CompiledGraph.compile(
      { y: G.matmul(x, w) },
      { cacheDir: join(dir, 'cache'), threads: 1 },
    );
    const input = Float32Array.from({ length: 32 }, (_, i) => (i % 5) - 2);
    const result = (await compiled.run({ x: input })).y.data as Float32Array;
    await compiled.release();
    const k = await (await openSafetensors(CLIP)).readFloat32(name);
    const expected = Array.from({ length: 32 }, (_, j) =>
      input.reduce((sum, v, i) => sum + v * k[i * 32 + j]!, 0),
    );
    // Measured max |difference| 9.5e-8 (summation order; outputs up to 1.33); a wrong offset differs by O(1).
    for (let j = 0; j < 32; j++) expect(Math.abs(result[j]! - expected[j]!)).toBeLessThan(1e-5);
  });
});

describe('weight-file choice with PyTorch checkpoints', () => {
  it('uses pytorch_model.bin when a folder has no safetensors, and prefers safetensors when it has both', async () => {
    const dir = await tempDir();
    await copyFile(SUBSET, join(dir, 'pytorch_model.bin'));
    const fromBin = await openComponentWeights(dir);
    expect(fromBin.describeFiles()).toBe(join(dir, 'pytorch_model.bin'));
    expect(fromBin.tensors.size).toBe(38);

    await copyFile(CLIP, join(dir, 'model.safetensors'));
    const both = await openComponentWeights(dir);
    expect(both.describeFiles()).toBe(join(dir, 'model.safetensors'));
    expect(both.tensors.has('vision_model.post_layernorm.bias')).toBe(true);
  });

  it('reads sharded .bin weights through pytorch_model.bin.index.json', async () => {
    const sharded = join(PYTORCH, 'sharded');
    const weights = await openComponentWeights(sharded);
    expect(weights.files.map((f) => f.path)).toEqual([
      join(sharded, 'pytorch_model-00001-of-00002.bin'),
      join(sharded, 'pytorch_model-00002-of-00002.bin'),
    ]);
    const whole = await openPytorchCheckpoint(SUBSET);
    expect([...weights.tensors.keys()].sort()).toEqual([...whole.tensors.keys()].sort());
    for (const name of whole.tensors.keys()) {
      const shard = weights.get(name).file;
      expect(Buffer.from(await shard.readRaw(name)).equals(Buffer.from(await whole.readRaw(name)))).toBe(
        true,
      );
    }
  });

  it('refuses an index of .bin shards that names a .safetensors shard', async () => {
    const dir = await tempDir();
    await writeFile(
      join(dir, 'pytorch_model.bin.index.json'),
      JSON.stringify({ weight_map: { w: 'x.safetensors' } }),
    );
    expect((await userErrorOf(openComponentWeights(dir))).message).toMatch(
      /pytorch_model.bin.index.json: weight_map entry "w" names an invalid shard "x.safetensors"/,
    );
  });
});

// ---- Hand-made pickles and zips for what torch.save never writes ----

const ascii = (text: string) => Buffer.from(text, 'latin1');
type Part = Buffer | string;
const bytesOf = (parts: Part[]) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? ascii(p) : p)));

/** Protocol-2 opcodes, spelled as pickletools names them. */
const op = {
  MARK: '(',
  TUPLE: 't',
  TUPLE1: Buffer.from([0x85]),
  EMPTY_TUPLE: ')',
  EMPTY_DICT: '}',
  SETITEMS: 'u',
  REDUCE: 'R',
  BUILD: 'b',
  BINPERSID: 'Q',
  NEWFALSE: Buffer.from([0x89]),
  global: (module: string, name: string) => `c${module}\n${name}\n`,
  binput: (index: number) => Buffer.from([0x71, index]),
  str(text: string) {
    const utf8 = Buffer.from(text, 'utf8');
    const header = Buffer.alloc(5);
    header[0] = 0x58; // BINUNICODE
    header.writeUInt32LE(utf8.length, 1);
    return Buffer.concat([header, utf8]);
  },
  int: (n: number) => Buffer.from([0x4b, n]), // BININT1, enough for these small numbers
};
const pickle = (...parts: Part[]) => bytesOf([Buffer.from([0x80, 2]), ...parts, '.']);

/** `_rebuild_tensor_v2(('storage', FloatStorage, key, 'cpu', numel), offset, shape, stride, False, OrderedDict())`. */
function tensorPickle(key: string, numel: number, shape: number[], stride?: number[], offset = 0): Buffer {
  const strides = stride ?? shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));
  return bytesOf([
    op.global('torch._utils', '_rebuild_tensor_v2'),
    op.MARK,
    op.MARK,
    op.str('storage'),
    op.global('torch', 'FloatStorage'),
    op.str(key),
    op.str('cpu'),
    op.int(numel),
    op.TUPLE,
    op.BINPERSID,
    op.int(offset),
    op.MARK,
    ...shape.map(op.int),
    op.TUPLE,
    op.MARK,
    ...strides.map(op.int),
    op.TUPLE,
    op.NEWFALSE,
    op.global('collections', 'OrderedDict'),
    op.EMPTY_TUPLE,
    op.REDUCE,
    op.TUPLE,
    op.REDUCE,
  ]);
}

function dictPickle(entries: [string, Part][]): Buffer {
  return bytesOf([
    op.EMPTY_DICT,
    op.MARK,
    ...entries.flatMap(([key, value]) => [op.str(key), value]),
    op.SETITEMS,
  ]);
}

const floats = (...values: number[]) => new Uint8Array(Float32Array.from(values).buffer);

/** A checkpoint zip built with fflate (a second zip writer besides Python's), stored unless `deflate` says. */
async function writeCheckpoint(
  records: Record<string, Uint8Array>,
  options: { deflate?: (name: string) => boolean; name?: string } = {},
): Promise<string> {
  const zippable: Zippable = {};
  for (const [name, data] of Object.entries(records)) {
    zippable[name] = [data, { level: options.deflate?.(name) ? 6 : 0 }];
  }
  const path = join(await tempDir(), options.name ?? 'pytorch_model.bin');
  await writeFile(path, zipSync(zippable));
  return path;
}

/** A checkpoint whose data.pkl is `pickleBytes` and which holds one 6-float storage under key "0". */
const withPickle = (pickleBytes: Uint8Array) =>
  writeCheckpoint({ 'archive/data.pkl': pickleBytes, 'archive/data/0': floats(1, 2, 3, 4, 5, 6) });

/** The records of clip-text-subset.bin, to rebuild it with one thing changed. */
function subsetRecords(): Record<string, Uint8Array> {
  return unzipSync(new Uint8Array(readFileSync(SUBSET)));
}

async function refusal(path: string): Promise<string> {
  const message = (await userErrorOf(openPytorchCheckpoint(path))).message;
  expect(message).not.toContain('\n'); // one clear line
  expect(message.startsWith(`${path}: `)).toBe(true);
  return message;
}

describe('openPytorchCheckpoint refuses what is not a plain state dict', () => {
  const advice =
    'only tensors and OrderedDicts are read (convert the file to safetensors, or get it from a trusted source)';

  it('refuses a pickle that calls os.system, exactly as Python pickles it, and runs nothing', async () => {
    const marker = join(await tempDir(), 'pwned');
    // pickle.dumps(Exploit(), protocol=2) where __reduce__ returns (os.system, ('touch ' + marker,)).
    const path = await withPickle(
      pickle(
        op.global('posix', 'system'),
        op.binput(0),
        op.str(`touch ${marker}`),
        op.binput(1),
        op.TUPLE1,
        op.binput(2),
        op.REDUCE,
        op.binput(3),
      ),
    );
    expect(await refusal(path)).toBe(`${path}: refuses to load the pickle global "posix.system"; ${advice}`);
    await expect(stat(marker)).rejects.toThrow();
  });

  it('refuses builtins.eval and subprocess.Popen, also through STACK_GLOBAL and inside a state dict', async () => {
    const evalPickle = pickle(op.global('builtins', 'eval'), op.str('1+1'), op.TUPLE1, op.REDUCE);
    expect(await refusal(await withPickle(evalPickle))).toMatch(
      /refuses to load the pickle global "builtins.eval"/,
    );

    // Protocol 4 style: SHORT_BINUNICODE module and name, then STACK_GLOBAL.
    const short = (text: string) => Buffer.concat([Buffer.from([0x8c, text.length]), ascii(text)]);
    const popen = pickle(
      short('subprocess'),
      short('Popen'),
      Buffer.from([0x93]),
      op.str('ls'),
      op.TUPLE1,
      op.REDUCE,
    );
    expect(await refusal(await withPickle(popen))).toMatch(
      /refuses to load the pickle global "subprocess.Popen"/,
    );

    // A good tensor first, then the payload as another value: refused before anything is returned.
    const hidden = pickle(
      dictPickle([
        ['weight', tensorPickle('0', 6, [6])],
        ['x', bytesOf([op.global('os', 'system'), op.str('true'), op.TUPLE1, op.REDUCE])],
      ]),
    );
    expect(await refusal(await withPickle(hidden))).toMatch(/refuses to load the pickle global "os.system"/);
  });

  it('refuses a REDUCE of an allowed name that is not a callable it knows, and BUILD on a tensor', async () => {
    const callStorage = await withPickle(
      pickle(op.global('torch', 'FloatStorage'), op.EMPTY_TUPLE, op.REDUCE),
    );
    expect(await refusal(callStorage)).toBe(
      `${callStorage}: refuses to call torch.FloatStorage (pickle REDUCE); ${advice}`,
    );
    const build = pickle(dictPickle([['w', bytesOf([tensorPickle('0', 6, [6]), op.EMPTY_DICT, op.BUILD])]]));
    expect(await refusal(await withPickle(build))).toMatch(
      /refuses to set the state of a tensor to a dict \(pickle BUILD\)/,
    );
  });

  it('refuses unknown opcodes, object-building opcodes and persistent ids that are not storages', async () => {
    expect(await refusal(await withPickle(pickle(Buffer.from([0xff]))))).toMatch(
      /unknown or unsupported pickle opcode 0xff at byte 2/,
    );
    const newobj = pickle(op.global('collections', 'OrderedDict'), op.EMPTY_TUPLE, Buffer.from([0x81]));
    expect(await refusal(await withPickle(newobj))).toMatch(/refuses the pickle opcode NEWOBJ at byte 28/);
    const pid = pickle(op.str('storage'), op.TUPLE1, op.BINPERSID);
    expect(await refusal(await withPickle(pid))).toMatch(/refuses a persistent id that is not \('storage'/);
    expect(await refusal(await withPickle(pickle(op.str('just a string'))))).toMatch(
      /holds a pickled str, not a state dict/,
    );
    expect(await refusal(await withPickle(bytesOf([Buffer.from([0x80, 2]), op.EMPTY_DICT])))).toMatch(
      /the pickle is truncated/,
    );
  });

  it('refuses non-contiguous tensors and views past the end of their storage', async () => {
    expect(await refusal(join(PYTORCH, 'transposed.bin'))).toMatch(
      /tensor "weight" \[3, 2\] has strides \(1, 3\), not the contiguous \(2, 1\): only contiguous tensors are read/,
    );
    expect(await refusal(join(PYTORCH, 'offset-past-storage.bin'))).toMatch(
      /tensor "weight" needs elements 3 to 7 of storage 0, which has only 5/,
    );
  });

  it('flattens nested dicts with "." and skips values that are not tensors', async () => {
    const nested = pickle(
      dictPickle([
        ['text', dictPickle([['w', tensorPickle('0', 6, [2, 3])]])],
        ['epoch', op.int(3)],
      ]),
    );
    const file = await openPytorchCheckpoint(await withPickle(nested));
    expect([...file.tensors.keys()]).toEqual(['text.w']);
    expect(Array.from(await file.readFloat32('text.w'))).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('openPytorchCheckpoint on damaged or foreign files', () => {
  it('says a truncated download is truncated', async () => {
    const whole = await readFile(SUBSET);
    const path = join(await tempDir(), 'pytorch_model.bin');
    await writeFile(path, whole.subarray(0, Math.floor(whole.length / 2)));
    expect(await refusal(path)).toMatch(
      /is truncated: the zip's directory at the end of the file is missing/,
    );
  });

  it('says which record is missing: data.pkl, or a storage a tensor needs', async () => {
    const records = subsetRecords();
    const { ['archive/data.pkl']: _, ...noPickle } = records;
    expect(await refusal(await writeCheckpoint(noPickle))).toMatch(
      /has no data.pkl record, so it is not a PyTorch checkpoint written by torch.save \(the zip holds archive\/byteorder/,
    );
    const { ['archive/data/3']: __, ...noStorage } = records;
    expect(await refusal(await writeCheckpoint(noStorage))).toMatch(
      /tensor ".*" is stored in record archive\/data\/3, which the zip does not hold/,
    );
  });

  it('refuses compressed storages but inflates a compressed data.pkl', async () => {
    const records = subsetRecords();
    const compressedStorages = await writeCheckpoint(records, { deflate: (name) => name.includes('/data/') });
    expect(await refusal(compressedStorages)).toMatch(
      /is in record archive\/data\/\d+, which is compressed \(zip method 8\); tensors are read in place/,
    );
    const compressedPickle = await writeCheckpoint(records, { deflate: (name) => name.endsWith('data.pkl') });
    const file = await openPytorchCheckpoint(compressedPickle);
    expect(file.tensors.size).toBe(38);
    expect(await file.readFloat32('logit_scale')).toEqual(
      await (await openSafetensors(CLIP)).readFloat32('logit_scale'),
    );
  });

  it('names legacy checkpoints, TorchScript archives, big-endian files and files that are not zips', async () => {
    const dir = await tempDir();
    const legacy = join(dir, 'legacy.bin');
    await writeFile(legacy, Buffer.concat([Buffer.from([0x80, 0x02, 0x8a, 0x0a]), Buffer.alloc(40)]));
    expect(await refusal(legacy)).toMatch(/is a PyTorch checkpoint in PyTorch's legacy \(pre-1.6\) format/);

    const text = join(dir, 'text.bin');
    await writeFile(text, 'version https://git-lfs.github.com/spec/v1\n');
    expect(await refusal(text)).toMatch(/is not a PyTorch checkpoint \(not a zip archive/);

    const records = subsetRecords();
    const script = await writeCheckpoint({ ...records, 'archive/constants.pkl': pickle(op.EMPTY_TUPLE) });
    expect(await refusal(script)).toMatch(/is a TorchScript archive \(torch.jit.save\), not a state dict/);

    const bigEndian = await writeCheckpoint({ ...records, 'archive/byteorder': ascii('big') });
    expect(await refusal(bigEndian)).toMatch(/was saved on a big-endian machine; only little-endian/);
  });
});

describe('the pickle machine on corrupted input', () => {
  it('gives a result or a refusal for any corruption of a real data.pkl, never another exception', () => {
    const original = subsetRecords()['archive/data.pkl']!;
    const corruption = fc.record({
      edits: fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.integer({ min: 0, max: 255 })), {
        minLength: 1,
        maxLength: 4,
      }),
      keep: fc.integer({ min: 0, max: original.length }),
    });
    fc.assert(
      fc.property(corruption, ({ edits, keep }) => {
        const bytes = new Uint8Array(original);
        for (const [at, value] of edits) bytes[at] = value;
        try {
          selectStateDict('data.pkl', unpickle(bytes.subarray(0, keep), torchStateDictPolicy()));
        } catch (err) {
          if (!(err instanceof PickleError) && !(err instanceof UserError)) throw err;
        }
      }),
      { numRuns: 500, seed: 8 },
    );
  });
});
