/**
 * HTML entity decoding as ftfy's `unescape_html` does it (ftfy 6.1.1): only complete references
 * `&name;`, `&#123;` or `&#x7b;` (1 to 24 letters or digits, then ';') are decoded.
 * - Names: the HTML5 names ending in ';', plus all-uppercase spellings of lowercase names
 *   (`&EACUTE;` -> 'É'), see textCleaningHtmlEntities.ts. Unknown names stay as they are.
 * - Numbers: decoded like Python's `html.unescape` (0 and surrogates -> U+FFFD, beyond U+10FFFF ->
 *   U+FFFD, 0x80-0x9F -> their Windows-1252 characters, other control or non-character code points
 *   -> removed); a reference that would decode to ';' is left alone, as ftfy does.
 * Whether to decode at all is the caller's choice (ftfy skips it once the text holds a '<').
 */
import { HTML_ENTITY_TABLE_JSON } from './textCleaningHtmlEntities.ts';

const ENTITY_REFERENCE = /&#?[0-9A-Za-z]{1,24};/g;

let namedEntities: Map<string, string> | null = null;

function entityTable(): Map<string, string> {
  // Parsed on first use: most prompts never contain '&'.
  namedEntities ??= new Map(Object.entries(JSON.parse(HTML_ENTITY_TABLE_JSON) as Record<string, string>));
  return namedEntities;
}

/** Windows-1252 meanings that HTML gives to the numeric references 0x80-0x9F. */
const WINDOWS_1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

function isRemovedCodePoint(code: number): boolean {
  return (
    (code >= 0x1 && code <= 0x8) ||
    code === 0xb ||
    (code >= 0xe && code <= 0x1f) ||
    (code >= 0x7f && code <= 0x9f) ||
    (code >= 0xfdd0 && code <= 0xfdef) ||
    (code & 0xfffe) === 0xfffe
  );
}

function decodeNumericReference(digits: string): string | null {
  let code: number;
  if (/^[0-9]+$/.test(digits)) code = Number.parseInt(digits, 10);
  else if (/^[xX][0-9a-fA-F]+$/.test(digits)) code = Number.parseInt(digits.slice(1), 16);
  else return null;
  if (code === 0) return '\ufffd';
  if (code === 0x0d) return '\r';
  if (code >= 0x80 && code <= 0x9f) return WINDOWS_1252_HIGH[code - 0x80]!;
  if ((code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) return '\ufffd';
  if (isRemovedCodePoint(code)) return '';
  return String.fromCodePoint(code);
}

function decodeReference(reference: string): string {
  if (reference.startsWith('&#')) {
    const decoded = decodeNumericReference(reference.slice(2, -1));
    // ftfy keeps the reference when decoding leaves a ';' (a failed decode, or `&#59;` itself).
    if (decoded === null || decoded.includes(';')) return reference;
    return decoded;
  }
  return entityTable().get(reference.slice(1)) ?? reference;
}

/** Decodes HTML character references the way ftfy's `unescape_html` does. */
export function unescapeHtml(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(ENTITY_REFERENCE, decodeReference);
}
