/**
 * An error caused by the user's input or environment (a missing file, a bad option, a refused download).
 * The CLI prints its message without a stack trace, so the message says what was wrong and how to fix it.
 */
export class UserError extends Error {
  override name = 'UserError';
}
