import { execFileSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import ort from 'onnxruntime-node';

/** What the numbers were measured on and with. */
export function machineInfo(): Record<string, string | number> {
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  };
  const dirty = git('status', '--porcelain', '--untracked-files=no') ? ' (with uncommitted changes)' : '';
  return {
    date: new Date().toISOString(),
    cpu: cpus()[0]?.model ?? 'unknown',
    logicalCores: cpus().length,
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    onnxruntime: ort.env.versions?.common ?? 'unknown',
    commit: git('rev-parse', '--short', 'HEAD') + dirty,
  };
}
