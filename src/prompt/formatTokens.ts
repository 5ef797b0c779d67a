/**
 * Text for people: the chosen tokens (printed before generation, so a user can check and override
 * them) and the `dnb tokens "PROMPT"` listing of a prompt's tokens with the automatic choice.
 */
import { UserError } from '../errors.ts';
import type { ClipTokenizer } from '../models/clipTokenizer.ts';
import { endTokenIndex, formatTokenList, type SelectedToken } from './promptTokens.ts';
import { selectTokens, type TokenSelection } from './tokenSelection.ts';

/** "3 dog", or "20 us (hippopotamus)" for a piece of a longer word. */
export function formatSelectedToken(token: SelectedToken): string {
  return token.token === token.word
    ? `${token.index} ${token.token}`
    : `${token.index} ${token.token} (${token.word})`;
}

/** "objects: 3 dog, 7 crown; attributes: 2 purple, 6 green" (attributes left out when there are none). */
export function formatTokenSelection(selection: TokenSelection): string {
  const objects = `objects: ${selection.objects.map(formatSelectedToken).join(', ')}`;
  if (selection.attributes.every((attribute) => attribute === null)) return objects;
  const attributes = selection.attributes.map((attribute) =>
    attribute === null ? '-' : formatSelectedToken(attribute),
  );
  return `${objects}; attributes: ${attributes.join(', ')}`;
}

/** The same choice written as command-line options. */
export function formatSelectionOptions(selection: TokenSelection): string {
  const objects = `--token-indices ${selection.tokenIndices.join(',')}`;
  if (selection.attributeIndices.every((index) => index === 0)) return objects;
  return `${objects} --attribute-indices ${selection.attributeIndices.join(',')}`;
}

/** What `dnb tokens "PROMPT"` prints: the numbered tokens and the automatic choice. */
export function formatPromptTokens(tokenizer: ClipTokenizer, prompt: string): string {
  const encoding = tokenizer.encode(prompt);
  const lines = [
    `Prompt: ${JSON.stringify(prompt)}`,
    `Tokens (0 is the start token, ${endTokenIndex(encoding)} the end token): ${formatTokenList(encoding)}`,
  ];
  if (encoding.truncated !== null) {
    lines.push(
      `Truncated: ${encoding.truncated.droppedCount} tokens past the limit are dropped ` +
        `(${JSON.stringify(encoding.truncated.droppedText)})`,
    );
  }
  try {
    const selection = selectTokens(tokenizer, prompt);
    lines.push(`Automatic choice: ${formatTokenSelection(selection)}`);
    lines.push(`As options: ${formatSelectionOptions(selection)}`);
  } catch (error) {
    if (!(error instanceof UserError)) throw error;
    lines.push('Automatic choice: no object noun found; name the objects with --objects or --token-indices');
  }
  return lines.join('\n');
}
