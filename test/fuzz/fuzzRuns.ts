/** What every fuzz property shares: the case count and the "loads or refuses with a UserError" check. */
import fc from 'fast-check';
import { expect } from 'vitest';
import { UserError } from '../../src/errors.ts';

/** Cases per property: bounded in CI (300, each file well under 20 s); `FUZZ_RUNS=100000` for a long run. */
export const RUNS = Number(process.env['FUZZ_RUNS'] ?? 300);

/**
 * Each property's time limit: the suite's 300 s, or 20 ms a case for long runs (the slowest property takes
 * about 1.2 ms a case on an idle core, so a loaded, niced run still fits while a hang is still ended).
 */
export const FUZZ_TIMEOUT_MS = Math.max(300_000, RUNS * 20);

/**
 * The seed of every property in this file, so a run can be repeated: `FUZZ_SEED`, or one drawn here. Long runs
 * print it (CI's short ones stay quiet); fast-check prints it anyway with a counterexample.
 */
export const SEED = Number(process.env['FUZZ_SEED'] ?? Math.floor(Math.random() * 2 ** 31));
fc.configureGlobal({ ...fc.readConfigureGlobal(), seed: SEED });
if (RUNS > 300) console.log(`fuzz seed ${SEED} (FUZZ_SEED=${SEED} repeats this run)`);

/**
 * Runs `load` and accepts either a result or the project's own UserError with a one-line message: any other
 * exception (a TypeError from deep inside, a RangeError) fails the property.
 */
export async function loadsOrRefuses(load: () => unknown): Promise<void> {
  try {
    await load();
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    expect(error.message).not.toContain('\n');
    expect(error.message.length).toBeGreaterThan(0);
  }
}

/**
 * A JSON object changed by up to four edits: a key removed, a value replaced by any JSON value, or a key
 * added. Top-level only; nested values come from fc.jsonValue, which reaches arrays and objects.
 */
export function mutatedObject(base: Record<string, unknown>): fc.Arbitrary<Record<string, unknown>> {
  const keys = Object.keys(base);
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...keys) }),
    fc.record({
      kind: fc.constant('replace' as const),
      key: fc.constantFrom(...keys),
      value: fc.jsonValue(),
    }),
    fc.record({
      kind: fc.constant('add' as const),
      key: fc.string({ maxLength: 12 }),
      value: fc.jsonValue(),
    }),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    const object: Record<string, unknown> = structuredClone(base);
    for (const e of edits) {
      if (e.kind === 'delete') delete object[e.key];
      else object[e.key] = e.value;
    }
    return object;
  });
}

/** Bytes with up to four single-byte changes, insertions or cuts. */
export function mutatedBytes(base: Uint8Array): fc.Arbitrary<Uint8Array> {
  const edit = fc.record({
    kind: fc.constantFrom('set', 'insert', 'cut'),
    at: fc.nat(base.length),
    value: fc.integer({ min: 0, max: 255 }),
  });
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let bytes = Array.from(base);
    for (const { kind, at, value } of edits) {
      const i = Math.min(at, bytes.length);
      if (kind === 'set' && i < bytes.length) bytes[i] = value;
      else if (kind === 'insert') bytes.splice(i, 0, value);
      else bytes = [...bytes.slice(0, i), ...bytes.slice(i + 1)];
    }
    return Uint8Array.from(bytes);
  });
}
