/** Choosing the prompt's object and attribute tokens for Attend & Excite and Divide & Bind. */
export {
  formatPromptTokens,
  formatSelectedToken,
  formatSelectionOptions,
  formatTokenSelection,
} from './formatTokens.ts';
export { describePromptTokens, formatTokenList, type SelectedToken } from './promptTokens.ts';
export {
  NO_ATTRIBUTE_WORD,
  selectTokens,
  type TokenSelection,
  type TokenSource,
  type TokenSpecification,
} from './tokenSelection.ts';
