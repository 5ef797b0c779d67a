import { join } from 'node:path';
import { ClipTokenizer } from '../../models/clipTokenizer.ts';
import { type CompiledTextEncoder, loadTextEncoder } from '../../models/textEncoder/index.ts';
import { loadUNet } from '../../models/unet/index.ts';
import { loadVaeDecoder } from '../../models/vae/index.ts';
import { readComponentConfig } from '../../weights/diffusersFolder.ts';
import { stackRows } from './conditioningRows.ts';
import type { LoadedFamilyModel, ModelFamily } from './modelFamily.ts';

/**
 * Stable Diffusion 1.x and 2.x: one CLIP tokenizer and text encoder whose last hidden state conditions the
 * UNet; no negative prompt means "" (ALGORITHM.md §2).
 */
export const stableDiffusionFamily: ModelFamily = {
  name: 'sd',
  label: 'Stable Diffusion 1.x/2.x',
  pipelineClasses: ['StableDiffusionPipeline'],
  components: ['text_encoder', 'tokenizer', 'unet', 'vae', 'scheduler'],
  defaultGuidanceScale: 7.5,
  microConditioned: false,
  async load(folder, { variant, dtype, runtime }): Promise<LoadedFamilyModel> {
    const [textEncoder, unet, vae, schedulerConfig] = await Promise.all([
      loadTextEncoder(folder, { variant }),
      loadUNet(folder, { variant, dtype }),
      loadVaeDecoder(folder, { variant }),
      readComponentConfig(folder, 'scheduler'),
    ]);
    const tokenizer = ClipTokenizer.fromFolder(join(folder.root, 'tokenizer'));
    let compiled: Promise<CompiledTextEncoder> | undefined;
    const encode = async (text: string): Promise<Float32Array> => {
      const { inputIds } = tokenizer.encode(text);
      compiled ??= textEncoder.compile({ batch: 1, length: inputIds.length, ...runtime });
      return (await (await compiled).run([inputIds])).data as Float32Array;
    };
    return {
      family: stableDiffusionFamily,
      tokenizer,
      unet,
      vae,
      schedulerConfig,
      lossPassScalesInput: false,
      async condition({ prompt, negativePrompt }) {
        const conditional = await encode(prompt);
        const unconditional = await encode(negativePrompt ?? '');
        return {
          guided: { encoder_hidden_states: stackRows(unconditional, conditional) },
          conditional: { encoder_hidden_states: conditional },
        };
      },
      async release() {
        if (compiled) await (await compiled).release();
      },
    };
  },
};
