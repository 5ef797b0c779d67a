import { mkdir, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hubHeaders } from '../../src/weights/hubHttp.ts';
import { readHubSettings } from '../../src/weights/hubSettings.ts';
import { useTempDirs } from './tempDir.ts';

const tempDir = useTempDirs();

describe('readHubSettings', () => {
  it('defaults like huggingface_hub: ~/.cache/huggingface/hub and huggingface.co', () => {
    const settings = readHubSettings({ env: {} });
    expect(settings.cacheDir).toBe(join(homedir(), '.cache/huggingface/hub'));
    expect(settings.endpoint).toBe('https://huggingface.co');
    expect(settings.offline).toBe(false);
  });

  it('honours XDG_CACHE_HOME, HF_HOME, HF_HUB_CACHE in increasing priority', () => {
    expect(readHubSettings({ env: { XDG_CACHE_HOME: '/x' } }).cacheDir).toBe('/x/huggingface/hub');
    expect(readHubSettings({ env: { XDG_CACHE_HOME: '/x', HF_HOME: '/h' } }).cacheDir).toBe('/h/hub');
    expect(readHubSettings({ env: { HF_HOME: '/h', HF_HUB_CACHE: '/c' } }).cacheDir).toBe('/c');
    expect(readHubSettings({ env: { HF_HUB_CACHE: '~/c' } }).cacheDir).toBe(join(homedir(), 'c'));
  });

  it('reads HF_ENDPOINT without a trailing slash and HF_HUB_OFFLINE truthy values', () => {
    expect(readHubSettings({ env: { HF_ENDPOINT: 'https://mirror.example/' } }).endpoint).toBe(
      'https://mirror.example',
    );
    for (const value of ['1', 'true', 'YES', 'on']) {
      expect(readHubSettings({ env: { HF_HUB_OFFLINE: value } }).offline).toBe(true);
    }
    expect(readHubSettings({ env: { HF_HUB_OFFLINE: '0' } }).offline).toBe(false);
  });

  it('takes HF_TOKEN first, then the token file of `huggingface-cli login`', async () => {
    const home = await tempDir();
    await mkdir(home, { recursive: true });
    await writeFile(join(home, 'token'), 'hf_from_file\n');
    expect(readHubSettings({ env: { HF_HOME: home } }).token).toBe('hf_from_file');
    expect(readHubSettings({ env: { HF_HOME: home, HF_TOKEN: 'hf_env' } }).token).toBe('hf_env');
    expect(readHubSettings({ env: { HF_HOME: join(home, 'none') } }).token).toBeUndefined();
  });
});

describe('hubHeaders', () => {
  it('sends the token to the Hub only, never to the CDN a large file redirects to', () => {
    const settings = readHubSettings({ env: { HF_TOKEN: 'hf_x', HF_ENDPOINT: 'https://huggingface.co' } });
    expect(hubHeaders(settings, 'https://huggingface.co/api/models/a/b')['authorization']).toBe(
      'Bearer hf_x',
    );
    expect(hubHeaders(settings, 'https://cdn-lfs.huggingface.co/repos/x')['authorization']).toBeUndefined();
    expect(hubHeaders(settings, 'https://cdn-lfs.huggingface.co/x')['accept-encoding']).toBe('identity');
  });
});
