/**
 * Reading `preprocessor_config.json` (CLIPImageProcessor / CLIPFeatureExtractor, BlipImageProcessor)
 * with transformers' defaults and its size forms:
 *   - an integer `size`: the shortest edge for CLIP (`get_size_dict(size, default_to_square=False)`),
 *     a square for BLIP and for `crop_size`;
 *   - `{"shortest_edge": N}`; `{"height": H, "width": W}`.
 * Only bicubic resampling (PIL's `resample` 3, the processors' default) is implemented.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../../errors.ts';
import type { PixelNormalization } from './pixelValues.ts';

export type RawConfig = Record<string, unknown>;

/** transformers' OPENAI_CLIP_MEAN / OPENAI_CLIP_STD, the default of both processors. */
export const OPENAI_CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const OPENAI_CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;
/** PIL's `Image.BICUBIC`. */
const PIL_BICUBIC = 3;

export type ImageSize = { shortestEdge: number } | { height: number; width: number };

export class ConfigReader {
  constructor(
    readonly config: RawConfig,
    /** The file, for error messages. */
    readonly source: string,
  ) {}

  private fail(key: string, what: string): never {
    throw new UserError(`${this.source}: "${key}" ${what}. Fix the value or download the file again.`);
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.config[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'boolean') this.fail(key, `should be true or false, not ${JSON.stringify(value)}`);
    return value;
  }

  positiveNumber(key: string, fallback: number): number {
    const value = this.config[key];
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !(value > 0))
      this.fail(key, `should be a positive number, not ${JSON.stringify(value)}`);
    return value;
  }

  triple(
    key: string,
    fallback: readonly [number, number, number],
    positive: boolean,
  ): [number, number, number] {
    const value = this.config[key];
    if (value === undefined || value === null) return [...fallback];
    // A single number means the same value for the three channels, as transformers accepts.
    const list = typeof value === 'number' ? [value, value, value] : value;
    if (
      !Array.isArray(list) ||
      list.length !== 3 ||
      !list.every((v) => typeof v === 'number' && Number.isFinite(v))
    ) {
      this.fail(key, `should be three numbers (R, G, B), not ${JSON.stringify(value)}`);
    }
    if (positive && !list.every((v) => v > 0))
      this.fail(key, `should be positive, not ${JSON.stringify(value)}`);
    return list as [number, number, number];
  }

  /** A size in one of transformers' forms; an integer means `integerMeans`. */
  size(key: string, fallback: ImageSize, integerMeans: 'shortestEdge' | 'square'): ImageSize {
    const value = this.config[key];
    if (value === undefined || value === null) return fallback;
    const pixels = (v: unknown, what: string): number => {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
        this.fail(key, `${what} should be a positive integer`);
      return v;
    };
    if (typeof value === 'number') {
      const n = pixels(value, 'the size');
      return integerMeans === 'square' ? { height: n, width: n } : { shortestEdge: n };
    }
    if (typeof value === 'object' && !Array.isArray(value)) {
      const dict = value as Record<string, unknown>;
      const keys = Object.keys(dict).sort().join(',');
      if (keys === 'shortest_edge') return { shortestEdge: pixels(dict['shortest_edge'], 'shortest_edge') };
      if (keys === 'height,width') {
        return { height: pixels(dict['height'], 'height'), width: pixels(dict['width'], 'width') };
      }
    }
    this.fail(
      key,
      `should be an integer, {"shortest_edge": N} or {"height": H, "width": W}, not ${JSON.stringify(value)}`,
    );
  }

  /** A size that must be a rectangle: an integer (a square) or `{"height", "width"}`. */
  heightWidth(key: string, fallback: { height: number; width: number }): { height: number; width: number } {
    const size = this.size(key, fallback, 'square');
    if ('shortestEdge' in size)
      this.fail(key, 'should be an integer or {"height": H, "width": W} here, not a shortest edge');
    return size;
  }

  /** Refuses a resampling filter other than bicubic. */
  bicubicResample(): void {
    const value = this.config['resample'];
    if (value !== undefined && value !== null && value !== PIL_BICUBIC) {
      this.fail('resample', `is ${JSON.stringify(value)}, but only PIL bicubic (3) is implemented`);
    }
  }

  normalization(): PixelNormalization {
    return {
      doRescale: this.boolean('do_rescale', true),
      rescaleFactor: this.positiveNumber('rescale_factor', 1 / 255),
      doNormalize: this.boolean('do_normalize', true),
      mean: this.triple('image_mean', OPENAI_CLIP_MEAN, false),
      std: this.triple('image_std', OPENAI_CLIP_STD, true),
    };
  }
}

/** Reads `preprocessor_config.json` of a model folder. */
export async function readPreprocessorConfig(folder: string): Promise<ConfigReader> {
  const path = join(folder, 'preprocessor_config.json');
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new UserError(
      missing
        ? `${path} is missing: the model folder should hold the preprocessor_config.json of its Hugging Face repository`
        : `Cannot read ${path}: ${(error as Error).message}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new UserError(`${path} is not valid JSON (${(error as Error).message}); download it again`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UserError(`${path} should hold a JSON object; download it again`);
  }
  return new ConfigReader(json as RawConfig, path);
}
