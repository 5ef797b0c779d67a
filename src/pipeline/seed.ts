import { randomInt } from 'node:crypto';

/** A random seed as planning draws one when the request has none (a caller can draw it first to show it). */
export function drawSeed(): number {
  return randomInt(2 ** 32);
}
