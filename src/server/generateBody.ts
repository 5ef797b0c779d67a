/**
 * Checks the JSON body of POST /api/generate field by field, so a mistake is a 400 with a message that names
 * the field instead of a failure halfway through a generation.
 */
import { UserError } from '../errors.ts';
import { isMethod, METHODS } from '../guidance/methods/index.ts';
import { GENERATION_LIMITS } from '../pipeline/limits.ts';
import type { StudioGenerateBody, StudioMethod, StudioTokenSpec } from './studioProtocol.ts';

const SCHEDULERS = ['pndm', 'ddim', 'euler', 'euler-a', 'dpm++'] as const;
/** The same bound as the CLI's and the library's. */
const MAX_STEPS = GENERATION_LIMITS.maxSteps;

type Fields = Record<string, unknown>;

export function parseGenerateBody(body: unknown): StudioGenerateBody {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new UserError('the request body must be a JSON object');
  }
  const fields = body as Fields;
  const prompt = fields['prompt'];
  if (typeof prompt !== 'string') throw new UserError('prompt must be a string');
  const methods = fields['methods'];
  if (!Array.isArray(methods) || methods.length === 0) {
    throw new UserError(`methods must be a non-empty list of ${METHODS.join(', ')}`);
  }
  for (const method of methods) {
    if (!isMethod(method)) {
      throw new UserError(`unknown method ${JSON.stringify(method)}; use ${METHODS.join(', ')}`);
    }
  }
  if (new Set(methods).size !== methods.length) throw new UserError('methods lists a method twice');

  const parsed: StudioGenerateBody = { prompt, methods: methods as StudioMethod[] };
  const negativePrompt = fields['negativePrompt'];
  if (negativePrompt !== undefined) {
    if (typeof negativePrompt !== 'string') throw new UserError('negativePrompt must be a string');
    parsed.negativePrompt = negativePrompt;
  }
  parsed.seed = optionalInteger(fields, 'seed', 0, Number.MAX_SAFE_INTEGER);
  parsed.steps = optionalInteger(fields, 'steps', 1, MAX_STEPS);
  const scale = fields['guidanceScale'];
  if (scale !== undefined) {
    if (typeof scale !== 'number' || !Number.isFinite(scale)) {
      throw new UserError('guidanceScale must be a number');
    }
    parsed.guidanceScale = scale;
  }
  const scheduler = fields['scheduler'];
  if (scheduler !== undefined) {
    if (!SCHEDULERS.includes(scheduler as (typeof SCHEDULERS)[number])) {
      throw new UserError(`unknown scheduler ${JSON.stringify(scheduler)}; use ${SCHEDULERS.join(', ')}`);
    }
    parsed.scheduler = scheduler as StudioGenerateBody['scheduler'];
  }
  if (fields['tokens'] !== undefined) parsed.tokens = parseTokenSpec(fields['tokens']);
  return parsed;
}

function optionalInteger(fields: Fields, name: string, min: number, max: number): number | undefined {
  const value = fields[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new UserError(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  }
  return value;
}

/** Leaves out empty lists, so a form's blank override fields mean "automatic". */
function parseTokenSpec(value: unknown): StudioTokenSpec {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new UserError(
      'tokens must be an object with objects, attributes, tokenIndices or attributeIndices',
    );
  }
  const fields = value as Fields;
  const spec: StudioTokenSpec = {};
  for (const key of ['objects', 'attributes'] as const) {
    const list = fields[key];
    if (list === undefined || (Array.isArray(list) && list.length === 0)) continue;
    if (!Array.isArray(list) || !list.every((item) => typeof item === 'string')) {
      throw new UserError(`tokens.${key} must be a list of words`);
    }
    spec[key] = list;
  }
  for (const key of ['tokenIndices', 'attributeIndices'] as const) {
    const list = fields[key];
    if (list === undefined || (Array.isArray(list) && list.length === 0)) continue;
    if (!Array.isArray(list) || !list.every((item) => Number.isInteger(item))) {
      throw new UserError(`tokens.${key} must be a list of token indices`);
    }
    spec[key] = list;
  }
  return spec;
}
