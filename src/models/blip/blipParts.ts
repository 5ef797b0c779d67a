import { UserError } from '../../errors.ts';
import type { CompiledGraph, HostTensor, RuntimeOptions } from '../../runtime/session.ts';
import { BertTokenizer } from '../bertTokenizer.ts';
import { type GenerationConfig, generationConfigFrom } from '../generation/index.ts';
import { BlipImageProcessor } from '../imageProcessing/blipImageProcessor.ts';
import { loadRgbImage, type RgbImage } from '../imageProcessing/rgbImage.ts';
import type { LoadModelOptions } from '../loadOptions.ts';
import { BlipDecoder } from './blipDecoder.ts';
import { type BlipModel, loadBlipModel } from './blipModel.ts';
import type { BlipArchitecture } from './config.ts';

export interface BlipLoadOptions extends RuntimeOptions, LoadModelOptions {}

/** An image file's path, or an image already decoded. */
export type BlipImage = string | RgbImage;

/**
 * What the captioner and VQA share: the checked model, its tokenizer and image processor (from the same
 * folder), the vision model (compiled on first use) and the text decoder.
 */
export class BlipParts {
  private vision: Promise<CompiledGraph> | undefined;
  readonly decoder: BlipDecoder;

  private constructor(
    readonly model: BlipModel,
    readonly tokenizer: BertTokenizer,
    readonly processor: BlipImageProcessor,
    readonly runtime: RuntimeOptions,
  ) {
    this.decoder = new BlipDecoder(model, runtime);
  }

  static async open(
    dir: string,
    architecture: BlipArchitecture,
    options: BlipLoadOptions = {},
  ): Promise<BlipParts> {
    const { variant, ...runtime } = options;
    const model = await loadBlipModel(dir, architecture, { variant });
    const [tokenizer, processor] = await Promise.all([
      BertTokenizer.fromFolder(dir),
      BlipImageProcessor.fromFolder(dir),
    ]);
    return new BlipParts(model, tokenizer, processor, runtime);
  }

  /** The image embeds [1, T, vision hidden] of one image, after BlipImageProcessor. */
  async imageEmbeds(image: BlipImage): Promise<HostTensor> {
    const rgb = typeof image === 'string' ? await loadRgbImage(image) : image;
    const { pixelValues, height, width } = this.processor.preprocess(rgb);
    const size = this.model.config.vision.imageSize;
    if (height !== size || width !== size) {
      throw new UserError(
        `${this.model.dir}: preprocessor_config.json makes ${width}×${height} images, but config.json's vision model ` +
          `takes ${size}×${size} (vision_config.image_size); make the two agree`,
      );
    }
    this.vision ??= this.model.compileVision(1, this.runtime);
    const { image_embeds } = await (await this.vision).run({ pixel_values: pixelValues });
    return image_embeds;
  }

  /**
   * The text decoder's generation settings: BLIP's generate calls `text_decoder.generate(eos_token_id =
   * sep_token_id, pad_token_id = pad_token_id, **kwargs)`, whose generation config comes from the text config
   * (the folder's generation_config.json belongs to the outer model and is not read). `overrides` are
   * generate's keyword arguments (snake_case).
   */
  generationConfig(overrides: Record<string, unknown>): GenerationConfig {
    const { sepTokenId, padTokenId } = this.model.config.text;
    return generationConfigFrom(this.model.rawTextConfig, undefined, {
      eos_token_id: sepTokenId,
      pad_token_id: padTokenId,
      ...overrides,
    });
  }

  async release(): Promise<void> {
    const vision = this.vision;
    this.vision = undefined;
    await Promise.all([this.decoder.release(), vision && (await vision).release()]);
  }
}
