/**
 * Mojibake repair: text that was encoded as UTF-8 and then decoded as Latin-1 or Windows-1252
 * (`cafÃ©` for `café`, `â€”` for `—`), the part of ftfy's `fix_encoding` that prompts meet.
 *
 * What it does, following ftfy 6.1.1's documented steps:
 * - If the whole text can be encoded as Latin-1, or else as "sloppy" Windows-1252 (Windows-1252 where
 *   the five unassigned bytes stand for the C1 controls of the same number), and those bytes are
 *   valid UTF-8, the text becomes that UTF-8 decoding. Repeated until nothing changes, which undoes
 *   several layers of mojibake.
 * - Otherwise (the text also holds characters outside those encodings, like emoji or CJK), each run
 *   of UTF-8-looking sequences (a lead character followed by the right number of continuation
 *   characters, not preceded by a continuation character) is decoded on its own when it is valid
 *   UTF-8: ftfy's `decode_inconsistent_utf8`.
 * - `fixC1Controls` reads leftover C1 control characters as the Windows-1252 characters of the
 *   same byte (ftfy's `fix_c1_controls`).
 * - Instead of ftfy's `is_bad` "badness" heuristic (a large table of unlikely character sequences),
 *   the evidence asked for is one UTF-8-looking sequence that is not an accented capital followed by
 *   closing punctuation (ftfy's documented "MARQUÉ…" exception), plus a valid UTF-8 re-decoding. ftfy
 *   asks for more in some cases, so a few odd Latin-1 strings that happen to be valid UTF-8 (an
 *   accented small letter then two symbols such as "é…»") are repaired here and not by ftfy.
 *
 * Not done (ftfy does these; prompts rarely need them): the other single-byte encodings (Windows-1250/1251/
 * 1253/1254/1257, ISO-8859-2, MacRoman, cp437), `restore_byte_a0` (a space that was a no-break space
 * inside a sequence), `replace_lossy_sequences` (sequences holding U+FFFD), the CESU-8 and Java
 * "utf-8-variants" decoding, and the Latin-1-meant-as-Windows-1252 step (its effect on C1 controls
 * is what `fixC1Controls` does).
 */

/** Windows-1252 bytes 0x80-0x9F; the five unassigned ones are the C1 control of the same number. */
const WINDOWS_1252_HIGH =
  '\u20ac\u0081\u201a\u0192\u201e\u2026\u2020\u2021\u02c6\u2030\u0160\u2039\u0152\u008d\u017d\u008f' +
  '\u0090\u2018\u2019\u201c\u201d\u2022\u2013\u2014\u02dc\u2122\u0161\u203a\u0153\u009d\u017e\u0178';

const SLOPPY_1252_BYTE_OF_CHAR = new Map<number, number>();
for (let i = 0; i < 32; i++) SLOPPY_1252_BYTE_OF_CHAR.set(WINDOWS_1252_HIGH.codePointAt(i)!, 0x80 + i);

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Characters that Windows-1252 or Latin-1 give for continuation bytes 0x80-0xBF. */
const CONTINUATION = `[\\u0080-\\u00bf${WINDOWS_1252_HIGH.replace(/[\u0080-\u009f]/g, '')}]`;

/** Runs of UTF-8 lead + continuation sequences as they look after a Latin-1/Windows-1252 decode. */
const UTF8_LOOKING_RUN = new RegExp(
  `(?<!${CONTINUATION})(?:[\\u00c2-\\u00df]${CONTINUATION}|[\\u00e0-\\u00ef]${CONTINUATION}{2}|[\\u00f0-\\u00f4]${CONTINUATION}{3})+`,
  'gu',
);

/** One UTF-8-looking sequence, to look for evidence of mojibake. */
const UTF8_LOOKING_SEQUENCE = new RegExp(
  `[\\u00c2-\\u00df]${CONTINUATION}|[\\u00e0-\\u00ef]${CONTINUATION}{2}|[\\u00f0-\\u00f4]${CONTINUATION}{3}`,
  'gu',
);

/** An accented capital then closing punctuation ("MARQUÉ…", "CAFÉ’S") is ordinary text, as in ftfy. */
const CAPITAL_THEN_CLOSING_PUNCTUATION = /^[\u00c0-\u00de][\u2019\u201d\u2026\u00bb\u203a]$/u;

const C1_CONTROL = /[\u0080-\u009f]/g;

// biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII is exactly what this tests for.
const ASCII_ONLY = /^[\u0000-\u007f]*$/;

function encodeLatin1(text: string): Uint8Array | null {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) return null;
    bytes[i] = code;
  }
  return bytes;
}

function encodeSloppyWindows1252(text: string): Uint8Array | null {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80 || (code >= 0xa0 && code <= 0xff)) {
      bytes[i] = code;
      continue;
    }
    const byte = SLOPPY_1252_BYTE_OF_CHAR.get(code);
    if (byte === undefined) return null;
    bytes[i] = byte;
  }
  return bytes;
}

function decodeUtf8OrNull(bytes: Uint8Array): string | null {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return null;
  }
}

/** One re-decoding of the whole text (Latin-1 first, then sloppy Windows-1252, as ftfy orders them). */
function redecodeWhole(text: string): string | null {
  for (const encode of [encodeLatin1, encodeSloppyWindows1252]) {
    const bytes = encode(text);
    if (bytes === null) continue;
    const decoded = decodeUtf8OrNull(bytes);
    if (decoded !== null) return decoded;
  }
  return null;
}

/** Stand-in for ftfy's badness test: some UTF-8-looking sequence that is not ordinary text. */
function looksLikeMojibake(text: string): boolean {
  for (const [sequence] of text.matchAll(UTF8_LOOKING_SEQUENCE)) {
    if (!CAPITAL_THEN_CLOSING_PUNCTUATION.test(sequence)) return true;
  }
  return false;
}

function decodeInconsistentUtf8(text: string): string {
  return text.replace(UTF8_LOOKING_RUN, (run) => {
    if (run.length >= text.length || !looksLikeMojibake(run)) return run;
    return redecodeWhole(run) ?? run;
  });
}

function fixEncodingOneStep(text: string): string {
  if (text.length === 0 || ASCII_ONLY.test(text) || !looksLikeMojibake(text)) return text;
  const whole = redecodeWhole(text);
  if (whole !== null) return whole;
  return decodeInconsistentUtf8(text);
}

/** Undoes UTF-8-read-as-Latin-1/Windows-1252 mojibake, layer by layer, until the text is stable. */
export function fixEncoding(text: string): string {
  let current = text;
  for (;;) {
    const next = fixEncodingOneStep(current);
    if (next === current) return current;
    current = next;
  }
}

/** C1 control characters become the Windows-1252 character of the same byte (as browsers do). */
export function fixC1Controls(text: string): string {
  return text.replace(C1_CONTROL, (char) => WINDOWS_1252_HIGH[char.charCodeAt(0) - 0x80]!);
}
