import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { ExternalTensor } from '../../src/graph/index.ts';
import * as G from '../../src/graph/index.ts';
import { serialize } from '../../src/graph/onnx.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';
import { writeSafetensors } from '../../src/weights/safetensorsWriter.ts';
import { userErrorOf } from '../helpers/userError.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'dnb-weights-in-place-'));
// tmpfs, a file system of its own where it exists: a model there and a cache in tmpdir() cannot share a link.
const shm = existsSync('/dev/shm') ? mkdtempSync('/dev/shm/dnb-weights-in-place-') : undefined;
afterAll(() => {
  for (const root of [scratch, shm]) {
    if (!root) continue;
    // Read-only folders below (the tests make some) must be writable again to be removed when not root.
    spawnSync('chmod', ['-R', 'u+w', root]);
    rmSync(root, { recursive: true, force: true });
  }
});
let folders = 0;
const freshDir = (name: string, under = scratch) => mkdtempSync(join(under, `${name}-${folders++}-`));

const W = Float32Array.of(0.5, -1, 2, 0.25, 3, -0.75);
const X = Float32Array.of(1, 2, 3);
/** [1, 2, 3]·W. */
const XW = [13.5, -2.75];

/** Writes `data` as the tensor w [rows, cols] of a safetensors file; returns it as the graph references it. */
async function writeWeights(file: string, data: Float32Array, shape = [3, 2]): Promise<ExternalTensor> {
  mkdirSync(dirname(file), { recursive: true });
  await writeSafetensors(file, { w: { dtype: 'F32', shape, data } }, { overwrite: true });
  const { byteOffset, byteLength } = (await openSafetensors(file)).tensors.get('w')!;
  return { file, byteOffset, byteLength, name: 'w' };
}

/** y = x·w for x [1, rows]. */
function matmulGraph(w: ExternalTensor, shape = [3, 2]) {
  const g = new G.Graph();
  return { y: G.matmul(g.input('x', [1, shape[0]!]), g.external(w, shape, 'float32')) };
}

const run = async (graph: CompiledGraph, x = X) =>
  Array.from((await graph.run({ x })).y.data as Float32Array);

const manifestOf = (graph: CompiledGraph) =>
  JSON.parse(readFileSync(join(dirname(graph.path), 'graph.json'), 'utf8'));

/** Every file under `root` (lstat: links are seen as links) with its path relative to root. */
function filesUnder(root: string): { path: string; size: number; nlink: number; symlink: boolean }[] {
  return readdirSync(root, { recursive: true })
    .map((entry) => ({ path: String(entry), info: lstatSync(join(root, String(entry))) }))
    .filter(({ info }) => !info.isDirectory())
    .map(({ path, info }) => ({ path, size: info.size, nlink: info.nlink, symlink: info.isSymbolicLink() }));
}

