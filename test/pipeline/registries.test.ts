import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.ts';
import { GUIDANCE_METHODS, METHODS, methodLabel } from '../../src/guidance/methods/index.ts';
import { familyOf, MODEL_FAMILIES } from '../../src/pipeline/families/index.ts';
import { openDiffusersFolder, pipelineComponents } from '../../src/weights/diffusersFolder.ts';
import { TINY_SD } from '../helpers/fixtures.ts';
import { TINY_SDXL } from '../helpers/sdxlFixtures.ts';

describe('the model-family registry', () => {
  it('loads what the Hub download fetches: each family lists the components of its pipeline classes', () => {
    for (const family of MODEL_FAMILIES) {
      for (const className of family.pipelineClasses) {
        expect([...family.components].sort()).toEqual(
          [...pipelineComponents({ _class_name: className })].sort(),
        );
      }
    }
  });

  it('picks the family from model_index.json', async () => {
    expect(familyOf(await openDiffusersFolder(TINY_SD)).name).toBe('sd');
    expect(familyOf(await openDiffusersFolder(TINY_SDXL)).name).toBe('sdxl');
    const folder = {
      ...(await openDiffusersFolder(TINY_SD)),
      pipelineClass: 'StableDiffusionInpaintPipeline',
    };
    expect(() => familyOf(folder)).toThrow(UserError);
    expect(() => familyOf(folder)).toThrow(/StableDiffusionInpaintPipeline is not a model this program runs/);
  });
});

describe('the guidance-method registry', () => {
  it('lists plain SD first, then every method, with the labels people read', () => {
    expect(METHODS).toEqual(['sd', ...GUIDANCE_METHODS.map((m) => m.name)]);
    expect(METHODS.map((m) => methodLabel(m, 'short'))).toEqual(['SD', 'A&E', 'D&B']);
    expect(methodLabel('syngen')).toBe('syngen');
  });
});
