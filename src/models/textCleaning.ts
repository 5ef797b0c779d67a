/**
 * The text cleaning CLIP's tokenizer applies before BPE, as transformers' slow `CLIPTokenizer`
 * does with ftfy installed: `whitespace_clean(ftfy.fix_text(text)).lower()`.
 *
 * There is no JavaScript ftfy, so `fixText` implements the subset of ftfy 6.1.1's `fix_text` (default
 * settings) that prompts meet, from ftfy's documented behaviour. Like ftfy, it works line by line,
 * and on each line repeats these steps, in ftfy's order, until the line stops changing:
 *   1. HTML entities (`&amp;` -> '&', `&#233;`, `&EACUTE;`), unless a '<' has appeared in this or an
 *      earlier line (ftfy's `unescape_html="auto"`; ftfy looks only for '<', not '>').
 *   2. Mojibake of UTF-8 read as Latin-1 / Windows-1252 (`cafÃ©` -> `café`); see textCleaningMojibake.ts
 *      for what part of ftfy's `fix_encoding` this is.
 *   3. C1 controls -> their Windows-1252 characters.
 *   4. Latin ligatures and digraphs -> letters (`ﬁ` -> `fi`, `ĳ` -> `ij`, `ǆ` -> `dž`).
 *   5. Fullwidth and halfwidth forms (U+FF01-U+FFEF) -> their NFKC forms (`ＡＢＣ` -> `ABC`, halfwidth
 *      katakana -> katakana), ideographic space -> space.
 *   6. Curly quotes -> straight (U+2018-U+201B and U+02BC -> ', U+201C-U+201F -> ").
 *   7. Line breaks (\r\n, \r, U+2028, U+2029, U+0085) -> \n.
 *   8. Lone surrogates -> U+FFFD (paired ones are already one character in JavaScript).
 *   9. ANSI terminal escapes (`ESC[36m`) removed.
 *  10. Control characters removed: U+0000-U+0008, U+000B, U+000E-U+001F, U+007F, U+206A-U+206F,
 *      U+FEFF, U+FFF9-U+FFFC (tab, newlines, joiners, bidi marks, tags stay).
 *  11. NFC normalisation.
 * Not implemented: the parts of ftfy's mojibake repair listed in textCleaningMojibake.ts (its badness
 * heuristic, other single-byte encodings, no-break-space and lossy-sequence recovery); lines longer
 * than ftfy's 1,000,000-character segment limit are not split. Unicode data (letters, NFC/NFKC,
 * lower-casing) is Node's ICU, which may be a newer Unicode version than the Python the goldens used.
 */
import { unescapeHtml } from './textCleaningHtml.ts';
import { fixC1Controls, fixEncoding } from './textCleaningMojibake.ts';

const LIGATURES: Record<string, string> = {
  Ĳ: 'IJ',
  ĳ: 'ij',
  ŉ: 'ʼn',
  Ǳ: 'DZ',
  ǲ: 'Dz',
  ǳ: 'dz',
  Ǆ: 'DŽ',
  ǅ: 'Dž',
  ǆ: 'dž',
  Ǉ: 'LJ',
  ǈ: 'Lj',
  ǉ: 'lj',
  Ǌ: 'NJ',
  ǋ: 'Nj',
  ǌ: 'nj',
  ﬀ: 'ff',
  ﬁ: 'fi',
  ﬂ: 'fl',
  ﬃ: 'ffi',
  ﬄ: 'ffl',
  ﬅ: 'ſt',
  ﬆ: 'st',
};
const LIGATURE = new RegExp(`[${Object.keys(LIGATURES).join('')}]`, 'gu');

const WIDTH_FORM = /[\u3000\uff01-\uffef]/g;
function standardWidth(char: string): string {
  return char === '\u3000' ? ' ' : char.normalize('NFKC');
}

const SINGLE_CURLY_QUOTE = /[\u02bc\u2018-\u201b]/g;
const DOUBLE_CURLY_QUOTE = /[\u201c-\u201f]/g;
const LINE_BREAK = /\r\n|[\r\u2028\u2029\u0085]/g;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
// biome-ignore lint/suspicious/noControlCharactersInRegex: these escapes are what is being removed.
const TERMINAL_ESCAPE = /\u001b\[(?:\p{Nd}|;)*[a-zA-Z]/gu;
const CONTROL_CHARACTER =
  // biome-ignore lint/suspicious/noControlCharactersInRegex: these characters are what is being removed.
  /[\u0000-\u0008\u000b\u000e-\u001f\u007f\u206a-\u206f\ufeff\ufff9-\ufffc]/g;

function fixLine(line: string, decodeEntities: boolean): string {
  let text = line;
  for (;;) {
    const before = text;
    if (decodeEntities) text = unescapeHtml(text);
    text = fixEncoding(text);
    text = fixC1Controls(text);
    text = text.replace(LIGATURE, (char) => LIGATURES[char]!);
    text = text.replace(WIDTH_FORM, standardWidth);
    text = text.replace(SINGLE_CURLY_QUOTE, "'").replace(DOUBLE_CURLY_QUOTE, '"');
    text = text.replace(LINE_BREAK, '\n');
    text = text.replace(LONE_SURROGATE, '\ufffd');
    text = text.replace(TERMINAL_ESCAPE, '');
    text = text.replace(CONTROL_CHARACTER, '');
    text = text.normalize('NFC');
    if (text === before) return text;
  }
}

/** The subset of `ftfy.fix_text(text)` (ftfy 6.1.1, default settings) described above. */
export function fixText(text: string): string {
  let decodeEntities = true;
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    const newline = text.indexOf('\n', start);
    const end = newline === -1 ? text.length : newline + 1;
    const line = text.slice(start, end);
    // ftfy turns entity decoding off for the rest of the text at the first line holding a '<'.
    if (line.includes('<')) decodeEntities = false;
    out.push(fixLine(line, decodeEntities));
    start = end;
  }
  return out.join('');
}

/**
 * Python's `\s` on str (what `whitespace_clean` uses): Unicode White_Space plus U+001C-U+001F.
 * JavaScript's `\s` differs (it has U+FEFF, lacks U+001C-U+001F and U+0085), so the set is spelled out.
 */
export const PYTHON_WHITESPACE_CLASS =
  '\\t\\n\\v\\f\\r\\u001c-\\u001f \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';
const WHITESPACE_RUN = new RegExp(`[${PYTHON_WHITESPACE_CLASS}]+`, 'g');
const EDGE_WHITESPACE = new RegExp(`^[${PYTHON_WHITESPACE_CLASS}]+|[${PYTHON_WHITESPACE_CLASS}]+$`, 'g');

/** CLIP's `whitespace_clean`: every whitespace run becomes one space, then the ends are stripped. */
export function whitespaceClean(text: string): string {
  return text.replace(WHITESPACE_RUN, ' ').replace(EDGE_WHITESPACE, '');
}

/** What CLIP's BPE sees: `whitespace_clean(fix_text(text)).lower()`. */
export function cleanClipText(text: string): string {
  return whitespaceClean(fixText(text)).toLowerCase();
}
