// Writes the example run's prompt file: the first two prompts of each shipped set (TIFA v1.0 left out: it downloads).
import { writeFileSync } from 'node:fs';
import { listPromptSets, loadPromptSet } from '../../src/benchmark/promptSets.ts';

const sets = [];
for (const { name } of listPromptSets()) {
  if (name === 'tifa-v1.0') continue;
  const set = await loadPromptSet(name);
  sets.push({ ...set, prompts: set.prompts.slice(0, 2) });
}
writeFileSync(process.argv[2], `${JSON.stringify({ sets }, null, 2)}\n`);
