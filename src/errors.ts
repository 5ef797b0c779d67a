/**
 * An error caused by the user's input or environment (a missing file, a bad option, a refused download).
 * The CLI prints its message without a stack trace, so the message says what was wrong and how to fix it.
 */
export class UserError extends Error {
  override name = 'UserError';
}

/**
 * The reason a `JSON.parse` failed, on one line: V8 quotes the text around the error, newlines and control bytes
 * included, and the CLI prints every user error as one line.
 */
export function jsonSyntaxReason(error: unknown): string {
  return String((error as Error)?.message ?? error).replace(/[\p{Cc}\s]+/gu, ' ');
}
