import type sharp from 'sharp';

/**
 * sharp (libvips), imported on first use: loading its native module takes ~0.23 s, which every `dnb` command
 * would otherwise pay at start-up, a generation before its first step included (test/cli/startupImports.test.ts).
 */
export async function loadSharp(): Promise<typeof sharp> {
  return (await import('sharp')).default;
}
