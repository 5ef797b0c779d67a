import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { assertFinite, NonFiniteError } from '../../src/pipeline/finiteCheck.ts';
import { attentionScoreBytes, checkMemoryFits, GENERATION_LIMITS } from '../../src/pipeline/limits.ts';
import { withoutInapplicableOptions } from '../../src/pipeline/methodOptions.ts';
import { validateRequest } from '../../src/pipeline/request.ts';
import { parseGenerateBody } from '../../src/server/generateBody.ts';

const SD15 = { heads: [8, 8, 8, 8], hasAttention: [true, true, true, false] };
const GIB = 1024 ** 3;

describe('generation limits, the same for the library, the CLI and the studio', () => {
  it('refuses more than 500 steps, everywhere', () => {
    // The CLI accepted 1001 steps while the studio capped at 500; PNDM fails at 1000 (no timestep 1000).
    expect(() => validateRequest({ prompt: 'x', steps: 1001 })).toThrow(
      /steps must be an integer from 1 to 500/,
    );
    expect(() => validateRequest({ prompt: 'x', steps: 500 })).not.toThrow();
    expect(parseGenerateBody({ prompt: 'x', methods: ['sd'], steps: 500 }).steps).toBe(500);
    expect(() => parseGenerateBody({ prompt: 'x', methods: ['sd'], steps: 501 })).toThrow(
      `steps must be an integer from 1 to ${GENERATION_LIMITS.maxSteps}`,
    );
  });

  it('refuses sides over 4096 pixels and too many images', () => {
    expect(() => validateRequest({ prompt: 'x', height: 100000, width: 512 })).toThrow(
      /height 100000 is over the 4096-pixel limit/,
    );
    expect(() => validateRequest({ prompt: 'x', numImages: 65 })).toThrow(/from 1 to 64, got 65/);
  });

  it('estimates the attention scores: 1 GiB for SD 1.5 at 512 px, ×16 per doubled side', () => {
    // 2 (CFG batch) · 8 heads · (64·64)² · 4 bytes
    expect(attentionScoreBytes(SD15, 64, 64)).toBe(2 * 8 * 4096 ** 2 * 4);
    expect(attentionScoreBytes(SD15, 64, 64) / GIB).toBe(1);
    expect(attentionScoreBytes(SD15, 128, 128)).toBe(16 * GIB);
    // A finest block without attention: the next block's half-size tokens count.
    expect(attentionScoreBytes({ heads: [5, 10], hasAttention: [false, true] }, 64, 64)).toBe(
      2 * 10 * 1024 ** 2 * 4,
    );
  });

  it('refuses a size that cannot fit, with the numbers', () => {
    const size = { height: 2048, width: 2048, h: 256, w: 256 };
    const error = (() => {
      try {
        checkMemoryFits(SD15, size, 64 * GIB);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(UserError);
    expect((error as Error).message).toMatch(
      /^2048×2048 cannot fit: one UNet pass needs at least 256\.0 GiB for its attention scores alone, and this machine has 64\.0 GiB/,
    );
    expect(() => checkMemoryFits(SD15, { height: 512, width: 512, h: 64, w: 64 }, 8 * GIB)).not.toThrow();
  });

  it('refuses attribute lists of the wrong length the same way by index and by word', () => {
    expect(() =>
      validateRequest({ prompt: 'x', tokens: { tokenIndices: [3, 7], attributeIndices: [2] } }),
    ).toThrow(/there are 1 attribute for 2 objects: give one attribute per object, 0 for none/);
    expect(() =>
      validateRequest({ prompt: 'x', tokens: { objects: ['dog', 'crown'], attributes: ['purple'] } }),
    ).toThrow(/there are 1 attribute for 2 objects: give one attribute per object, - for none/);
    expect(() =>
      validateRequest({ prompt: 'x', tokens: { objects: ['dog', 'crown'], attributeIndices: [2, 0] } }),
    ).not.toThrow();
  });
});

describe('options of another method', () => {
  it("drops D&B's tv and attributes from an attend-excite request and says which", () => {
    const { request, dropped } = withoutInapplicableOptions({
      prompt: 'x',
      method: 'attend-excite',
      gsn: { tv: 'paper', scaleFactor: 10 },
      tokens: { tokenIndices: [3], attributeIndices: [2] },
    });
    expect(dropped.map((d) => d.field)).toEqual(['gsn.tv', 'tokens.attributeIndices']);
    expect(request.gsn).toEqual({ scaleFactor: 10 });
    expect(request.tokens).toEqual({ tokenIndices: [3] });
  });

  it('keeps everything for divide-bind and drops all guidance for plain SD', () => {
    const given = { prompt: 'x', gsn: { tv: 'paper' as const }, tokens: { objects: ['dog'] } };
    expect(withoutInapplicableOptions({ ...given, method: 'divide-bind' }).dropped).toEqual([]);
    const plain = withoutInapplicableOptions({ ...given, method: 'sd' });
    expect(plain.dropped.map((d) => d.field)).toEqual(['gsn.tv', 'tokens.objects']);
    expect(plain.request.gsn).toBeUndefined();
    expect(plain.request.tokens).toBeUndefined();
  });
});

describe('assertFinite', () => {
  it('passes finite values and names the step, the count and the likely causes otherwise', () => {
    expect(() =>
      assertFinite(Float32Array.from([0, -1e30, 3]), { what: 'latents', image: 0, dtype: 'float32' }),
    ).not.toThrow();
    const values = Float32Array.from([1, Number.POSITIVE_INFINITY, Number.NaN]);
    expect(() =>
      assertFinite(values, { what: 'latents', image: 1, loopIndex: 7, timestep: 641, dtype: 'float16' }),
    ).toThrow(
      'image 2: the latents hold 2 non-finite value(s) (first: Inf) after loop index 7 (timestep 641); ' +
        'stopped, nothing written for this image: likely float16 overflow (try --dtype fp32) or corrupt weights',
    );
    expect(() => assertFinite(values, { what: 'decoded image', image: 0, dtype: 'float32' })).toThrow(
      NonFiniteError,
    );
  });
});
