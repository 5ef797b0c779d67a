import { SdxlTextConditioning } from '../../models/sdxl/textConditioning.ts';
import { loadUNet } from '../../models/unet/index.ts';
import { loadVaeDecoder } from '../../models/vae/index.ts';
import { readComponentConfig } from '../../weights/diffusersFolder.ts';
import { stackRows } from './conditioningRows.ts';
import { timeIds } from './microConditioning.ts';
import type { LoadedFamilyModel, ModelFamily } from './modelFamily.ts';

/**
 * SDXL (diffusers 0.21.4's StableDiffusionXLPipeline): two tokenizers and text encoders whose penultimate
 * states are concatenated, the second's pooled projection and the micro-conditioning time ids as the UNet's
 * added conditioning; no negative prompt gives zero embeddings (`force_zeros_for_empty_prompt`).
 *
 * The guidance's loss pass feeds the UNet Euler's scaled input z / sqrt(σ² + 1) and differentiates with respect
 * to z, the latent the scheduler holds: the official A&E/D&B code has no SDXL version, and feeding the unscaled
 * latent (std ≈ σ) to a model trained on scaled inputs is what that code would do by accident (fixtures README,
 * "SDXL", "The input scaling is a choice").
 */
export const stableDiffusionXlFamily: ModelFamily = {
  name: 'sdxl',
  label: 'SDXL',
  pipelineClasses: ['StableDiffusionXLPipeline'],
  components: ['text_encoder', 'text_encoder_2', 'tokenizer', 'tokenizer_2', 'unet', 'vae', 'scheduler'],
  defaultGuidanceScale: 5,
  microConditioned: true,
  async load(folder, { variant, dtype, runtime }): Promise<LoadedFamilyModel> {
    const [text, unet, vae, schedulerConfig] = await Promise.all([
      SdxlTextConditioning.load(folder, { variant, ...runtime }),
      loadUNet(folder, { variant, dtype }),
      loadVaeDecoder(folder, { variant }),
      readComponentConfig(folder, 'scheduler'),
    ]);
    const forceZeros = folder.modelIndex['force_zeros_for_empty_prompt'] !== false;
    return {
      family: stableDiffusionXlFamily,
      tokenizer: text.parts.tokenizer,
      unet,
      vae,
      schedulerConfig,
      lossPassScalesInput: true,
      async condition({ prompt, negativePrompt, microConditioning }) {
        const conditional = await text.encode(prompt);
        const unconditional =
          negativePrompt === undefined && forceZeros
            ? {
                embeds: new Float32Array(conditional.embeds.length),
                pooled: new Float32Array(conditional.pooled.length),
              }
            : await text.encode(negativePrompt ?? '');
        const ids = timeIds(microConditioning!);
        return {
          guided: {
            encoder_hidden_states: stackRows(unconditional.embeds, conditional.embeds),
            text_embeds: stackRows(unconditional.pooled, conditional.pooled),
            // The negative half gets the same time ids.
            time_ids: stackRows(ids, ids),
          },
          conditional: {
            encoder_hidden_states: conditional.embeds,
            text_embeds: conditional.pooled,
            time_ids: ids,
          },
        };
      },
      release: () => text.release(),
    };
  },
};
