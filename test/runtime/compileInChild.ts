/**
 * Compiles and runs the graph y = x·w, with w [3, 2] from a safetensors file, in its own process, keyed and
 * unkeyed: weightsInPlace.test.ts runs it as another user (`nobody`) against a model folder that user may read
 * but does not own. Usage: `node --import tsx compileInChild.ts <weights.safetensors> <cacheDir> [config]`
 * (a config file joins the key's files); prints `{"keyed": [...], "unkeyed": [...]}` for x = [1, 2, 3], or the
 * error's name and message on stderr with exit code 1.
 */
import * as G from '../../src/graph/index.ts';
import { CompiledGraph } from '../../src/runtime/session.ts';
import { openSafetensors } from '../../src/weights/safetensors.ts';

const [weights, cacheDir, config] = process.argv.slice(2);
if (!weights || !cacheDir)
  throw new Error('usage: compileInChild.ts <weights.safetensors> <cacheDir> [config]');

try {
  const { byteOffset, byteLength } = (await openSafetensors(weights)).tensors.get('w')!;
  const build = () => {
    const g = new G.Graph();
    const w = g.external({ file: weights, byteOffset, byteLength, name: 'w' }, [3, 2], 'float32');
    return { y: G.matmul(g.input('x', [1, 3]), w) };
  };
  const x = Float32Array.of(1, 2, 3);
  const runtime = { cacheDir, threads: 1 };
  const keyed = await CompiledGraph.compileCached(
    { files: config ? [weights, config] : [weights], spec: {} },
    build,
    runtime,
    'child',
  );
  const unkeyed = await CompiledGraph.compile(build(), runtime, 'child');
  const result = {
    keyed: Array.from((await keyed.run({ x })).y.data as Float32Array),
    unkeyed: Array.from((await unkeyed.run({ x })).y.data as Float32Array),
  };
  await Promise.all([keyed.release(), unkeyed.release()]);
  process.stdout.write(`${JSON.stringify(result)}\n`);
} catch (error) {
  process.stderr.write(`${(error as Error).name}: ${(error as Error).message}\n`);
  process.exitCode = 1;
}
