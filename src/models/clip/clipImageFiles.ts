import { ClipImageProcessor } from '../imageProcessing/clipImageProcessor.ts';
import { loadRgbImage } from '../imageProcessing/rgbImage.ts';
import type { ClipEmbedder } from './clipEmbedder.ts';

/**
 * CLIP image embeddings of image files: each is read as PIL's `convert("RGB")` would, preprocessed as the model
 * folder's preprocessor_config.json says (CLIPImageProcessor), and embedded in batches.
 */
export async function embedImageFiles(
  embedder: ClipEmbedder,
  paths: readonly string[],
): Promise<Float32Array[]> {
  const processor = await ClipImageProcessor.fromFolder(embedder.model.folder);
  const pixelValues: Float32Array[] = [];
  for (const path of paths) pixelValues.push(processor.preprocess(await loadRgbImage(path)).pixelValues);
  return embedder.embedImages(pixelValues);
}