describe('weights read where they lie, with no link and no copy in the graph cache', () => {
  const otherFileSystem = shm !== undefined && statSync(shm).dev !== statSync(tmpdir()).dev;

  // Skipped only where /dev/shm is missing or on the same file system as tmpdir() (then there is nothing to cross).
  it.skipIf(!otherFileSystem)(
    'a model on another file system than the cache compiles and computes the right numbers',
    async () => {
      const model = freshDir('model', shm);
      const cacheDir = freshDir('cache');
      expect(statSync(model).dev).not.toBe(statSync(cacheDir).dev);
      const w = await writeWeights(join(model, 'unet/model.safetensors'), W);
      const key = { files: [w.file], spec: {} };
      // The code before linked the weights into the cache: link() across file systems is EXDEV.
      const saved = await CompiledGraph.compileCached(key, () => matmulGraph(w), { cacheDir, threads: 1 });
      expect(saved.timings.optimized).toBe('saved');
      expect(await run(saved)).toEqual(XW);
      const loaded = await CompiledGraph.compileCached(key, () => matmulGraph(w), { cacheDir, threads: 1 });
      expect(loaded.timings).toMatchObject({ cached: true, optimized: 'loaded' });
      expect(await run(loaded)).toEqual(XW);
      const unkeyed = await CompiledGraph.compile(matmulGraph(w), { cacheDir, threads: 1 });
      expect(await run(unkeyed)).toEqual(XW);
      expect(manifestOf(saved).weightsRoot).toBe(realpathSync(join(model, 'unet')));

      // A graph reading from both file systems: the deepest common folder of its weights is `/`.
      const v = await writeWeights(
        join(freshDir('model'), 'other.safetensors'),
        W.map((e) => 2 * e),
      );
      const g = new G.Graph();
      const x = g.input('x', [1, 3]);
      const both = {
        y: G.add(
          G.matmul(x, g.external(w, [3, 2], 'float32')),
          G.matmul(x, g.external(v, [3, 2], 'float32')),
        ),
      };
      expect(serialize(both).weightsRoot).toBe('/');
      const sum = await CompiledGraph.compile(both, { cacheDir, threads: 1 });
      expect(await run(sum)).toEqual(XW.map((e) => 3 * e));
      await Promise.all([saved, loaded, unkeyed, sum].map((c) => c.release()));
    },
  );

  const isRoot = process.getuid?.() === 0;
  const NOBODY = 65534;
  /** `command` as the user nobody (setpriv and runuser are both in util-linux; setpriv needs no PAM). */
  const asNobody = (command: string[]) =>
    existsSync('/usr/bin/setpriv')
      ? ['setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', ...command]
      : ['runuser', '-u', 'nobody', '--', ...command];
  /** Spawns `command` as nobody with HOME in a folder nobody owns (ONNX Runtime writes under ~/.cache). */
  const spawnAsNobody = (command: string[], home: string) => {
    const [file, ...args] = asNobody(command);
    return spawnSync(file!, args, {
      cwd: REPO,
      env: { PATH: process.env.PATH, HOME: home },
      encoding: 'utf8',
      timeout: 120_000,
    });
  };
  // The child runs this checkout's code, which nobody must be able to read (a clone under a 0700 home is not).
  const nobodyReadsRepo =
    isRoot &&
    spawnAsNobody(
      [
        process.execPath,
        '-e',
        `for (const f of ${JSON.stringify(['test/runtime/compileInChild.ts', 'src/runtime/session.ts', 'node_modules/tsx/package.json', 'node_modules/onnxruntime-node/package.json'])}) require('fs').accessSync(f, require('fs').constants.R_OK)`,
      ],
      tmpdir(),
    ).status === 0;

  // As root: the child is the user nobody, who may read the model but does not own it. The code before
  // (b5184fa~1: hard links into the cache) fails there, checked on a scratch copy of it: "cannot hard-link
  // …/model.safetensors into the graph cache … (EPERM)", because fs.protected_hardlinks=1 forbids linking a
  // file one neither owns nor may write. Skipped as root only when nobody cannot read this checkout.
  it.skipIf(isRoot && !nobodyReadsRepo)(
    'a read-only model folder the process does not own compiles and runs, cache in a folder the process owns',
    async () => {
      const model = freshDir('readonly-model');
      const w = await writeWeights(join(model, 'model.safetensors'), W);
      chmodSync(w.file, 0o444);
      chmodSync(model, 0o555);
      if (!isRoot) {
        // Not root: the folder is ours but read-only (linking our own file was allowed before, so this half
        // checks the read-only folder only).
        const cacheDir = freshDir('cache');
        const keyed = await CompiledGraph.compileCached({ files: [w.file], spec: {} }, () => matmulGraph(w), {
          cacheDir,
          threads: 1,
        });
        expect(await run(keyed)).toEqual(XW);
        await keyed.release();
        return;
      }
      // mkdtemp makes 0700 folders: nobody needs to pass through the scratch folder to reach the model.
      chmodSync(scratch, 0o755);
      expect(statSync(model).uid).toBe(0);
      const home = freshDir('nobody-home');
      chownSync(home, NOBODY, NOBODY);
      const child = spawnAsNobody(
        [process.execPath, '--import', 'tsx', 'test/runtime/compileInChild.ts', w.file, join(home, 'cache')],
        home,
      );
      expect(child.stderr).toBe('');
      expect(JSON.parse(child.stdout)).toEqual({ keyed: XW, unkeyed: XW });
      expect(child.status).toBe(0);

      // A model file nobody may not read is one UserError that names it.
      const config = join(model, '..', 'secret-config.json');
      writeFileSync(config, '{}', { mode: 0o400 });
      const refused = spawnAsNobody(
        [
          process.execPath,
          '--import',
          'tsx',
          'test/runtime/compileInChild.ts',
          w.file,
          join(home, 'cache'),
          config,
        ],
        home,
      );
      expect(refused.stderr).toBe(
        `UserError: the model file ${config} cannot be read (EACCES): the model was deleted, moved or is not ` +
          'readable by this user. Download the model again, or point the model path to where it is now and make ' +
          'it readable.\n',
      );
      expect(refused.status).toBe(1);
    },
  );

  it('a cache that holds only graphs: model and manifest per entry, no links, every weight file unlinked', async () => {
    const model = freshDir('model');
    const cacheDir = freshDir('cache');
    // 128×128 float32 (64 KiB), 2·identity: an entry holding a copy or a link of it would show in size or nlink.
    const data = new Float32Array(128 * 128).map((_, i) => (i % 129 === 0 ? 2 : 0));
    const w = await writeWeights(join(model, 'model.safetensors'), data, [128, 128]);
    const x = Float32Array.from({ length: 128 }, (_, i) => i - 64);
    const keyed = await CompiledGraph.compileCached(
      { files: [w.file], spec: {} },
      () => matmulGraph(w, [128, 128]),
      { cacheDir, threads: 1, optimizedModel: false },
    );
    const unkeyed = await CompiledGraph.compile(matmulGraph(w, [128, 128]), { cacheDir, threads: 1 });
    for (const graph of [keyed, unkeyed]) {
      expect(await run(graph, x)).toEqual(Array.from(x, (v) => 2 * v));
      expect(readdirSync(dirname(graph.path)).sort()).toEqual(['graph.json', 'model.onnx']);
    }
    const files = filesUnder(cacheDir);
    expect(files.every((f) => f.nlink === 1 && !f.symlink)).toBe(true);
    expect(statSync(w.file).nlink).toBe(1);
    // Measured: 1,086 bytes for both entries (two models of ~220 B, two manifests), against 65,536 of weights.
    const total = files.reduce((n, f) => n + f.size, 0);
    expect(total).toBeLessThan(4096);
    expect(manifestOf(keyed).weightFiles).toEqual([
      { path: realpathSync(w.file), size: statSync(w.file).size, mtimeMs: statSync(w.file).mtimeMs },
    ]);
    await Promise.all([keyed.release(), unkeyed.release()]);
  });

  it('deleting a model, then compiling anything keyed, removes the entries that read it, optimised copies included', async () => {
    const cacheDir = freshDir('cache');
    const graphs = join(cacheDir, 'graphs');
    const data = new Float32Array(32 * 32).map((_, i) => (i % 33 === 0 ? 3 : 0));
    const deleted = freshDir('deleted-model');
    const a = await writeWeights(join(deleted, 'model.safetensors'), data, [32, 32]);
    const kept = freshDir('kept-model');
    const b = await writeWeights(join(kept, 'model.safetensors'), W);
    const keyA = { files: [a.file], spec: { a: 1 } };
    const first = await CompiledGraph.compileCached(keyA, () => matmulGraph(a, [32, 32]), {
      cacheDir,
      threads: 1,
    });
    expect(first.timings.optimized).toBe('saved');
    // ORT's optimised model keeps the 4 KiB weight in a file of its own: the copy that deleting must free.
    expect(readdirSync(dirname(first.path)).some((f) => f.endsWith('.weights'))).toBe(true);
    const unkeyedA = await CompiledGraph.compile(matmulGraph(a, [32, 32]), { cacheDir, threads: 1 });
    await Promise.all([first.release(), unkeyedA.release()]);
    // Entries of the layout before (hard links beside the model, or a manifest of links) are removed too; a
    // staging folder and a folder that is no entry are left alone.
    mkdirSync(join(graphs, 'old-unkeyed'));
    writeFileSync(join(graphs, 'old-unkeyed/weights-0.safetensors'), '');
    mkdirSync(join(graphs, 'k-old-keyed'));
    writeFileSync(join(graphs, 'k-old-keyed/graph.json'), '{"externalFiles": {}, "lineage": "x"}');
    mkdirSync(join(graphs, 'k-staging.1.2.tmp'));
    mkdirSync(join(graphs, 'not-an-entry'));

    rmSync(deleted, { recursive: true });
    const other = await CompiledGraph.compileCached(
      { files: [b.file], spec: { b: 1 } },
      () => matmulGraph(b),
      { cacheDir, threads: 1 },
    );
    expect(await run(other)).toEqual(XW);
    expect(existsSync(dirname(first.path))).toBe(false);
    expect(existsSync(dirname(unkeyedA.path))).toBe(false);
    expect(readdirSync(graphs).sort()).toEqual(
      [relative(graphs, dirname(other.path)), 'k-staging.1.2.tmp', 'not-an-entry'].sort(),
    );
    await other.release();

    // The deleted model itself is one UserError naming its file and what to do.
    const error = await userErrorOf(
      CompiledGraph.compileCached(keyA, () => matmulGraph(a, [32, 32]), { cacheDir, threads: 1 }),
    );
    expect(error.message).toBe(
      `the model file ${a.file} does not exist: the model was deleted, moved or is not readable by this user. ` +
        'Download the model again, or point the model path to where it is now and make it readable.',
    );
    expect(() => serialize(matmulGraph(a, [32, 32]))).toThrow(`the model file ${a.file} does not exist`);
  });

  it('a Hugging Face snapshot (files linking into ../../blobs) is read through the blobs, and a new revision gets its own entry', async () => {
    const hub = freshDir('hub');
    const repo = join(hub, 'models--org--tiny');
    const blob = (sha: string, data: Float32Array) => writeWeights(join(repo, 'blobs', sha), data);
    const snapshot = (rev: string, sha: string) => {
      const file = join(repo, 'snapshots', rev, 'unet/diffusion_pytorch_model.safetensors');
      mkdirSync(dirname(file), { recursive: true });
      symlinkSync(`../../../blobs/${sha}`, file);
      return file;
    };
    const cacheDir = freshDir('cache');
    const { byteOffset, byteLength } = await blob('aaa1', W);
    const file = snapshot('rev1', 'aaa1');
    const w = { file, byteOffset, byteLength, name: 'w' };
    const first = await CompiledGraph.compileCached({ files: [file], spec: {} }, () => matmulGraph(w), {
      cacheDir,
      threads: 1,
    });
    expect(await run(first)).toEqual(XW);
    expect(manifestOf(first)).toMatchObject({
      weightsRoot: realpathSync(join(repo, 'blobs')),
      weightFiles: [{ path: realpathSync(join(repo, 'blobs/aaa1')) }],
    });
    const unkeyed = await CompiledGraph.compile(matmulGraph(w), { cacheDir, threads: 1 });
    expect(await run(unkeyed)).toEqual(XW);

    // A new revision replaces the blob (the hub cache then prunes the old one): another entry, new values, and
    // the entries of the pruned blob go.
    await blob(
      'bbb2',
      W.map((e) => 2 * e),
    );
    const file2 = snapshot('rev2', 'bbb2');
    rmSync(join(repo, 'blobs/aaa1'));
    const second = await CompiledGraph.compileCached(
      { files: [file2], spec: {} },
      () => matmulGraph({ ...w, file: file2 }),
      { cacheDir, threads: 1 },
    );
    expect(await run(second)).toEqual(XW.map((e) => 2 * e));
    expect(existsSync(dirname(first.path))).toBe(false);
    expect(existsSync(dirname(unkeyed.path))).toBe(false);
    await Promise.all([first.release(), unkeyed.release(), second.release()]);
  });
});
