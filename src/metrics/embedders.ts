// What the metrics need from CLIP, as interfaces, so each metric can be tested with a fake and run with any model.

/** Raw (unnormalised) text embeddings, one per text, in order: CLIP's `get_text_features`. */
export interface TextEmbedder {
  embedTexts(texts: readonly string[]): Promise<Float32Array[]>;
}

/** Raw image embeddings of preprocessed images ([3, S, S] pixel values each): CLIP's `get_image_features`. */
export interface ImageEmbedder {
  embedImages(pixelValues: readonly Float32Array[]): Promise<Float32Array[]>;
}
