import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { BlipImageProcessor } from '../../src/models/imageProcessing/blipImageProcessor.ts';
import { centerCrop } from '../../src/models/imageProcessing/centerCrop.ts';
import { ClipImageProcessor, shortestEdgeSize } from '../../src/models/imageProcessing/clipImageProcessor.ts';
import {
  bicubicFilter,
  resizeBicubic,
  resizeBicubicUint8,
} from '../../src/models/imageProcessing/pilBicubic.ts';
import { decodeRgbImage, loadRgbImage, type RgbImage } from '../../src/models/imageProcessing/rgbImage.ts';
import { openSafetensors, type SafetensorsFile } from '../../src/weights/safetensors.ts';
import { FIXTURES, tempDir } from '../helpers/fixtures.ts';
import { maxAbsDiff } from '../helpers/tensors.ts';
import { userErrorOf } from '../helpers/userError.ts';
import { encodePng, type PngSpec } from './imagePreprocessingPng.ts';

const EVAL = join(FIXTURES, 'eval');
const SPECS = join(EVAL, 'specs');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

interface PreprocessSpec {
  check: string;
  kind: 'clip_preprocess' | 'blip_preprocess';
  model: string;
  inputs: { image: string };
  expected: { file: string; tensors: Record<string, string> };
  tolerance: { uint8: 'exact'; pixel_values_max_abs: number };
}

const specs = (prefix: string): PreprocessSpec[] =>
  readdirSync(SPECS)
    .filter((name) => name.startsWith(prefix) && name.endsWith('.json'))
    .sort()
    .map((name) => readJson(join(SPECS, name)));
const CLIP_SPECS = specs('clip_preprocess_img');
const BLIP_SPECS = specs('blip_preprocess_img');

const goldenFiles = new Map<string, Promise<SafetensorsFile>>();
const goldenFile = (file: string) => {
  if (!goldenFiles.has(file)) goldenFiles.set(file, openSafetensors(join(EVAL, file)));
  return goldenFiles.get(file)!;
};

/** Our HWC image as the golden's `[1, 3, H, W]` uint8 layout. */
function chw(image: RgbImage): { shape: number[]; data: Uint8Array } {
  const plane = image.width * image.height;
  const data = new Uint8Array(3 * plane);
  for (let p = 0; p < plane; p++) for (let c = 0; c < 3; c++) data[c * plane + p] = image.data[p * 3 + c];
  return { shape: [1, 3, image.height, image.width], data };
}

async function expectUint8Golden(file: string, name: string, image: RgbImage): Promise<void> {
  const golden = await goldenFile(file);
  const actual = chw(image);
  expect(actual.shape, name).toEqual(golden.tensors.get(name)!.shape);
  const expected = await golden.readTyped(name, 'U8');
  // Exact: the resampler is Pillow's integer arithmetic (measured: 0 differing values in every image).
  expect(maxAbsDiff(actual.data, expected), name).toBe(0);
}

async function expectPixelValuesGolden(file: string, name: string, pixelValues: Float32Array, bound: number) {
  const golden = await goldenFile(file);
  const expected = await golden.readFloat32(name);
  const diff = maxAbsDiff(pixelValues, expected);
  // The spec's bound is 1e-5 abs; measured max |Δ| = 0 (bit-exact) for every image.
  expect(diff, name).toBeLessThanOrEqual(bound);
  expect(diff, `${name} should be bit-exact`).toBe(0);
}

