import type { StudioMethod } from '../src/server/studioProtocol.ts';

export const METHOD_NAMES: Record<StudioMethod, string> = {
  sd: 'Stable Diffusion',
  'attend-excite': 'Attend & Excite',
  'divide-bind': 'Divide & Bind',
};
