import { createProgram } from './program.ts';
import { reportError } from './reportError.ts';

try {
  await createProgram().parseAsync(process.argv);
} catch (error) {
  // exitCode rather than exit(), so stdout and stderr are flushed before the process ends.
  process.exitCode = reportError(error);
}
