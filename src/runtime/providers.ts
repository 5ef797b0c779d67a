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
 * (Dawn's own WebGPU warnings, such as a missing Vulkan loader, bypass this logger.)
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
