import { UserError } from '../errors.ts';

/**
 * Typed reads of a model's config.json with the library's defaults, and errors that name the file,
 * the key and the value that cannot be used.
 */
export class ConfigReader {
  constructor(
    /** The config file, for messages. */
    readonly path: string,
    readonly raw: Record<string, unknown>,
  ) {}

  /** A value the implementation does not support: names the key, the value and what is supported. */
  unsupported(key: string, supported: string): UserError {
    return new UserError(
      `${this.path}: "${key}" is ${JSON.stringify(this.raw[key])}, which is not supported (${supported})`,
    );
  }

  positiveInt(key: string, fallback: number): number {
    const value = this.raw[key] ?? fallback;
    if (!(typeof value === 'number' && Number.isInteger(value) && value > 0)) {
      throw this.unsupported(key, 'expected a positive integer');
    }
    return value;
  }

  positiveNumber(key: string, fallback: number): number {
    const value = this.raw[key] ?? fallback;
    if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw this.unsupported(key, 'expected a positive number');
    }
    return value;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw[key] ?? fallback;
    if (typeof value !== 'boolean') throw this.unsupported(key, 'expected true or false');
    return value;
  }

  oneOf<T extends string>(key: string, fallback: T, choices: readonly T[]): T {
    const value = this.raw[key] ?? fallback;
    if (!(choices as readonly unknown[]).includes(value)) {
      throw this.unsupported(key, `supported: ${choices.join(', ')}`);
    }
    return value as T;
  }

  positiveInts(key: string, fallback: readonly number[]): number[] {
    const value = this.raw[key] ?? fallback;
    if (
      !Array.isArray(value) ||
      value.length === 0 ||
      !value.every((v) => typeof v === 'number' && Number.isInteger(v) && v > 0)
    ) {
      throw this.unsupported(key, 'expected a non-empty list of positive integers');
    }
    return value as number[];
  }

  strings(key: string, fallback: readonly string[]): string[] {
    const value = this.raw[key] ?? fallback;
    if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
      throw this.unsupported(key, 'expected a list of strings');
    }
    return value as string[];
  }

  /** Attention splits hidden_size evenly over the heads: `num_attention_heads` must divide it. */
  headsDivide(hiddenSize: number, heads: number): void {
    if (hiddenSize % heads !== 0) {
      throw this.unsupported(
        'num_attention_heads',
        `hidden_size ${hiddenSize} must be a multiple of the number of heads`,
      );
    }
  }

  /** Keys that must be absent or null because the implementation has no use for another value. */
  nullOrAbsent(key: string, why: string): void {
    if (this.raw[key] !== undefined && this.raw[key] !== null) throw this.unsupported(key, why);
  }
}
