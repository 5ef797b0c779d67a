// BLIP (transformers 4.33) on the graph engine: captioning (BlipForConditionalGeneration) and VQA
// (BlipForQuestionAnswering), as the A&E text-text metric and TIFA use them.

export {
  BlipCaptioner,
  type Caption,
  type CaptionOptions,
  cutPrefix,
  type PrefixCut,
} from './blipCaptioner.ts';
export { BlipDecoder, type CrossAttentionStates, DecodingRun } from './blipDecoder.ts';
export { BlipModel, buildBlipModelTensors, loadBlipModel } from './blipModel.ts';
export { type BlipImage, type BlipLoadOptions, BlipParts } from './blipParts.ts';
export { type Answer, BlipVqa, type VqaOptions } from './blipVqa.ts';
export {
  BLIP_ACTIVATIONS,
  BLIP_ARCHITECTURES,
  type BlipActivation,
  type BlipArchitecture,
  type BlipConfig,
  type BlipTextConfig,
  type BlipVisionConfig,
  parseBlipConfig,
  visionTokens,
} from './config.ts';
export { decoderStepGraph } from './decoderGraphs.ts';
export { QuestionEncoder, type QuestionStates } from './questionEncoder.ts';
export { blipTextModel, crossKeysValues, lmHead, textEmbeddings, textLayer } from './textModel.ts';
export { blipVisionModel } from './visionModel.ts';
