import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import { UserError } from '../errors.ts';

/** Where ONNX Runtime executes a graph. */
export type Device = 'cpu' | 'webgpu' | 'cuda';

export const DEVICES: readonly Device[] = ['cpu', 'webgpu', 'cuda'];

const HOW_TO_ENABLE: Record<Device, string> = {
  cpu: '',
  webgpu:
    'WebGPU runs through Dawn, which needs a Vulkan driver on Linux (Debian: apt-get install mesa-vulkan-drivers libvulkan1) and a GPU it supports.',
  cuda: 'The CUDA provider is an opt-in download: run ONNXRUNTIME_NODE_INSTALL=cuda12 node node_modules/onnxruntime-node/script/install.js (needs internet, CUDA 12 and cuDNN 9).',
};

export function parseDevice(name: string): Device {
  if ((DEVICES as readonly string[]).includes(name)) return name as Device;
  throw new UserError(`unknown device "${name}"; choose one of ${DEVICES.join(', ')}`);
}

/** Turns ONNX Runtime's failure to start a provider into an error that says how to get it. */
export function providerUnavailable(device: Device, cause: unknown): UserError {
  const reason = String((cause as Error)?.message ?? cause)
    .split('\n')[0]
    .slice(0, 300);
  return new UserError(
    `the ${device} execution provider is not available here (${reason}). ${HOW_TO_ENABLE[device]}`,
  );
}

/**
 * ONNX Runtime's own logging, quiet by default: a provider that fails to start logs several lines of native
 * noise before the exception that providerUnavailable turns into one clear line. Only fatal messages are
 * printed unless `verbose` (`--verbose`), which restores ONNX Runtime's default, warnings and errors.
 * ONNX Runtime reads the level once, when its first session is created, so call this before any.
 * (Dawn's own WebGPU warnings bypass this logger: see assertProviderLoadable.)
 */
export function setRuntimeLogging(verbose: boolean): void {
  runtimeVerbose = verbose;
  ort.env.logLevel = verbose ? 'warning' : 'fatal';
}

let runtimeVerbose = false;
setRuntimeLogging(false);

/** The session option that matches setRuntimeLogging: 2 warning, 4 fatal. */
export function sessionLogSeverity(): 2 | 4 {
  return runtimeVerbose ? 2 : 4;
}

/** The Vulkan loader: on Linux, onnxruntime-node's WebGPU is Dawn's Vulkan backend, its only one there. */
export const VULKAN_LOADER = 'libvulkan.so.1';

/**
 * Refuses, before ONNX Runtime tries, a provider that cannot start because a library it loads is missing, in the
 * same one line as providerUnavailable. Without the Vulkan loader, Dawn prints "Warning: Couldn't load Vulkan"
 * and the source line that noticed it, from native code: Dawn's default logging callback writes warnings with
 * fprintf(stderr), ONNX Runtime creates its Dawn instance without a callback of its own and offers no option
 * for one, and Dawn's logging is off only in builds made with DAWN_DISABLE_LOGGING. JavaScript cannot redirect
 * a native library's stderr, so the way to keep that noise out is to not start Dawn where it cannot work.
 * Does nothing with `--verbose` (the runtime's own messages are then wanted), off Linux, or when the library is
 * found; the session then decides.
 */
export function assertProviderLoadable(device: Device, platform: NodeJS.Platform = process.platform): void {
  if (device !== 'webgpu' || platform !== 'linux' || runtimeVerbose) return;
  if (canLoadLibrary(VULKAN_LOADER, dawnSearchFolders())) return;
  throw new UserError(
    `the webgpu execution provider is not available here (${VULKAN_LOADER}, the Vulkan loader Dawn needs, ` +
      `was not found). ${HOW_TO_ENABLE.webgpu}`,
  );
}

/**
 * Asks the dynamic loader for `name` the way Dawn does: by name (LD_LIBRARY_PATH, ld.so.cache, the system
 * folders), then in `folders`. process.dlopen is Node's only dlopen(): a library that is found but is not a Node
 * addon fails with "did not self-register", one that is missing with "cannot open shared object file".
 */
export function canLoadLibrary(name: string, folders: readonly string[] = []): boolean {
  if (folders.some((folder) => existsSync(join(folder, name)))) return true;
  try {
    process.dlopen({ exports: {} }, name);
    return true;
  } catch (error) {
    return !/cannot open shared object file|image not found|no such file/i.test(String(error));
  }
}

/** Besides the bare name, Dawn looks next to its own library (ONNX Runtime's) and next to the executable. */
function dawnSearchFolders(): string[] {
  const runtime = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  return [join(runtime, 'bin', 'napi-v6', process.platform, process.arch), dirname(process.execPath)];
}
