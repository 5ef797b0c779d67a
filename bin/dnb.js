#!/usr/bin/env node
// The installed package runs the compiled CLI from dist/. A git checkout (it has src/; the package does not)
// runs the TypeScript sources through tsx, a development dependency, so that development and the tests never
// need a build and never run a stale dist/.
import { existsSync } from 'node:fs';

const sources = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(sources.href);
} else {
  await import('../dist/cli/main.js');
}
