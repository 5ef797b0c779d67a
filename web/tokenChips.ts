/** The prompt's tokens as chips with their indices, the automatic choice highlighted. */
import type { StudioToken, StudioTokensResponse } from '../src/server/studioProtocol.ts';
import { h } from './dom.ts';

export type TokenRole = 'object' | 'attribute';

export function renderTokenChips(
  container: HTMLElement,
  response: StudioTokensResponse,
  onPick: (token: StudioToken, role: TokenRole) => void,
): void {
  const auto = response.automatic;
  const objects = new Set(auto?.objects.map((t) => t.index));
  const attributes = new Set(auto?.attributes.flatMap((t) => (t ? [t.index] : [])));
  const chips = response.tokens.map((token) => {
    const role = objects.has(token.index) ? 'object' : attributes.has(token.index) ? 'attribute' : 'other';
    const chip = h(
      'button',
      {
        type: 'button',
        class: `chip ${role}`,
        title: 'click: add as object · shift+click: add as attribute',
      },
      h('span', { class: 'index' }, String(token.index)),
      token.token,
    );
    chip.addEventListener('click', (event) => onPick(token, event.shiftKey ? 'attribute' : 'object'));
    return chip;
  });
  const summary = auto
    ? `automatic: ${auto.objects
        .map((o, k) => (auto.attributes[k] ? `${auto.attributes[k]!.token} ${o.token}` : o.token))
        .join(', ')}`
    : 'automatic choice found no object noun: name the objects below';
  container.replaceChildren(
    h('div', { class: 'chips' }, ...chips),
    h('p', { class: 'muted small' }, summary),
    ...(response.dropped
      ? [h('p', { class: 'warning small' }, `truncated: “${response.dropped}” is dropped`)]
      : []),
  );
}
