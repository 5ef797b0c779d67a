/**
 * Parsers for option values. They throw commander's InvalidArgumentError, so a malformed value is a usage
 * error that names the option ("option '--steps <n>' argument 'x' is invalid. …", exit code 2).
 */
import { InvalidArgumentError } from 'commander';
import { parseThresholds } from '../guidance/settings.ts';
import type { Seed } from '../random/index.ts';

export function positiveInteger(text: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new InvalidArgumentError('expected a positive integer.');
  }
  return value;
}

export function nonNegativeInteger(text: string): number {
  const value = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(value)) {
    throw new InvalidArgumentError('expected a non-negative integer.');
  }
  return value;
}

export function finiteNumber(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new InvalidArgumentError('expected a number.');
  return value;
}

/** A seed as PyTorch takes it: 0 … 2^64−1, kept exact past 2^53 as a bigint. */
export function seed(text: string): Seed {
  if (!/^\s*\d+\s*$/.test(text) || BigInt(text) >= 2n ** 64n) {
    throw new InvalidArgumentError('expected an integer from 0 to 18446744073709551615.');
  }
  const value = BigInt(text);
  return value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
}

/** "3,7" → [3, 7]. */
export function integerList(text: string): number[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => !/^\d+$/.test(p))) {
    throw new InvalidArgumentError('expected comma-separated non-negative integers, e.g. 3,7.');
  }
  return parts.map(Number);
}

/** "dog,crown" → ["dog", "crown"]; empty items are mistakes. */
export function wordList(text: string): string[] {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.some((p) => p === ''))
    throw new InvalidArgumentError('expected comma-separated words, e.g. dog,crown.');
  return parts;
}

/** "1,0.5" → [1, 0.5]. */
export function numberPair(text: string): [number, number] {
  const parts = text.split(',').map((p) => p.trim());
  const values = parts.map(Number);
  if (parts.length !== 2 || parts.some((p) => p === '') || !values.every(Number.isFinite)) {
    throw new InvalidArgumentError('expected two comma-separated numbers, e.g. 1,0.5.');
  }
  return [values[0], values[1]];
}

/** "100,50" → [100, 50]. */
export function integerPair(text: string): [number, number] {
  const pair = numberPair(text);
  if (!pair.every((v) => Number.isSafeInteger(v) && v >= 0)) {
    throw new InvalidArgumentError('expected two comma-separated non-negative integers, e.g. 100,50.');
  }
  return pair;
}

/** "0:0.05,10:0.2,20:0.3" → Map { 0 → 0.05, 10 → 0.2, 20 → 0.3 }. */
export function thresholds(text: string): Map<number, number> {
  try {
    const map = parseThresholds(text);
    if (map.size === 0) throw new Error('no thresholds');
    return map;
  } catch {
    throw new InvalidArgumentError('expected LOOP_INDEX:VALUE pairs, e.g. 0:0.05,10:0.2,20:0.3.');
  }
}

/** "0-63" or "0,5,10-12" → [0, 1, …, 63] or [0, 5, 10, 11, 12]: benchmark seeds, each below 2^53, no repeats. */
export function seedList(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',').map((p) => p.trim())) {
    const range = /^(\d+)(?:-(\d+))?$/.exec(part);
    const [first, last] = range ? [Number(range[1]), Number(range[2] ?? range[1])] : [Number.NaN, 0];
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) {
      throw new InvalidArgumentError('expected seeds like 0-63 or 0,5,10-12 (ranges ascending).');
    }
    if (last - first >= 1_000_000) throw new InvalidArgumentError('expected at most a million seeds.');
    for (let s = first; s <= last; s++) seeds.push(s);
  }
  if (new Set(seeds).size !== seeds.length) throw new InvalidArgumentError('a seed is listed twice.');
  return seeds;
}
