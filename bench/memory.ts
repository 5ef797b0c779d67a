import { readFileSync, writeFileSync } from 'node:fs';

const GiB = 1024 ** 3;

/**
 * Peak resident memory of this process in GiB since the last `resetPeakMemory` (Linux's VmHWM), or since it
 * started where /proc is unavailable (maxRSS).
 */
export function peakMemoryGiB(): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    if (match) return (Number(match[1]) * 1024) / GiB;
  } catch {}
  return (process.resourceUsage().maxRSS * 1024) / GiB;
}

/** Restarts the peak (writing 5 to /proc/self/clear_refs), so each stage reports its own; false if unsupported. */
export function resetPeakMemory(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

export const residentGiB = () => process.memoryUsage().rss / GiB;
