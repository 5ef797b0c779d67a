import type { GenerationRequest, Method } from './request.ts';

/** A request field that does nothing with the chosen method. */
export interface InapplicableOption {
  /** The field, as `gsn.tv` or `tokens.attributes`. */
  readonly field: string;
  /** The methods it applies to, for the warning. */
  readonly appliesTo: string;
}

/**
 * The guidance options the chosen method ignores: Attend & Excite has no attribute tokens and no total
 * variation (both are Divide & Bind's), plain SD no guidance at all. Returns the request without them, so
 * they are neither run nor recorded (a PNG's parameters say only what shaped it), and what was dropped.
 */
export function withoutInapplicableOptions(request: GenerationRequest): {
  request: GenerationRequest;
  dropped: InapplicableOption[];
} {
  const method: Method = request.method ?? 'sd';
  const dropped: InapplicableOption[] = [];
  let { gsn, tokens, traceMaps } = request;
  if (method === 'sd') {
    const guidance = 'attend-excite and divide-bind';
    for (const key of Object.keys(gsn ?? {})) dropped.push({ field: `gsn.${key}`, appliesTo: guidance });
    for (const [key, value] of Object.entries(tokens ?? {})) {
      if (value !== undefined) dropped.push({ field: `tokens.${key}`, appliesTo: guidance });
    }
    gsn = undefined;
    tokens = undefined;
    traceMaps = undefined;
  } else if (method === 'attend-excite') {
    if (gsn?.tv !== undefined) {
      dropped.push({ field: 'gsn.tv', appliesTo: 'divide-bind' });
      const { tv: _tv, ...rest } = gsn;
      gsn = rest;
    }
    for (const key of ['attributes', 'attributeIndices'] as const) {
      if (tokens?.[key] === undefined) continue;
      dropped.push({ field: `tokens.${key}`, appliesTo: 'divide-bind' });
      const { [key]: _dropped, ...rest } = tokens;
      tokens = rest;
    }
  }
  return { request: { ...request, gsn, tokens, traceMaps }, dropped };
}
