/** Prompt ids: readable, stable, safe as folder names (the runner stores images under PROMPT_ID/). */

const MAX_ID_LENGTH = 80;

/** "a dog and a turtle on the street,snowy driving scene" -> "a_dog_and_a_turtle_on_the_street_snowy_driving_scene". */
export function promptSlug(text: string): string {
  const slug = text
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_ID_LENGTH)
    .replace(/_+$/, '');
  return slug || 'prompt';
}

/** Slugs of the texts, with `_2`, `_3`, … after a slug that is already taken. */
export function uniquePromptIds(texts: readonly string[]): string[] {
  const taken = new Set<string>();
  return texts.map((text) => {
    const base = promptSlug(text);
    let id = base;
    for (let n = 2; taken.has(id); n += 1) id = `${base}_${n}`;
    taken.add(id);
    return id;
  });
}

/** Whether an id can name a folder on every platform: what `promptSlug` makes, and TIFA's `coco_301091`. */
export function isSafePromptId(id: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(id) && !id.endsWith('.');
}
