import { CommanderError } from 'commander';
import { describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/reportError.ts';
import { UserError } from '../../src/errors.ts';

function report(error: unknown): { code: number; text: string } {
  let text = '';
  const code = reportError(error, (t) => (text += t));
  return { code, text };
}

describe('reportError', () => {
  it('prints a UserError as one dnb: line with exit code 1', () => {
    expect(report(new UserError('model folder x not found'))).toEqual({
      code: 1,
      text: 'dnb: model folder x not found\n',
    });
  });

  it("prints commander's usage errors without its error: prefix, exit code 2", () => {
    const error = new CommanderError(1, 'commander.unknownOption', "error: unknown option '--bogus'");
    expect(report(error)).toEqual({ code: 2, text: "dnb: unknown option '--bogus'\n" });
  });

  it('prints nothing for help and version, which exit with 0', () => {
    expect(report(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)'))).toEqual({
      code: 0,
      text: '',
    });
  });

  it('prints the stack of an unexpected error, so the bug can be reported', () => {
    const { code, text } = report(new TypeError('x is undefined'));
    expect(code).toBe(1);
    expect(text).toMatch(/^dnb: unexpected error .*\nTypeError: x is undefined\n\s+at /);
  });
});
