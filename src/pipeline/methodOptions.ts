import { GUIDANCE_METHODS, guidanceMethod } from '../guidance/methods/index.ts';
import type { GenerationRequest, Method } from './request.ts';

/** A request field that does nothing with the chosen method. */
export interface InapplicableOption {
  /** The field, as `gsn.tv` or `tokens.attributes`. */
  readonly field: string;
  /** The methods it applies to, for the warning. */
  readonly appliesTo: string;
}

/**
 * The guidance options the chosen method ignores: plain SD reads no guidance option, and a guided method
 * none of another method's own settings and token fields (Attend & Excite has no attribute tokens and no total
 * variation, both Divide & Bind's). Returns the request without them, so they are neither run nor recorded (a
 * PNG's parameters say only what shaped it), and what was dropped.
 */
export function withoutInapplicableOptions(request: GenerationRequest): {
  request: GenerationRequest;
  dropped: InapplicableOption[];
} {
  const method: Method = request.method ?? 'sd';
  const dropped: InapplicableOption[] = [];
  if (method === 'sd') {
    const guided = GUIDANCE_METHODS.map((m) => m.name).join(' and ');
    for (const key of Object.keys(request.gsn ?? {}))
      dropped.push({ field: `gsn.${key}`, appliesTo: guided });
    for (const [key, value] of Object.entries(request.tokens ?? {})) {
      if (value !== undefined) dropped.push({ field: `tokens.${key}`, appliesTo: guided });
    }
    return { request: { ...request, gsn: undefined, tokens: undefined, traceMaps: undefined }, dropped };
  }
  const gsn = { ...request.gsn };
  const tokens = request.tokens ? { ...request.tokens } : undefined;
  // A field that the chosen method shares with another is kept.
  const chosen = guidanceMethod(method);
  const own = {
    settings: new Set<string>(chosen.ownSettings),
    tokenFields: new Set<string>(chosen.ownTokenFields),
  };
  for (const other of GUIDANCE_METHODS) {
    if (other.name === method) continue;
    for (const key of other.ownSettings) {
      if (gsn[key] === undefined || own.settings.has(key)) continue;
      dropped.push({ field: `gsn.${key}`, appliesTo: other.name });
      delete gsn[key];
    }
    for (const key of other.ownTokenFields) {
      if (tokens?.[key] === undefined || own.tokenFields.has(key)) continue;
      dropped.push({ field: `tokens.${key}`, appliesTo: other.name });
      delete tokens[key];
    }
  }
  return { request: { ...request, gsn: request.gsn && gsn, tokens }, dropped };
}
