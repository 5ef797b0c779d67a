/**
 * The guidance methods, one file each. Everything that lists methods (the CLI's choices, the studio's names,
 * the server's checks, the benchmark's labels) reads this registry; a new method is a new file added here.
 */
import { UserError } from '../../errors.ts';
import { attendAndExciteMethod } from './attendAndExcite.ts';
import { divideAndBindMethod } from './divideAndBind.ts';
import type { GuidanceMethodDefinition } from './guidanceMethod.ts';

export type { GuidanceMethodDefinition, GuidanceTokens, ObjectiveContext } from './guidanceMethod.ts';

export const GUIDANCE_METHODS = [attendAndExciteMethod, divideAndBindMethod] as const;

export type GuidanceMethod = (typeof GUIDANCE_METHODS)[number]['name'];

/** Every way to generate: plain Stable Diffusion, or one of the guidance methods. */
export type Method = 'sd' | GuidanceMethod;

const PLAIN = { name: 'sd', label: 'Stable Diffusion', shortLabel: 'SD' } as const;

export const METHODS: readonly Method[] = [PLAIN.name, ...GUIDANCE_METHODS.map((method) => method.name)];

export function guidanceMethod(name: GuidanceMethod): GuidanceMethodDefinition<GuidanceMethod> {
  const method = GUIDANCE_METHODS.find((m) => m.name === name);
  if (!method) throw new UserError(`unknown guidance method "${name}"; one of ${METHODS.join(', ')}`);
  return method as GuidanceMethodDefinition<GuidanceMethod>;
}

export function isMethod(name: unknown): name is Method {
  return typeof name === 'string' && (METHODS as readonly string[]).includes(name);
}

/** The names people read: "Divide & Bind" / "D&B"; a name outside the registry is shown as it is. */
export function methodLabel(name: string, form: 'long' | 'short' = 'long'): string {
  const method = [PLAIN, ...GUIDANCE_METHODS].find((m) => m.name === name);
  if (!method) return name;
  return form === 'long' ? method.label : method.shortLabel;
}
