import type { StudioTokenSpec } from '../src/server/studioProtocol.ts';

/**
 * The override fields as a token spec: comma-separated words ("dog, crown"; "-" = no attribute) or, when every
 * entry is a number, official indices ("3, 7"; 0 = no attribute). Blank fields mean automatic.
 */
export function tokenSpec(objectsText: string, attributesText: string): StudioTokenSpec | undefined {
  const split = (text: string) =>
    text
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean);
  const [objects, attributes] = [split(objectsText), split(attributesText)];
  if (objects.length === 0 && attributes.length === 0) return undefined;
  const numeric = (list: string[]) => list.length > 0 && list.every((part) => /^\d+$/.test(part));
  const spec: StudioTokenSpec = {};
  if (numeric(objects)) spec.tokenIndices = objects.map(Number);
  else if (objects.length > 0) spec.objects = objects;
  if (numeric(attributes)) spec.attributeIndices = attributes.map(Number);
  else if (attributes.length > 0) spec.attributes = attributes;
  return spec;
}
