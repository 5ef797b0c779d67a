import { BlipCaptioner } from '../src/models/blip/blipCaptioner.ts';
import { BlipVqa } from '../src/models/blip/blipVqa.ts';
import { loadClipModel } from '../src/models/clip/clipModel.ts';
import type { RgbImage } from '../src/models/imageProcessing/rgbImage.ts';
import type { RuntimeOptions } from '../src/runtime/session.ts';
import { evalBenchModels } from './evalModels.ts';
import { randomTensor } from './randomWeights.ts';
import { formatTiming, type Timing, time } from './stats.ts';

/** Images per CLIP run: what the benchmark scorer batches. */
const CLIP_BATCH = 8;
const CAPTION = { numBeams: 3, maxLength: 30, minLength: 30, prefix: 'a picture of ' } as const;
const QUESTION = 'what is the man holding?';

export interface EvaluationPeaks {
  /** GFLOP/s of the conv microbenchmark (the UNet's peak) and the matmul one (the transformers'). */
  conv: number;
  matmul: number;
}

/**
 * The evaluation stage of `npm run bench`: images/s of the CLIP vision tower (and texts/s of the text tower), a
 * 3-beam 30-token BLIP caption against one BLIP image-encoder pass, and a BLIP VQA answer, in fp32 on the CPU,
 * on models shaped like the ones the papers scored with.
 */
export async function benchEvaluation(
  cacheDir: string,
  runtime: RuntimeOptions,
  reps: number,
  peaks: EvaluationPeaks,
  log: (line: string) => void,
): Promise<Record<string, unknown>> {
  log('\n== evaluation models (CLIP ViT-B/16, BLIP base captioning and VQA), fp32 ==');
  const folders = await evalBenchModels(cacheDir, { log });
  const out: Record<string, unknown> = {};
  const rate = (flops: number, t: Timing) => {
    const gflops = flops / t.median / 1e9;
    return { gflops, fractionOfConvPeak: gflops / peaks.conv, fractionOfMatmulPeak: gflops / peaks.matmul };
  };

  const clip = await loadClipModel(folders['clip-vit-base-patch16']);
  const image = await clip.compileImageFeatures({ batch: CLIP_BATCH, ...runtime });
  const pixels = randomTensor('pixels', [CLIP_BATCH, 3, 224, 224], 7);
  const imageTiming = await time(reps, () => image.run(pixels));
  const imageFlops = image.graph.flops().total;
  out.clipImage = {
    batch: CLIP_BATCH,
    timing: imageTiming,
    flops: imageFlops,
    ...rate(imageFlops, imageTiming),
  };
  await image.release();
  const imageRate = out.clipImage as ReturnType<typeof rate>;
  log(
    `clip_image ×${CLIP_BATCH}  ${formatTiming(imageTiming)} → ${(CLIP_BATCH / imageTiming.median).toFixed(1)} images/s, ` +
      `${imageRate.gflops.toFixed(1)} GFLOP/s (${(100 * imageRate.fractionOfMatmulPeak).toFixed(0)}% of matmul, ` +
      `${(100 * imageRate.fractionOfConvPeak).toFixed(0)}% of conv)`,
  );

  const text = await clip.compileTextFeatures({ batch: CLIP_BATCH, ...runtime });
  const ids = clip.tokenize(
    Array.from({ length: CLIP_BATCH }, (_, i) => `a photo of a dog and a cat number ${i}`),
  );
  const textTiming = await time(reps, () => text.run(ids));
  const textFlops = text.graph.flops().total;
  out.clipText = { batch: CLIP_BATCH, timing: textTiming, flops: textFlops, ...rate(textFlops, textTiming) };
  await text.release();
  log(
    `clip_text ×${CLIP_BATCH}   ${formatTiming(textTiming)} → ${(CLIP_BATCH / textTiming.median).toFixed(1)} texts/s`,
  );

  const picture: RgbImage = { width: 384, height: 384, data: randomBytes(384 * 384 * 3) };
  const captioner = await BlipCaptioner.load(folders['blip-image-captioning-base'], runtime);
  const encoderTiming = await time(reps, () => captioner.parts.imageEmbeds(picture));
  let tokens = 0;
  const captionTiming = await time(reps, async () => {
    const [caption] = await captioner.caption([picture], CAPTION);
    tokens = caption.tokenIds.length;
  });
  await captioner.release();
  const captionRatio = captionTiming.median / encoderTiming.median;
  out.blipImageEncoder = { timing: encoderTiming };
  out.blipCaption = { ...CAPTION, tokens, timing: captionTiming, ratioToImageEncoder: captionRatio };
  log(`blip_vision     ${formatTiming(encoderTiming)}`);
  log(
    `blip_caption    ${formatTiming(captionTiming)} (3 beams, ${tokens} tokens, image encoder included) = ` +
      `${captionRatio.toFixed(2)}× one image-encoder pass`,
  );

  const vqa = await BlipVqa.load(folders['blip-vqa-base'], runtime);
  let answerTokens = 0;
  const vqaTiming = await time(reps, async () => {
    const [answer] = await vqa.answer(picture, [QUESTION], { maxLength: 10 });
    answerTokens = answer.tokenIds.length;
  });
  await vqa.release();
  out.blipVqa = { question: QUESTION, maxLength: 10, tokens: answerTokens, timing: vqaTiming };
  log(
    `blip_vqa        ${formatTiming(vqaTiming)} (one answer of ${answerTokens} tokens, image encoder included)`,
  );
  return out;
}

/** Seeded pseudo-random pixels (xorshift32): a BLIP image whose content does not matter to the cost. */
function randomBytes(n: number): Uint8Array {
  const bytes = new Uint8Array(n);
  let state = 2463534242;
  for (let i = 0; i < n; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 255;
  }
  return bytes;
}
