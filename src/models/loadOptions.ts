/** Options shared by the model loaders (text encoder, VAE decoder). */
export interface LoadModelOptions {
  /** Weight file variant, e.g. `fp16` for `model.fp16.safetensors` / `diffusion_pytorch_model.fp16.safetensors`. */
  variant?: string;
}
