import { expect } from 'vitest';
import { UserError } from '../../src/errors.ts';

/** The UserError a promise rejects with (fails the test if it resolves or rejects with anything else). */
export async function userErrorOf(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(UserError);
  return error as Error;
}
