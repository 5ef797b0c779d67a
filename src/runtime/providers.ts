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
