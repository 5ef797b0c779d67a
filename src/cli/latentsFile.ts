import { stat } from 'node:fs/promises';
import { UserError } from '../errors.ts';
import { openSafetensors } from '../weights/safetensors.ts';
import { quotedName } from '../weights/safetensorsHeader.ts';
import { writeSafetensors } from '../weights/safetensorsWriter.ts';

/** The tensor name `--latents` reads and `--save-latents` writes. */
export const LATENTS_TENSOR = 'latents';

export interface LatentsTensor {
  readonly data: Float32Array;
  /** [images, channels, height/8, width/8]. */
  readonly shape: readonly [number, number, number, number];
}

/** Reads the `latents` tensor of a safetensors file; the caller checks the shape against the run. */
export async function readLatents(path: string): Promise<LatentsTensor> {
  const stats = await stat(path).catch(() => undefined);
  if (!stats?.isFile()) throw new UserError(`latents file ${path} not found`);
  const file = await openSafetensors(path);
  const info = file.tensors.get(LATENTS_TENSOR);
  if (!info) {
    throw new UserError(
      `${path} has no tensor named "${LATENTS_TENSOR}" (it has ${describeNames([...file.tensors.keys()])})`,
    );
  }
  if (info.shape.length !== 4) {
    throw new UserError(
      `${path}: tensor "${LATENTS_TENSOR}" has shape [${info.shape}]; latents are [images, channels, height/8, width/8]`,
    );
  }
  const [n, c, h, w] = info.shape;
  return { data: await file.readFloat32(LATENTS_TENSOR), shape: [n, c, h, w] };
}

/** Checks the file's latents against the run's image count, latent channels and size. */
export function checkLatentsShape(
  path: string,
  latents: LatentsTensor,
  expected: readonly [number, number, number, number],
  sizes: { height: number; width: number },
): void {
  if (latents.shape.every((d, i) => d === expected[i])) return;
  throw new UserError(
    `${path}: tensor "${LATENTS_TENSOR}" has shape [${latents.shape}]; ${expected[0]} image(s) of ` +
      `${sizes.width}×${sizes.height} on this model need [${expected}]`,
  );
}

/** Writes final latents [images, channels, h, w] as the float32 tensor `latents`. */
export async function writeLatents(
  path: string,
  latents: LatentsTensor,
  options: { overwrite?: boolean },
): Promise<void> {
  await writeSafetensors(
    path,
    { [LATENTS_TENSOR]: { dtype: 'F32', shape: latents.shape, data: latents.data } },
    { metadata: { format: 'pt' }, overwrite: options.overwrite },
  );
}

/** A few names and a count, so a file of many tensors still gives a one-line error. */
function describeNames(names: readonly string[], shown = 5): string {
  if (names.length === 0) return 'none';
  const listed = names
    .slice(0, shown)
    .map((name) => quotedName(name))
    .join(', ');
  return names.length > shown ? `${listed} and ${names.length - shown} more` : listed;
}
