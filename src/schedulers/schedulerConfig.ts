import { UserError } from '../errors.ts';

/** A parsed `scheduler_config.json` (or any diffusers scheduler config dict). */
export type RawSchedulerConfig = Readonly<Record<string, unknown>>;

type ConfigValue = number | string | boolean | null | readonly number[];

/**
 * Resolves `raw` against one scheduler class's `__init__` defaults, as diffusers' `from_config` does:
 * every parameter of the class takes the config's value when present and the class default when
 * missing; keys the class does not take (`_class_name`, another scheduler's options) are ignored.
 * Non-finite numbers may be given as the strings "Infinity", "-Infinity" and "NaN".
 */
export function resolveConfig<T extends Record<string, ConfigValue>>(
  raw: RawSchedulerConfig,
  defaults: T,
  schedulerName: string,
): T {
  const resolved: Record<string, ConfigValue> = {};
  for (const [key, fallback] of Object.entries(defaults)) {
    const value = raw[key];
    resolved[key] = value === undefined ? fallback : checkedValue(value, fallback, key, schedulerName);
  }
  return resolved as T;
}

function checkedValue(
  value: unknown,
  fallback: ConfigValue,
  key: string,
  schedulerName: string,
): ConfigValue {
  if (value === null) return null;
  if (typeof value === 'string' && (typeof fallback === 'number' || fallback === null)) {
    const nonFinite = {
      Infinity: Number.POSITIVE_INFINITY,
      '-Infinity': Number.NEGATIVE_INFINITY,
      NaN: Number.NaN,
    };
    if (value in nonFinite) return nonFinite[value as keyof typeof nonFinite];
  }
  if (Array.isArray(value) && value.every((v) => typeof v === 'number')) return value as number[];
  const expected = fallback === null ? typeof value : typeof fallback;
  if (typeof value !== expected || !['number', 'string', 'boolean'].includes(typeof value)) {
    throw new UserError(
      `${schedulerName} config: "${key}" should be a ${expected}, got ${JSON.stringify(value)}`,
    );
  }
  return value as ConfigValue;
}

/** Throws a UserError naming the config key when `value` is not one of `allowed`. */
export function requireOneOf<V extends string>(
  value: string,
  allowed: readonly V[],
  key: string,
  schedulerName: string,
): V {
  if ((allowed as readonly string[]).includes(value)) return value as V;
  throw new UserError(
    `${schedulerName}: ${key} "${value}" is not supported; choose one of ${allowed.map((a) => `"${a}"`).join(', ')}`,
  );
}
