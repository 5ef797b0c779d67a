import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { type GenerateOptions, gsnOverrides, unusedGuidanceOptions } from '../../src/cli/generateOptions.ts';
import { integerList, integerPair, numberPair, seed, thresholds } from '../../src/cli/optionParsers.ts';
import { numberedPaths } from '../../src/cli/outputFiles.ts';

const options = (extra: Partial<GenerateOptions>): GenerateOptions => ({
  model: 'm',
  method: 'divide-bind',
  rng: 'cpu',
  steps: 50,
  guidance: 7.5,
  negativePrompt: '',
  out: 'x.png',
  ...extra,
});

describe('option values', () => {
  it('parse lists, pairs, thresholds and 64-bit seeds', () => {
    expect(integerList('3, 7')).toEqual([3, 7]);
    expect(numberPair('1,0.5')).toEqual([1, 0.5]);
    expect(integerPair('100,50')).toEqual([100, 50]);
    expect([...thresholds('0:0.05,10:0.2')]).toEqual([
      [0, 0.05],
      [10, 0.2],
    ]);
    expect(seed('2702')).toBe(2702);
    expect(seed('18446744073709551615')).toBe(2n ** 64n - 1n);
  });

  it.each([
    [integerList, '3,x'],
    [integerList, '3,,7'],
    [numberPair, '1'],
    [integerPair, '1.5,2'],
    [thresholds, '0:0.05,10'],
    [thresholds, ''],
    [seed, '-1'],
    [seed, '18446744073709551616'],
  ])('reject malformed values as usage errors (%o, %s)', (parse, text) => {
    expect(() => parse(text)).toThrow(InvalidArgumentError);
  });
});

describe('guidance options', () => {
  it('override only what was given', () => {
    expect(gsnOverrides(options({ scaleFactor: 3, refinementCaps: [3, 3] }))).toEqual({
      scaleFactor: 3,
      refinementCaps: [3, 3],
    });
  });

  it('are reported as unused with plain SD', () => {
    expect(unusedGuidanceOptions(options({ method: 'sd', objects: ['dog'], scaleFactor: 3 }))).toEqual([
      '--objects',
      '--scale-factor',
    ]);
    expect(unusedGuidanceOptions(options({ objects: ['dog'] }))).toEqual([]);
  });
});

describe('numbered output paths', () => {
  it('number several images before the extension and leave one image as named', () => {
    expect(numberedPaths('out/x.png', 1)).toEqual(['out/x.png']);
    expect(numberedPaths('out/x.png', 3)).toEqual(['out/x-0.png', 'out/x-1.png', 'out/x-2.png']);
    expect(numberedPaths('trace', 2)).toEqual(['trace-0', 'trace-1']);
  });
});
