/**
 * The package's public API: the text-to-image pipeline with its request, result and trace types, token
 * selection, the guidance settings, the PyTorch-compatible random numbers and the schedulers. For advanced use
 * (building and differentiating graphs, running them in ONNX Runtime, loading the models one by one) the graph
 * compiler and the model builders are exported as namespaces, beside the runtime's CompiledGraph.
 */
export { UserError } from './errors.ts';
/** The symbolic graph builder, its ops, reverse-mode differentiation and ONNX serialisation. */
export * as graph from './graph/index.ts';
export type { PhaseReport, RefinementReport } from './guidance/gsnPhase.ts';
/** The guidance-method registry: one definition per method (A&E, D&B); plain SD is `Method` 'sd'. */
export {
  GUIDANCE_METHODS,
  type GuidanceMethodDefinition,
  guidanceMethod,
  METHODS,
  methodLabel,
} from './guidance/methods/index.ts';
export {
  defaultSettings,
  type GsnSettings,
  type GuidanceMethod,
  parseThresholds,
  stepSizes,
} from './guidance/settings.ts';
export type { TvVariant } from './guidance/totalVariation.ts';
/** The evaluation metrics: CLIPScore, A&E's CLIP image-text and text-text similarities, TIFA accuracy. */
export * as metrics from './metrics/index.ts';
/** BLIP captioning and VQA (BlipCaptioner, BlipVqa), as the A&E text-text metric and TIFA use them. */
export * as blip from './models/blip/index.ts';
/** CLIPModel: image and text features, as the metrics use them. */
export * as clip from './models/clip/index.ts';
export { ClipTokenizer } from './models/clipTokenizer.ts';
/** The model builders: CLIP text encoder, UNet2DConditionModel (attention exposed), VAE decoder. */
export * as textEncoder from './models/textEncoder/index.ts';
export * as unet from './models/unet/index.ts';
export type { Rgb8Image } from './models/vae/index.ts';
export * as vae from './models/vae/index.ts';
/** The model-family registry (SD 1.x/2.x, SDXL) and SDXL's micro-conditioning. */
export { familyOf, MODEL_FAMILIES, type ModelFamily } from './pipeline/families/index.ts';
export type { MicroConditioning } from './pipeline/families/microConditioning.ts';
export { type GenerationPlan, type PlannedGuidance, planWarnings } from './pipeline/plan.ts';
export type { GenerationHooks, GenerationRequest, Method, ProgressEvent } from './pipeline/request.ts';
export {
  type GeneratedImage,
  type GenerationResult,
  type LoadOptions,
  StableDiffusion,
} from './pipeline/stableDiffusion.ts';
export type { GuidanceTrace, TraceStep } from './pipeline/trace.ts';
export {
  formatPromptTokens,
  formatTokenSelection,
  type SelectedToken,
  selectTokens,
  type TokenSelection,
  type TokenSpecification,
} from './prompt/index.ts';
export {
  type RandnOptions,
  type RandomDevice,
  randn,
  type Seed,
  TorchCpuGenerator,
  TorchCudaGenerator,
} from './random/index.ts';
export { cacheModel, defaultCacheDir } from './runtime/cache.ts';
export { DEVICES, type Device, parseDevice, setRuntimeLogging } from './runtime/providers.ts';
export { CompiledGraph, type HostTensor, hostZeros, type RuntimeOptions } from './runtime/session.ts';
export {
  type CreateSchedulerOptions,
  createScheduler,
  type Scheduler,
  type SchedulerKind,
} from './schedulers/index.ts';
export { openPytorchCheckpoint } from './weights/pytorchCheckpoint.ts';
export { type OpenModelOptions, openModel } from './weights/resolveModel.ts';
export {
  type ResolveTransformersModelOptions,
  resolveTransformersModel,
  type TransformersModelFiles,
} from './weights/resolveTransformersModel.ts';
export { openSafetensors, type SafetensorsFile } from './weights/safetensors.ts';
export { type TensorToWrite, writeSafetensors } from './weights/safetensorsWriter.ts';