describe('CLIPImageProcessor on the golden images (transformers 4.33, Pillow 9.4)', () => {
  it('has the five clip_preprocess specs', () => {
    expect(CLIP_SPECS.map((s) => s.check)).toEqual([0, 1, 2, 3, 4].map((k) => `clip_preprocess_img${k}`));
  });

  it.each(CLIP_SPECS.map((s) => [s.check, s] as const))(
    '%s: resized and cropped uint8, pixel values',
    async (_, spec) => {
      const processor = await ClipImageProcessor.fromFolder(join(EVAL, spec.model));
      const out = processor.preprocess(await loadRgbImage(join(EVAL, spec.inputs.image)));
      const { file, tensors } = spec.expected;
      await expectUint8Golden(file, tensors['resized_uint8']!, out.resized);
      await expectUint8Golden(file, tensors['cropped_uint8']!, out.cropped);
      expect([out.height, out.width]).toEqual([48, 48]);
      await expectPixelValuesGolden(
        file,
        tensors['pixel_values']!,
        out.pixelValues,
        spec.tolerance.pixel_values_max_abs,
      );
    },
  );

  it('stacks the five images into one [5, 3, 48, 48] batch in input order', async () => {
    const processor = await ClipImageProcessor.fromFolder(join(EVAL, 'clip-tiny'));
    const images = await Promise.all(CLIP_SPECS.map((s) => loadRgbImage(join(EVAL, s.inputs.image))));
    const batch = processor.preprocessBatch(images);
    expect(batch.shape).toEqual([5, 3, 48, 48]);
    const golden = await goldenFile('golden/clip.safetensors');
    const plane = 3 * 48 * 48;
    for (let k = 0; k < 5; k++) {
      const expected = await golden.readFloat32(`img${k}/pixel_values`);
      expect(maxAbsDiff(batch.pixelValues.subarray(k * plane, (k + 1) * plane), expected)).toBe(0);
    }
  });
});

describe('BlipImageProcessor on the golden images', () => {
  it('has the five blip_preprocess specs', () => {
    expect(BLIP_SPECS.map((s) => s.check)).toEqual([0, 1, 2, 3, 4].map((k) => `blip_preprocess_img${k}`));
  });

  it.each(BLIP_SPECS.map((s) => [s.check, s] as const))(
    '%s: resized uint8, pixel values',
    async (_, spec) => {
      const processor = await BlipImageProcessor.fromFolder(join(EVAL, spec.model));
      const out = processor.preprocess(await loadRgbImage(join(EVAL, spec.inputs.image)));
      const { file, tensors } = spec.expected;
      await expectUint8Golden(file, tensors['resized_uint8']!, out.resized);
      await expectPixelValuesGolden(
        file,
        tensors['pixel_values']!,
        out.pixelValues,
        spec.tolerance.pixel_values_max_abs,
      );
    },
  );

  it('gives the VQA model the same pixel values (its golden), as one [5, 3, 64, 64] batch', async () => {
    const processor = await BlipImageProcessor.fromFolder(join(EVAL, 'blip-vqa-tiny'));
    const images = await Promise.all(BLIP_SPECS.map((s) => loadRgbImage(join(EVAL, s.inputs.image))));
    const batch = processor.preprocessBatch(images);
    expect(batch.shape).toEqual([5, 3, 64, 64]);
    const golden = await goldenFile('golden/blip_vqa.safetensors');
    const plane = 3 * 64 * 64;
    for (let k = 0; k < 5; k++) {
      const expected = await golden.readFloat32(`img${k}/pixel_values`);
      expect(maxAbsDiff(batch.pixelValues.subarray(k * plane, (k + 1) * plane), expected)).toBe(0);
    }
  });
});

