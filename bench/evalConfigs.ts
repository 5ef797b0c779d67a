// The evaluation models' shapes as their Hub repos configure them (openai/clip-vit-base-patch16,
// Salesforce/blip-image-captioning-base, Salesforce/blip-vqa-base), for seeded random weights: the cost of a
// network does not depend on the values of its weights.

const OPENAI_MEAN = [0.48145466, 0.4578275, 0.40821073];
const OPENAI_STD = [0.26862954, 0.26130258, 0.27577711];

export const CLIP_B16 = {
  architectures: ['CLIPModel'],
  model_type: 'clip',
  projection_dim: 512,
  logit_scale_init_value: 2.6592,
  text_config: {
    vocab_size: 49408,
    hidden_size: 512,
    intermediate_size: 2048,
    num_attention_heads: 8,
    num_hidden_layers: 12,
    max_position_embeddings: 77,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
    bos_token_id: 0,
    eos_token_id: 2,
    pad_token_id: 1,
    projection_dim: 512,
  },
  vision_config: {
    hidden_size: 768,
    intermediate_size: 3072,
    num_attention_heads: 12,
    num_hidden_layers: 12,
    image_size: 224,
    patch_size: 16,
    hidden_act: 'quick_gelu',
    layer_norm_eps: 1e-5,
    projection_dim: 512,
  },
};

export const CLIP_PREPROCESSOR = {
  crop_size: 224,
  do_center_crop: true,
  do_normalize: true,
  do_resize: true,
  feature_extractor_type: 'CLIPFeatureExtractor',
  image_mean: OPENAI_MEAN,
  image_std: OPENAI_STD,
  resample: 3,
  size: 224,
};

const BLIP_TEXT = {
  vocab_size: 30524,
  hidden_size: 768,
  encoder_hidden_size: 768,
  intermediate_size: 3072,
  num_attention_heads: 12,
  num_hidden_layers: 12,
  max_position_embeddings: 512,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-12,
  bos_token_id: 30522,
  eos_token_id: 2,
  pad_token_id: 0,
  sep_token_id: 102,
};

const BLIP_VISION = {
  hidden_size: 768,
  intermediate_size: 3072,
  num_attention_heads: 12,
  num_hidden_layers: 12,
  image_size: 384,
  patch_size: 16,
  hidden_act: 'gelu',
  layer_norm_eps: 1e-5,
};

export const BLIP_CAPTION_BASE = {
  architectures: ['BlipForConditionalGeneration'],
  model_type: 'blip',
  projection_dim: 512,
  text_config: BLIP_TEXT,
  vision_config: BLIP_VISION,
};

export const BLIP_VQA_BASE = { ...BLIP_CAPTION_BASE, architectures: ['BlipForQuestionAnswering'] };

export const BLIP_PREPROCESSOR = {
  do_normalize: true,
  do_resize: true,
  image_mean: OPENAI_MEAN,
  image_std: OPENAI_STD,
  image_processor_type: 'BlipImageProcessor',
  processor_class: 'BlipProcessor',
  size: 384,
};
