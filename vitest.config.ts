import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Whole guided generations and spawned CLI runs take tens of seconds on 2 cores, several times that when the
    // machine is shared; a bound that loose still ends a hung test.
    testTimeout: 300_000,
    hookTimeout: 300_000,
    // Each worker owns ONNX Runtime thread pools; two cores fit two workers.
    maxWorkers: 2,
  },
});