describe('decodeRgbImage: PIL convert("RGB") semantics', () => {
  const decode = (png: Buffer) => decodeRgbImage(png, 'test.png').then((image) => Array.from(image.data));

  it('decodes the 64x64 RGB fixture to the bytes BLIP keeps unresized (identity resize)', async () => {
    const image = await loadRgbImage(join(EVAL, 'images', 'rgb_64x64.png'));
    await expectUint8Golden('golden/blip_caption.safetensors', 'img0/resized_uint8', image);
  });

  it('drops alpha without compositing: the transparent pixels of rgba_75x70 keep their RGB', async () => {
    const path = join(EVAL, 'images', 'rgba_75x70.png');
    const rgba = await sharp(path).raw().toBuffer({ resolveWithObject: true });
    expect(rgba.info.channels).toBe(4);
    const image = await loadRgbImage(path);
    let transparentColoured = 0;
    for (let p = 0; p < image.width * image.height; p++) {
      const rgb = [0, 1, 2].map((c) => rgba.data[p * 4 + c]);
      expect(Array.from(image.data.subarray(p * 3, p * 3 + 3))).toEqual(rgb);
      if (rgba.data[p * 4 + 3] === 0 && rgb.some((v) => v !== 0)) transparentColoured++;
    }
    // Compositing on black or white would have changed these.
    expect(transparentColoured).toBeGreaterThan(0);
  });

  it('replicates gray (L, LA, 1-, 2-bit) and resolves palettes, transparent entries included', async () => {
    expect(
      await decode(encodePng({ width: 2, height: 1, colorType: 0, bitDepth: 8, samples: [7, 200] })),
    ).toEqual([7, 7, 7, 200, 200, 200]);
    expect(
      await decode(encodePng({ width: 2, height: 1, colorType: 4, bitDepth: 8, samples: [7, 0, 200, 128] })),
    ).toEqual([7, 7, 7, 200, 200, 200]);
    // PIL's "1" and "L;2" unpackers scale to 0/255 and 0/85/170/255.
    expect(
      await decode(encodePng({ width: 2, height: 1, colorType: 0, bitDepth: 1, samples: [1, 0] })),
    ).toEqual([255, 255, 255, 0, 0, 0]);
    expect(
      await decode(encodePng({ width: 2, height: 1, colorType: 0, bitDepth: 2, samples: [1, 2] })),
    ).toEqual([85, 85, 85, 170, 170, 170]);
    const palette: [number, number, number][] = [
      [10, 20, 30],
      [40, 50, 60],
      [70, 80, 90],
    ];
    const indexed: PngSpec = { width: 3, height: 1, colorType: 3, bitDepth: 8, samples: [2, 0, 1], palette };
    const expected = [70, 80, 90, 10, 20, 30, 40, 50, 60];
    expect(await decode(encodePng(indexed))).toEqual(expected);
    expect(await decode(encodePng({ ...indexed, paletteAlpha: [0, 128, 255] }))).toEqual(expected);
    expect(await decode(encodePng({ ...indexed, bitDepth: 4 }))).toEqual(expected);
  });

  it('converts 16-bit PNGs as Pillow 9.4: high byte for RGB(A) and gray+alpha, 16-bit gray clipped to 255', async () => {
    const rgb16 = { width: 2, height: 1, colorType: 2, bitDepth: 16 } as const;
    expect(
      await decode(encodePng({ ...rgb16, samples: [0x1234, 0xff00, 0x00ff, 0x8080, 0x7fff, 0xffff] })),
    ).toEqual([0x12, 0xff, 0x00, 0x80, 0x7f, 0xff]);
    expect(
      await decode(
        encodePng({ width: 1, height: 1, colorType: 6, bitDepth: 16, samples: [0x1234, 0xabcd, 0xff, 0] }),
      ),
    ).toEqual([0x12, 0xab, 0x00]);
    expect(
      await decode(
        encodePng({ width: 2, height: 1, colorType: 4, bitDepth: 16, samples: [0x1234, 0, 0xabcd, 0xffff] }),
      ),
    ).toEqual([0x12, 0x12, 0x12, 0xab, 0xab, 0xab]);
    // Mode "I" then i2rgb: values clip at 255 instead of being scaled.
    expect(
      await decode(
        encodePng({ width: 4, height: 1, colorType: 0, bitDepth: 16, samples: [0, 100, 255, 0x1234] }),
      ),
    ).toEqual([0, 0, 0, 100, 100, 100, 255, 255, 255, 255, 255, 255]);
  });

  it('ignores an embedded ICC profile and a gAMA chunk, as PIL does', async () => {
    const p3Png = await sharp(Buffer.from([200, 30, 40]), { raw: { width: 1, height: 1, channels: 3 } })
      .withIccProfile('p3')
      .png()
      .toBuffer();
    const iccProfile = (await sharp(p3Png).metadata()).icc!;
    const withIcc = encodePng({
      width: 1,
      height: 1,
      colorType: 2,
      bitDepth: 8,
      samples: [200, 30, 40],
      iccProfile,
    });
    expect(await decode(withIcc)).toEqual([200, 30, 40]);
    // sharp's default would have converted the samples to sRGB through the profile.
    expect(Array.from(await sharp(withIcc).raw().toBuffer())).not.toEqual([200, 30, 40]);
    const linear = encodePng({
      width: 1,
      height: 1,
      colorType: 2,
      bitDepth: 8,
      samples: [200, 30, 40],
      gamma: 1,
    });
    expect(await decode(linear)).toEqual([200, 30, 40]);
  });

  it('refuses what is not an image, an empty file, a truncated PNG and a missing file, naming the file', async () => {
    const folder = tempDir('dnb-image-');
    const write = (name: string, bytes: Uint8Array | string) => {
      const path = join(folder, name);
      writeFileSync(path, bytes);
      return path;
    };
    const text = write('notes.png', 'this is not an image');
    expect((await userErrorOf(loadRgbImage(text))).message).toMatch(
      /notes\.png is not an image that can be decoded/,
    );
    const empty = write('empty.png', new Uint8Array(0));
    expect((await userErrorOf(loadRgbImage(empty))).message).toContain('empty.png is empty, not an image');
    const png = readFileSync(join(EVAL, 'images', 'rgb_80x60.png'));
    const truncated = write('truncated.png', png.subarray(0, Math.floor(png.length / 2)));
    expect((await userErrorOf(loadRgbImage(truncated))).message).toContain('truncated.png');
    expect((await userErrorOf(loadRgbImage(join(folder, 'missing.png')))).message).toContain(
      'Cannot read the image',
    );
    const cmyk = await sharp(Buffer.alloc(4 * 4 * 3, 90), { raw: { width: 4, height: 4, channels: 3 } })
      .toColourspace('cmyk')
      .jpeg()
      .toBuffer();
    expect((await userErrorOf(decodeRgbImage(cmyk, 'print.jpg'))).message).toContain(
      'print.jpg is a CMYK image, which is not supported',
    );
  });
});

