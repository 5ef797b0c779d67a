// CLIPModel (transformers' `CLIPModel`: vision and text towers with their projections) on the graph engine.

export { ClipEmbedder, type ClipEmbedderOptions } from './clipEmbedder.ts';
export {
  buildClipModelTensors,
  type ClipFeatures,
  ClipModel,
  type ClipTextBatch,
  type CompileClipOptions,
  CompiledClipImageFeatures,
  CompiledClipTextFeatures,
  type FloatTensor,
  loadClipModel,
} from './clipModel.ts';
export {
  type ClipConfig,
  type ClipModelTextConfig,
  type ClipVisionConfig,
  parseClipConfig,
} from './config.ts';
export { type ClipEncoderConfig, clipEncoderLayer } from './encoderLayer.ts';
export { type ClipTextOutputs, clipTextFeatures, pooledTokenIndex } from './textFeatures.ts';
export { type ClipVisionOutputs, clipImageFeatures, clipVisionModel } from './visionModel.ts';
