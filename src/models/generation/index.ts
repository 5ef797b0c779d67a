export { BeamHypotheses, type Hypothesis } from './beamHypotheses.ts';
export { beamSearch } from './beamSearch.ts';
export { generate } from './generate.ts';
export {
  decodeLimits,
  type GenerationConfig,
  generationConfigFrom,
  type LengthLimits,
} from './generationConfig.ts';
export { argmax, greedySearch } from './greedySearch.ts';
export {
  applyMinLength,
  applyRepetitionPenalty,
  processScores,
  type ScoreProcessing,
} from './logitsProcessors.ts';
export { logSoftmax } from './logSoftmax.ts';
export type { NextTokenLogits } from './nextTokenLogits.ts';
export { torchTopK } from './torchTopK.ts';
