/**
 * Writes prompt-set JSON the way the project's formatter (biome, line width 110) lays it out, so the shipped
 * files in src/benchmark/sets/ pass `npm run lint` as generated and the generator reproduces them byte for
 * byte. JSON.stringify alone puts every array element on its own line, which biome folds back.
 */

const LINE_WIDTH = 110;
const INDENT = '  ';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The value as formatted JSON text with a final newline. */
export function formatPromptSetJson(value: unknown): string {
  return `${formatValue(JSON.parse(JSON.stringify(value)) as Json, '', '', '')}\n`;
}

/** `prefix` is what precedes the value on its line (`"key": `), `suffix` what follows it (`,` or nothing). */
function formatValue(value: Json, indent: string, prefix: string, suffix: string): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const inner = indent + INDENT;
  if (Array.isArray(value)) {
    if (value.length === 0) return '[]';
    const flat = value.every((item) => item === null || typeof item !== 'object');
    const inline = `[${value.map((item) => JSON.stringify(item)).join(', ')}]`;
    if (flat && indent.length + prefix.length + inline.length + suffix.length <= LINE_WIDTH) return inline;
    const items = value.map((item, i) => {
      const comma = i < value.length - 1 ? ',' : '';
      return `${inner}${formatValue(item, inner, '', comma)}${comma}`;
    });
    return `[\n${items.join('\n')}\n${indent}]`;
  }
  const entries = Object.entries(value);
  if (entries.length === 0) return '{}';
  const lines = entries.map(([key, item], i) => {
    const comma = i < entries.length - 1 ? ',' : '';
    const keyText = `${JSON.stringify(key)}: `;
    return `${inner}${keyText}${formatValue(item, inner, keyText, comma)}${comma}`;
  });
  return `{\n${lines.join('\n')}\n${indent}}`;
}
