/**
 * The model families, one file each: which one runs a folder is read from its model_index.json. A new family
 * (its components, its conditioning) is a new file added here.
 */
import { UserError } from '../../errors.ts';
import type { DiffusersFolder } from '../../weights/diffusersFolder.ts';
import type { ModelFamily } from './modelFamily.ts';
import { stableDiffusionFamily } from './stableDiffusionFamily.ts';
import { stableDiffusionXlFamily } from './stableDiffusionXlFamily.ts';

export type { LoadedFamilyModel, ModelFamily, PromptConditioning } from './modelFamily.ts';

export const MODEL_FAMILIES: readonly ModelFamily[] = [stableDiffusionFamily, stableDiffusionXlFamily];

/** The family that runs a pipeline folder, by its model_index.json `_class_name`. */
export function familyOf(folder: DiffusersFolder): ModelFamily {
  const family = MODEL_FAMILIES.find((f) => f.pipelineClasses.includes(folder.pipelineClass ?? ''));
  if (family) return family;
  const known = MODEL_FAMILIES.map((f) => `${f.label} (${f.pipelineClasses.join(', ')})`).join('; ');
  throw new UserError(
    `${folder.root}: ${folder.pipelineClass ?? 'a pipeline without _class_name'} is not a model this program runs; it runs ${known}`,
  );
}