describe('Pillow bicubic resampler', () => {
  const row = (values: number[]): RgbImage => ({
    width: values.length,
    height: 1,
    data: Uint8Array.from(values.flatMap((v) => [v, v, v])),
  });
  const firstChannel = (image: RgbImage) => Array.from(image.data.filter((_, i) => i % 3 === 0));

  it("is Keys' cubic with a = -0.5", () => {
    expect(bicubicFilter(0)).toBe(1);
    expect(bicubicFilter(1) === 0).toBe(true); // -0 from the outer branch
    expect(bicubicFilter(2)).toBe(0);
    expect(bicubicFilter(0.5)).toBe(0.5625);
    expect(bicubicFilter(-1.5)).toBe(-0.0625);
    expect(bicubicFilter(3)).toBe(0);
  });

  it('copies the image at its own size (both passes skipped)', () => {
    const image = { width: 3, height: 2, data: Uint8Array.from({ length: 18 }, (_, i) => i * 13) };
    const out = resizeBicubic(image, 3, 2);
    expect(out).toEqual(image);
    expect(out.data).not.toBe(image.data);
  });

  it('spreads a 1-pixel image over any size, and keeps a constant image constant', () => {
    const pixel = { width: 1, height: 1, data: Uint8Array.from([9, 128, 250]) };
    const big = resizeBicubic(pixel, 5, 3);
    expect(big.data).toEqual(Uint8Array.from({ length: 45 }, (_, i) => [9, 128, 250][i % 3]));
    const flat = { width: 7, height: 5, data: new Uint8Array(105).fill(77) };
    for (const [w, h] of [
      [3, 2],
      [16, 11],
      [1, 1],
      [7, 9],
    ]) {
      expect(resizeBicubic(flat, w, h).data.every((v) => v === 77)).toBe(true);
    }
  });

  it('upsamples 2 -> 4 with the Keys weights and clips the overshoot', () => {
    // Output centres 0.25, 0.75, ... read both inputs with K(0.25) = 0.8671875, K(1.25) = -0.0703125
    // (normalised: 1.0882, -0.0882) and K(0.25), K(0.75) = 0.2265625 (0.7929, 0.2071):
    // [100, 200] -> 91.18, 120.71, 179.29, 208.82, rounded.
    expect(firstChannel(resizeBicubic(row([100, 200]), 4, 1))).toEqual([91, 121, 179, 209]);
    // [0, 255] -> -22.5 and 277.5 at the ends, clipped to 0 and 255.
    expect(firstChannel(resizeBicubic(row([0, 255]), 4, 1))).toEqual([0, 53, 202, 255]);
  });

  it('averages 2 -> 1 with the antialiased filter, rounding half up', () => {
    // filterscale 2: taps at -0.25 and +0.25 of the scaled kernel, equal weights 2^21 each.
    expect(firstChannel(resizeBicubic(row([10, 21]), 1, 1))).toEqual([16]);
    expect(firstChannel(resizeBicubic(row([10, 20]), 1, 1))).toEqual([15]);
  });

  it('resizes any channel count and each axis on its own', () => {
    const gray = { width: 2, height: 1, channels: 1, data: Uint8Array.from([100, 200]) };
    expect(Array.from(resizeBicubicUint8(gray, 4, 1).data)).toEqual([91, 121, 179, 209]);
    const column = { width: 1, height: 2, channels: 1, data: Uint8Array.from([100, 200]) };
    expect(Array.from(resizeBicubicUint8(column, 1, 4).data)).toEqual([91, 121, 179, 209]);
  });

  it('refuses a size that is not a positive integer', () => {
    expect(() => resizeBicubic(row([1, 2]), 0, 1)).toThrow(/width must be a positive integer/);
    expect(() => resizeBicubic(row([1, 2]), 2, 1.5)).toThrow(/height must be a positive integer/);
  });
});

