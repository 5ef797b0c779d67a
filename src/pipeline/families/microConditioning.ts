/**
 * SDXL's micro-conditioning: what the UNet is told about the training image a sample should look like
 * (diffusers' `original_size`, `crops_coords_top_left`, `target_size`, each (height, width) / (top, left)).
 */
export interface MicroConditioning {
  readonly originalSize: readonly [number, number];
  readonly cropTopLeft: readonly [number, number];
  readonly targetSize: readonly [number, number];
}

/** diffusers' defaults: original and target size = the image size, no crop. */
export function resolveMicroConditioning(
  given: Partial<MicroConditioning>,
  height: number,
  width: number,
): MicroConditioning {
  return {
    originalSize: given.originalSize ?? [height, width],
    cropTopLeft: given.cropTopLeft ?? [0, 0],
    targetSize: given.targetSize ?? [height, width],
  };
}

/** `add_time_ids` [1, 6] = original (h, w), crop (top, left), target (h, w), float32. */
export function timeIds(micro: MicroConditioning): Float32Array {
  return Float32Array.of(...micro.originalSize, ...micro.cropTopLeft, ...micro.targetSize);
}
