import { UserError } from '../../errors.ts';
import type { PipelineComponent } from '../diffusersFolder.ts';
import type { TensorInfo } from '../safetensorsHeader.ts';

/** The model families a single-file checkpoint may hold. */
export type CheckpointFamily = 'sd1' | 'sd2' | 'sdxl';

export const UNET_PREFIX = 'model.diffusion_model.';
export const VAE_PREFIX = 'first_stage_model.';

export interface TextEncoderSlot {
  readonly component: Extract<PipelineComponent, 'text_encoder' | 'text_encoder_2'>;
  readonly prefix: string;
  /** `clip`: Hugging Face CLIPTextModel names; `openclip`: OpenCLIP's, converted (textEncoderKeys.ts). */
  readonly kind: 'clip' | 'openclip';
}

/** Where each family keeps its text encoders (SD 1.x: CLIP ViT-L; SD 2.x: OpenCLIP ViT-H; SDXL: both kinds). */
export const TEXT_ENCODER_SLOTS: Readonly<Record<CheckpointFamily, readonly TextEncoderSlot[]>> = {
  sd1: [{ component: 'text_encoder', prefix: 'cond_stage_model.transformer.', kind: 'clip' }],
  sd2: [{ component: 'text_encoder', prefix: 'cond_stage_model.model.', kind: 'openclip' }],
  sdxl: [
    { component: 'text_encoder', prefix: 'conditioner.embedders.0.transformer.', kind: 'clip' },
    { component: 'text_encoder_2', prefix: 'conditioner.embedders.1.model.', kind: 'openclip' },
  ],
};

const FAMILY_NAMES: Readonly<Record<CheckpointFamily, string>> = {
  sd1: 'a Stable Diffusion 1.x',
  sd2: 'a Stable Diffusion 2.x',
  sdxl: 'an SDXL base',
};

/** The family's name with its article, e.g. `an SDXL base`. */
export function familyName(family: CheckpointFamily): string {
  return FAMILY_NAMES[family];
}

/**
 * The family of an original-layout checkpoint, from its keys, as diffusers 0.21.4 decides it (SDXL base: an
 * OpenCLIP encoder in `conditioner.embedders.1`; SD 2.x: OpenCLIP in `cond_stage_model`, where diffusers probes
 * a 1024-wide cross-attention key; else SD 1.x). diffusers probes layer 9 of the OpenCLIP encoder; this looks
 * at the prefix, which holds for every real file and for small test models too. What this program cannot run is
 * refused with one line: the SDXL refiner, inpainting and other UNets with more than 4 input channels,
 * ControlNets, LoRAs and files with no UNet.
 */
export function detectFamily(path: string, tensors: ReadonlyMap<string, TensorInfo>): CheckpointFamily {
  const keys = [...tensors.keys()];
  const hasPrefix = (prefix: string) => keys.some((key) => key.startsWith(prefix));
  const refuse = (what: string): never => {
    throw new UserError(`${path}: ${what}`);
  };

  if (keys.some((key) => key.startsWith('lora_') || key.includes('.lora_'))) {
    refuse('is a LoRA (lora_* keys), not a full checkpoint; give the checkpoint the LoRA was trained on');
  }
  if (!hasPrefix(UNET_PREFIX)) {
    if (hasPrefix('control_model.')) refuse('is a ControlNet checkpoint, which this program does not run');
    refuse(
      `has no ${UNET_PREFIX}* keys, so it is not a full Stable Diffusion checkpoint in the original layout ` +
        '(a VAE, LoRA or embedding file?)',
    );
  }
  const convIn = tensors.get(`${UNET_PREFIX}input_blocks.0.0.weight`);
  if (!convIn) refuse(`has no ${UNET_PREFIX}input_blocks.0.0.weight (the UNet's conv_in)`);
  const inChannels = convIn?.shape[1];
  if (inChannels === 9) {
    refuse(
      'is an inpainting checkpoint (its UNet takes 9 input channels); only text-to-image models are supported',
    );
  }
  if (inChannels !== 4) {
    refuse(
      `has a UNet with ${inChannels} input channels; only text-to-image models (4 latent channels) are supported`,
    );
  }
  if (hasPrefix('conditioner.embedders.1.model.')) return 'sdxl';
  if (hasPrefix('conditioner.embedders.0.model.')) {
    refuse(
      'is an SDXL refiner checkpoint (one OpenCLIP text encoder, conditioner.embedders.0.model.*), ' +
        'which this program does not run; give an SDXL base checkpoint',
    );
  }
  if (hasPrefix('cond_stage_model.model.')) return 'sd2';
  if (hasPrefix('cond_stage_model.transformer.')) return 'sd1';
  return refuse(
    'has no text encoder keys (cond_stage_model.transformer.*, cond_stage_model.model.* or ' +
      'conditioner.embedders.*), so it is not a Stable Diffusion 1.x, 2.x or SDXL checkpoint',
  );
}

/**
 * Keys of original checkpoints that no diffusers component holds, read by no one: the DDPM noise schedule's
 * buffers (the scheduler config says the same), EMA copies (diffusers 0.21.4 loads the non-EMA weights unless
 * told otherwise) and SGM's denoiser sigmas.
 */
export function isUnusedKey(key: string): boolean {
  return SCHEDULE_BUFFERS.has(key) || key.startsWith('model_ema.') || key.startsWith('denoiser.');
}

const SCHEDULE_BUFFERS = new Set([
  'betas',
  'alphas_cumprod',
  'alphas_cumprod_prev',
  'sqrt_alphas_cumprod',
  'sqrt_one_minus_alphas_cumprod',
  'log_one_minus_alphas_cumprod',
  'sqrt_recip_alphas_cumprod',
  'sqrt_recipm1_alphas_cumprod',
  'posterior_variance',
  'posterior_log_variance_clipped',
  'posterior_mean_coef1',
  'posterior_mean_coef2',
  'logvar',
  'lvlb_weights',
]);