describe('processor configs and steps', () => {
  const clip48 = { size: 48, crop_size: 48 };

  it('computes the shortest-edge sizes of the fixtures README', () => {
    expect(shortestEdgeSize(80, 60, 48)).toEqual({ width: 64, height: 48 });
    expect(shortestEdgeSize(50, 90, 48)).toEqual({ width: 48, height: 86 });
    expect(shortestEdgeSize(75, 70, 48)).toEqual({ width: 51, height: 48 });
    expect(shortestEdgeSize(40, 52, 48)).toEqual({ width: 48, height: 62 });
  });

  it('crops with floor offsets, and pads a too-small image with zeros as transformers does', () => {
    const image = { width: 5, height: 1, data: Uint8Array.from([1, 2, 3, 4, 5].flatMap((v) => [v, v, v])) };
    expect(Array.from(centerCrop(image, 1, 2).data)).toEqual([2, 2, 2, 3, 3, 3]);
    const padded = centerCrop(image, 1, 7);
    expect(padded.width).toBe(7);
    expect(Array.from(padded.data.filter((_, i) => i % 3 === 0))).toEqual([0, 1, 2, 3, 4, 5, 0]);
    // An odd shortfall: top = (1 - 4) // 2 = -2, pad = 1, window [-1, 3) clipped to [0, 3): 3 rows, not 4.
    expect(centerCrop(image, 4, 5).height).toBe(3);
  });

  it('reads the newer dict forms of size and crop_size the same as the legacy integers', async () => {
    const image = await loadRgbImage(join(EVAL, 'images', 'rgb_80x60.png'));
    const legacy = ClipImageProcessor.fromConfig(clip48, 'test').preprocess(image);
    const dicts = ClipImageProcessor.fromConfig(
      { size: { shortest_edge: 48 }, crop_size: { height: 48, width: 48 } },
      'test',
    ).preprocess(image);
    expect(dicts.pixelValues).toEqual(legacy.pixelValues);
    const exact = ClipImageProcessor.fromConfig(
      { size: { height: 30, width: 20 }, do_center_crop: false },
      'test',
    );
    expect(exact.preprocess(image).resized).toMatchObject({ width: 20, height: 30 });
    const blipInt = BlipImageProcessor.fromConfig({ size: 64 }, 'test').preprocess(image);
    const blipDict = BlipImageProcessor.fromConfig({ size: { height: 64, width: 64 } }, 'test').preprocess(
      image,
    );
    expect(blipDict.pixelValues).toEqual(blipInt.pixelValues);
  });

  it('applies the defaults (CLIP 224 crop 224, BLIP 384) and the do_* switches', async () => {
    const image = await loadRgbImage(join(EVAL, 'images', 'rgb_50x90.png'));
    expect(ClipImageProcessor.fromConfig({}, 'test').preprocess(image)).toMatchObject({
      width: 224,
      height: 224,
    });
    expect(BlipImageProcessor.fromConfig({}, 'test').preprocess(image)).toMatchObject({
      width: 384,
      height: 384,
    });
    const raw = ClipImageProcessor.fromConfig(
      { do_resize: false, do_center_crop: false, do_rescale: false, do_normalize: false },
      'test',
    ).preprocess(image);
    expect(raw.cropped).toBe(image);
    // Channel-first bytes as float32.
    expect(raw.pixelValues[0]).toBe(image.data[0]);
    expect(raw.pixelValues[50 * 90]).toBe(image.data[1]);
    const rescaled = BlipImageProcessor.fromConfig(
      { do_resize: false, do_normalize: false },
      'test',
    ).preprocess(image);
    expect(rescaled.pixelValues[1]).toBe(Math.fround(image.data[3] / 255));
  });

  it('refuses a batch of different sizes and configs it cannot honour', async () => {
    const noCrop = ClipImageProcessor.fromConfig({ size: 48, do_center_crop: false }, 'test');
    const images = await Promise.all(
      ['rgb_80x60', 'rgb_50x90'].map((n) => loadRgbImage(join(EVAL, 'images', `${n}.png`))),
    );
    expect(() => noCrop.preprocessBatch(images)).toThrow(
      /Image 1 is 48x86 after preprocessing, but image 0 is 64x48/,
    );
    expect(() => noCrop.preprocessBatch([])).toThrow(/at least one/);
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ resample: 2 }, /"resample" is 2, but only PIL bicubic \(3\) is implemented/],
      [{ size: 'big' }, /"size" should be an integer/],
      [{ size: { shortest_edge: 0 } }, /shortest_edge should be a positive integer/],
      [
        { crop_size: { shortest_edge: 48 } },
        /"crop_size" should be an integer or \{"height": H, "width": W\} here/,
      ],
      [{ image_std: [0.2, 0, 0.3] }, /"image_std" should be positive/],
      [{ image_mean: [0.5, 0.5] }, /"image_mean" should be three numbers/],
      [{ do_normalize: 'yes' }, /"do_normalize" should be true or false/],
    ];
    for (const [config, message] of bad)
      expect(() => ClipImageProcessor.fromConfig(config, 'cfg.json')).toThrow(message);
    expect(() => BlipImageProcessor.fromConfig({ size: { shortest_edge: 64 } }, 'cfg.json')).toThrow(
      /"size"/,
    );
  });

  it('refuses a folder without preprocessor_config.json, or with a broken one', async () => {
    const folder = tempDir('dnb-preprocessor-');
    expect((await userErrorOf(ClipImageProcessor.fromFolder(folder))).message).toContain(
      'preprocessor_config.json is missing',
    );
    writeFileSync(join(folder, 'preprocessor_config.json'), '{"size": ');
    expect((await userErrorOf(BlipImageProcessor.fromFolder(folder))).message).toContain('is not valid JSON');
  });
});
