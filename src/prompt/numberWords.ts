/** The number words a prompt states counts with and a VQA model answers in, by value: NUMBER_WORDS[n] is n. */
export const NUMBER_WORDS: readonly string[] = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
  'twenty',
];

/** The value of a number word ("three" → 3), undefined for any other word. */
export function numberOfWord(word: string): number | undefined {
  const value = NUMBER_WORDS.indexOf(word);
  return value >= 0 ? value : undefined;
}
