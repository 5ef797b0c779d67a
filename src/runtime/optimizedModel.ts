import { createHash } from 'node:crypto';
import { link, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type ort from 'onnxruntime-node';
import { fileExists } from '../fileExists.ts';
import { canonicalJson } from './cache.ts';

type SessionOptions = ort.InferenceSession.SessionOptions;
/** Creates a session of the entry's own model (`M`, as the caller describes it) or of a saved model (a path). */
type CreateSession<M> = (model: M | string, options: SessionOptions) => Promise<ort.InferenceSession>;

/** Whether a keyed entry's session came from ORT's saved optimised model, wrote it, or neither. */
export type OptimizedModelUse = 'loaded' | 'saved' | 'off';

/**
 * Creates the session of a cache entry's model (`own`) through ONNX Runtime's own optimised model, saved in the
 * entry folder: the first start optimises as usual and writes the result (`optimizedModelFilePath`, its
 * initializers in one external file next to it: ONNX Runtime writes that file beside the optimised model even
 * though our model came from bytes with its weights elsewhere); later starts load that with optimisation off. The
 * saved model holds every initializer itself, so it never reads the original weight files (measured with
 * onnxruntime-node 1.30: it loads and computes the same after they are removed); the entry's manifest still
 * names them, so the entry goes when they do (removeStaleEntries). Measured on the SD 1.5-shaped CFG UNet
 * at 256 px (bench/optimizedModel.ts): session creation 0.8–1.1 s instead of 13.7–19.3 s, the first run as fast.
 * The price is disk: the saved initializers are ORT's transformed copy of the weights (NCHWc-reordered
 * convolutions), 3.2 GiB for that UNet, one per entry: `RuntimeOptions.optimizedModel: false` opts out.
 *
 * The optimised model depends on the runtime as well as the graph, so its name carries a hash of the ONNX Runtime
 * version and the session options (our defaults with the caller's on top). CPU only: other providers' optimised
 * graphs may hold nodes compiled for one device.
 */
export async function createOptimizedSession<M>(
  folder: string,
  own: M,
  options: SessionOptions,
  runtimeVersion: string,
  create: CreateSession<M>,
): Promise<{ session: ort.InferenceSession; optimized: OptimizedModelUse }> {
  const { logSeverityLevel: _quietOrNot, ...relevant } = options;
  const tag = createHash('sha256')
    .update(`${runtimeVersion}\0${canonicalJson(relevant)}`)
    .digest('hex')
    .slice(0, 16);
  const optimized = join(folder, `optimized-${tag}.onnx`);
  if (await fileExists(optimized)) {
    return {
      session: await create(optimized, { ...options, graphOptimizationLevel: 'disabled' }),
      optimized: 'loaded',
    };
  }

  // Written under names of our own, then hard-linked into place inside the entry folder (our own files, on the
  // cache's file system): `optimized-<tag>.onnx` appears complete or not at all, and a concurrent writer's copy
  // never replaces ours while it is being read. The model refers to its initializers file by name, so that one
  // keeps the name it was written under.
  const written = `optimized-${tag}.${process.pid}.${Date.now()}`;
  const removeOwn = async () => {
    await rm(join(folder, `${written}.onnx`), { force: true });
    await rm(join(folder, `${written}.weights`), { force: true });
  };
  const saving = create(own, {
    ...options,
    optimizedModelFilePath: join(folder, `${written}.onnx`),
    extra: {
      ...(options.extra as object),
      session: {
        ...(options.extra as { session?: Record<string, string> } | undefined)?.session,
        optimized_model_external_initializers_file_name: `${written}.weights`,
        optimized_model_external_initializers_min_size_in_bytes: '1024',
      },
    },
  });
  let session: ort.InferenceSession;
  try {
    session = await saving;
  } catch {
    // A cache folder we cannot write to (read-only, full): optimise in memory as without the saved model. An
    // error of the model itself comes back the same from the plain creation.
    await removeOwn();
    return { session: await create(own, options), optimized: 'off' };
  }
  try {
    await link(join(folder, `${written}.onnx`), optimized);
    await rm(join(folder, `${written}.onnx`), { force: true });
  } catch {
    // Another process linked its copy first (EEXIST): ours is not needed.
    await removeOwn();
    return { session, optimized: 'off' };
  }
  return { session, optimized: 'saved' };
}
