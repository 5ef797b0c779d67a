import { CommanderError } from 'commander';
import { UserError } from '../errors.ts';

/** Exit codes: 0 help and version, 1 a UserError or an unexpected error, 2 a usage error. */
export const EXIT_USER_ERROR = 1;
export const EXIT_USAGE = 2;

/**
 * Prints an error the way the command line shows it and returns the exit code. The user's mistakes (UserError,
 * commander's usage errors) are one `dnb: message` line; anything else is a bug, printed with its stack so it
 * can be reported.
 */
export function reportError(
  error: unknown,
  write: (text: string) => void = (t) => process.stderr.write(t),
): number {
  if (error instanceof CommanderError) {
    // Help and version were printed by commander already and end with exit code 0.
    if (error.exitCode === 0) return 0;
    if (error.code === 'commander.help' || error.code === 'commander.helpDisplayed') return EXIT_USAGE;
    write(`dnb: ${error.message.replace(/^error: /, '').replace(/\n/g, ' ')}\n`);
    return EXIT_USAGE;
  }
  if (error instanceof UserError) {
    write(`dnb: ${error.message}\n`);
    return EXIT_USER_ERROR;
  }
  write(
    `dnb: unexpected error (please report it with the command you ran):\n${(error as Error)?.stack ?? String(error)}\n`,
  );
  return EXIT_USER_ERROR;
}
