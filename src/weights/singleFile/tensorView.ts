/**
 * One tensor of a diffusers component and where its bytes lie in a single-file checkpoint: the key it is stored
 * under and, when the stored tensor is not already the diffusers one, how it becomes it without a copy.
 */
export interface MappedTensor {
  /** The diffusers name, e.g. `down_blocks.0.resnets.0.conv1.weight`. */
  readonly name: string;
  /** The checkpoint key, e.g. `model.diffusion_model.input_blocks.1.0.in_layers.2.weight`. */
  readonly source: string;
  readonly view?: TensorView;
}

/**
 * How a stored tensor is read as the diffusers one:
 * - `rows`: part `part` of `parts` equal, contiguous row blocks of dim 0 (OpenCLIP's fused q/k/v projection);
 * - `squeeze`: the trailing 1-sized dims dropped (the VAE's 1×1-conv attention weights as linear weights);
 * - `transpose`: a 2-D tensor stored transposed (OpenCLIP's `text_projection`), transposed in the graph.
 * The first two are the same bytes under another offset or shape; only `transpose` needs an op.
 */
export type TensorView =
  | { readonly kind: 'rows'; readonly part: number; readonly parts: number }
  | { readonly kind: 'squeeze' }
  | { readonly kind: 'transpose' };

/** A key's fate: the diffusers tensors it becomes, or `ignored` (stored, but no component runs with it). */
export type KeyRule = readonly MappedTensor[] | 'ignored';

/** Splits `module.weight` into the module path and the parameter name. */
export function splitParameter(key: string): { module: string; parameter: string } | undefined {
  const dot = key.lastIndexOf('.');
  return dot < 0 ? undefined : { module: key.slice(0, dot), parameter: key.slice(dot + 1) };
}
