/**
 * CLIP's byte-level BPE: a word's UTF-8 bytes are written as printable characters (GPT-2's
 * byte-to-unicode table), `</w>` marks the last symbol, and the lowest-ranked adjacent pair is merged
 * everywhere until no listed pair is left. Results are cached per word, as in CLIP and transformers.
 */

/**
 * Byte -> character table: printable Latin-1 bytes map to themselves, the other 68 bytes to
 * U+0100 onwards in byte order, so every byte has a visible, non-space character.
 */
function buildByteToChar(): string[] {
  const table = new Array<string>(256);
  let next = 256;
  for (let byte = 0; byte < 256; byte++) {
    const printable =
      (byte >= 0x21 && byte <= 0x7e) || (byte >= 0xa1 && byte <= 0xac) || (byte >= 0xae && byte <= 0xff);
    table[byte] = String.fromCharCode(printable ? byte : next++);
  }
  return table;
}

export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();
const CHAR_TO_BYTE = new Map<string, number>(BYTE_TO_CHAR.map((char, byte) => [char, byte]));

const utf8Encoder = new TextEncoder();
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false });

/** A word's UTF-8 bytes as byte-level characters (the form the vocabulary and merges use). */
export function toByteLevel(word: string): string {
  let out = '';
  for (const byte of utf8Encoder.encode(word)) out += BYTE_TO_CHAR[byte];
  return out;
}

/** Byte-level characters back to text; bytes that are not valid UTF-8 become U+FFFD. */
export function fromByteLevel(text: string): string {
  const bytes: number[] = [];
  for (const char of text) {
    const byte = CHAR_TO_BYTE.get(char);
    if (byte !== undefined) bytes.push(byte);
    else bytes.push(...utf8Encoder.encode(char));
  }
  return lenientUtf8.decode(new Uint8Array(bytes));
}

export const END_OF_WORD = '</w>';

export class BytePairEncoder {
  private readonly ranks = new Map<string, number>();
  private readonly cache = new Map<string, string[]>();

  /** `unsplittable` words (the special tokens) are returned whole, without `</w>`. */
  constructor(merges: readonly (readonly [string, string])[], unsplittable: readonly string[]) {
    merges.forEach(([first, second], rank) => {
      const key = pairKey(first, second);
      if (!this.ranks.has(key)) this.ranks.set(key, rank);
    });
    for (const word of unsplittable) this.cache.set(word, [word]);
  }

  /** The BPE symbols of one byte-level word, the last one ending in `</w>`. */
  encode(word: string): string[] {
    const cached = this.cache.get(word);
    if (cached !== undefined) return cached;
    const symbols = this.merge(word);
    this.cache.set(word, symbols);
    return symbols;
  }

  private merge(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length === 0) return [];
    let symbols = [...chars.slice(0, -1), chars[chars.length - 1] + END_OF_WORD];
    while (symbols.length > 1) {
      let bestRank = Number.POSITIVE_INFINITY;
      let best: [string, string] | null = null;
      for (let i = 0; i + 1 < symbols.length; i++) {
        const rank = this.ranks.get(pairKey(symbols[i]!, symbols[i + 1]!));
        if (rank !== undefined && rank < bestRank) {
          bestRank = rank;
          best = [symbols[i]!, symbols[i + 1]!];
        }
      }
      if (best === null) break;
      const [first, second] = best;
      const merged: string[] = [];
      for (let i = 0; i < symbols.length; ) {
        if (symbols[i] === first && symbols[i + 1] === second) {
          merged.push(first + second);
          i += 2;
        } else {
          merged.push(symbols[i]!);
          i += 1;
        }
      }
      symbols = merged;
    }
    return symbols;
  }
}

function pairKey(first: string, second: string): string {
  // A space never occurs inside a byte-level symbol, so it separates the pair unambiguously.
  return `${first} ${second}`;
}
