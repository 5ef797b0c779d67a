import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where and how to reach the Hugging Face Hub, read the way huggingface_hub reads it. */
export interface HubSettings {
  /** e.g. https://huggingface.co, without a trailing slash. */
  endpoint: string;
  /** The hub cache shared with Python (`.../huggingface/hub`). */
  cacheDir: string;
  token: string | undefined;
  offline: boolean;
}

export type HubSettingsOverrides = Partial<HubSettings> & { env?: NodeJS.ProcessEnv };

/**
 * Reads HF_ENDPOINT, HF_HUB_CACHE / HF_HOME / XDG_CACHE_HOME, HF_TOKEN (or the token file that
 * `huggingface-cli login` writes) and HF_HUB_OFFLINE; explicit overrides win.
 */
export function readHubSettings(overrides: HubSettingsOverrides = {}): HubSettings {
  const env = overrides.env ?? process.env;
  const home = expandHome(
    env['HF_HOME'] ?? join(env['XDG_CACHE_HOME'] ?? join(homedir(), '.cache'), 'huggingface'),
  );
  const cacheDir =
    overrides.cacheDir ??
    expandHome(env['HF_HUB_CACHE'] ?? env['HUGGINGFACE_HUB_CACHE'] ?? join(home, 'hub'));
  const endpoint = (overrides.endpoint ?? env['HF_ENDPOINT'] ?? 'https://huggingface.co').replace(/\/+$/, '');
  const token =
    overrides.token ??
    nonEmpty(env['HF_TOKEN']) ??
    nonEmpty(env['HUGGING_FACE_HUB_TOKEN']) ??
    readTokenFile(expandHome(env['HF_TOKEN_PATH'] ?? join(home, 'token')));
  const offline =
    overrides.offline ?? (isTruthy(env['HF_HUB_OFFLINE']) || isTruthy(env['TRANSFORMERS_OFFLINE']));
  return { endpoint, cacheDir, token, offline };
}

function isTruthy(value: string | undefined): boolean {
  return value !== undefined && ['1', 'on', 'yes', 'true'].includes(value.trim().toLowerCase());
}

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

function readTokenFile(path: string): string | undefined {
  try {
    return nonEmpty(readFileSync(path, 'utf8'));
  } catch {
    return undefined;
  }
}

function expandHome(path: string): string {
  return path === '~' || path.startsWith('~/') ? join(homedir(), path.slice(1)) : path;
}
