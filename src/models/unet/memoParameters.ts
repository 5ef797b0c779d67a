import type { Graph, Value } from '../../graph/index.ts';
import type { ParameterSource } from '../parameterSource.ts';

/**
 * A parameter source that hands out each weight once per graph, so a graph that runs the model twice (a
 * guidance pass and a denoising pass) binds every weight as one initializer.
 */
export class MemoParameters implements ParameterSource {
  constructor(
    private readonly root: ParameterSource,
    private readonly cache: Map<string, Value> = new Map(),
    private readonly prefix = '',
  ) {}

  get graph(): Graph {
    return this.root.graph;
  }

  get(name: string, shape: readonly number[]): Value {
    const full = this.join(name);
    const cached = this.cache.get(full);
    if (cached && cached.shape.length === shape.length && cached.shape.every((d, i) => d === shape[i])) {
      return cached;
    }
    const value = this.root.get(full, shape);
    this.cache.set(full, value);
    return value;
  }

  has(name: string): boolean {
    return this.root.has(this.join(name));
  }

  scope(name: string): MemoParameters {
    return new MemoParameters(this.root, this.cache, this.join(name));
  }

  private join(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }
}
