import { UserError } from '../../errors.ts';
import { type DiffusersFolder, readComponentConfig } from '../diffusersFolder.ts';
import { openSafetensors } from '../safetensors.ts';
import type { WeightIndex } from '../weightIndex.ts';
import {
  type CheckpointFamily,
  detectFamily,
  familyName,
  isUnusedKey,
  TEXT_ENCODER_SLOTS,
  UNET_PREFIX,
  VAE_PREFIX,
} from './architecture.ts';
import { type ConfigSourceOptions, openConfigFolder } from './configSource.ts';
import { mappedWeights } from './mappedWeights.ts';
import type { MappedTensor } from './tensorView.ts';
import { clipTextTensor, openClipTextTensors, type TextModelShape } from './textEncoderKeys.ts';
import { unetDiffusersName } from './unetKeys.ts';
import { vaeTensor } from './vaeKeys.ts';

export type SingleFileOptions = ConfigSourceOptions;

/** How many unknown keys an error lists. */
const LISTED = 5;

/**
 * Opens an A1111 / Civitai single-file checkpoint (`.safetensors` with the original LDM / SGM key names) of SD 1.x,
 * 2.x or SDXL base as a diffusers folder every loader accepts (`loadUNet`, `loadVaeDecoder`, `loadTextEncoder`,
 * `readComponentConfig`, the tokenizers under `root`): the configs and tokenizers are the base model's (see
 * `openConfigFolder`), the weights are the file's tensors under their diffusers names, referenced in place.
 * Every key must be one the family's conversion knows (or a known unused one); shapes are checked against the
 * configs when each component is loaded, naming both keys.
 */
export async function openSingleFile(
  path: string,
  options: SingleFileOptions = {},
): Promise<DiffusersFolder> {
  const file = await openSafetensors(path);
  const family = detectFamily(path, file.tensors);
  const configs = await openConfigFolder(path, family, options);
  const router = await keyRouter(configs, family);

  const byComponent = new Map<string, MappedTensor[]>();
  const unknown: string[] = [];
  for (const key of file.tensors.keys()) {
    const routed = router(key);
    if (routed === undefined) unknown.push(key);
    else if (routed !== 'ignored') {
      byComponent.set(routed.component, [...(byComponent.get(routed.component) ?? []), ...routed.tensors]);
    }
  }
  if (unknown.length > 0) {
    const shown = unknown.slice(0, LISTED).join(', ');
    const more = unknown.length > LISTED ? `, … (${unknown.length - LISTED} more)` : '';
    throw new UserError(
      `${path}: ${unknown.length} ${unknown.length === 1 ? 'key is' : 'keys are'} not those of ` +
        `${familyName(family)} checkpoint in the original layout: ${shown}${more}`,
    );
  }
  const weights = new Map<string, WeightIndex>();
  for (const [component, mapped] of byComponent) {
    weights.set(component, mappedWeights(file, `${path} (${component})`, mapped));
  }
  return { ...configs, weights, checkpoint: path };
}

/** A key's component and the tensors it becomes, `ignored`, or undefined for a key no rule knows. */
type Router = (
  key: string,
) => { component: string; tensors: readonly MappedTensor[] } | 'ignored' | undefined;

/** Which component a checkpoint key belongs to and the diffusers tensors it becomes, per the family's configs. */
async function keyRouter(configs: DiffusersFolder, family: CheckpointFamily): Promise<Router> {
  const unetConfig = await readComponentConfig(configs, 'unet');
  const vaeConfig = await readComponentConfig(configs, 'vae');
  const layersPerBlock = positiveInteger(configs, 'unet', 'layers_per_block', unetConfig['layers_per_block']);
  const vaeLevels = vaeConfig['block_out_channels'];
  if (!Array.isArray(vaeLevels) || vaeLevels.length === 0) {
    throw new UserError(`${configs.root}: vae/config.json has no block_out_channels list`);
  }
  const slots = await Promise.all(
    TEXT_ENCODER_SLOTS[family].map(async (slot) => {
      const config = await readComponentConfig(configs, slot.component);
      const shape: TextModelShape = {
        layers: positiveInteger(configs, slot.component, 'num_hidden_layers', config['num_hidden_layers']),
        hasProjection: configs.components.get(slot.component)?.className === 'CLIPTextModelWithProjection',
      };
      return { ...slot, shape };
    }),
  );

  return (key) => {
    if (isUnusedKey(key)) return 'ignored';
    if (key.startsWith(UNET_PREFIX)) {
      const name = unetDiffusersName(key.slice(UNET_PREFIX.length), layersPerBlock);
      return name ? { component: 'unet', tensors: [{ name, source: key }] } : undefined;
    }
    if (key.startsWith(VAE_PREFIX)) {
      const tensor = vaeTensor(key.slice(VAE_PREFIX.length), key, vaeLevels.length);
      return tensor ? { component: 'vae', tensors: [tensor] } : undefined;
    }
    for (const slot of slots) {
      if (!key.startsWith(slot.prefix)) continue;
      const rest = key.slice(slot.prefix.length);
      if (slot.kind === 'clip') {
        const tensor = clipTextTensor(rest, key);
        return tensor ? { component: slot.component, tensors: [tensor] } : undefined;
      }
      const rule = openClipTextTensors(rest, key, slot.shape);
      return rule === 'ignored' || rule === undefined ? rule : { component: slot.component, tensors: rule };
    }
    return undefined;
  };
}

function positiveInteger(configs: DiffusersFolder, component: string, field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new UserError(`${configs.root}: ${component}/config.json has no positive integer ${field}`);
  }
  return value;
}
