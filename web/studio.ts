/** The studio page: the form, the prompt's tokens as you type, and the results as they stream in. */
import type { StudioGenerateBody, StudioInfo, StudioMethod } from '../src/server/studioProtocol.ts';
import { fetchInfo, fetchTokens, generate } from './api.ts';
import { h } from './dom.ts';
import { methodLabel, setMethodLabels } from './methodNames.ts';
import { pendingCard, type ResultCard, resultCard } from './resultCard.ts';
import { renderTokenChips } from './tokenChips.ts';
import { tokenSpec } from './tokenOverrides.ts';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const form = $<HTMLFormElement>('form');
const prompt = $<HTMLTextAreaElement>('prompt');
const objects = $<HTMLInputElement>('objects');
const attributes = $<HTMLInputElement>('attributes');
const seed = $<HTMLInputElement>('seed');
const button = $<HTMLButtonElement>('generate');
// Cancel aborts the request; the server stops the generation when its client goes away.
const cancelButton = $<HTMLButtonElement>('cancel');
let running: AbortController | null = null;
cancelButton.addEventListener('click', () => running?.abort());
const status = $('status');
const results = $('results');

fetchInfo()
  .then((info) => {
    $('model').textContent = `${info.model} · ${info.family} · ${info.width}×${info.height}`;
    $('benchmarks-link').hidden = !info.benchmark;
    setMethodLabels(info.methods);
    showMethodChoices(info.methods);
  })
  .catch(() => {});

// The token listing follows the prompt; a newer keystroke cancels the older request.
let tokensRequest: AbortController | null = null;
let tokensTimer = 0;
function refreshTokens(): void {
  clearTimeout(tokensTimer);
  tokensTimer = window.setTimeout(async () => {
    tokensRequest?.abort();
    tokensRequest = new AbortController();
    try {
      const response = await fetchTokens(prompt.value, tokensRequest.signal);
      renderTokenChips($('tokens'), response, (token, role) => {
        const field = role === 'object' ? objects : attributes;
        field.value = field.value.trim() ? `${field.value.trim()}, ${token.token}` : token.token;
      });
    } catch (error) {
      if ((error as Error).name !== 'AbortError') $('tokens').textContent = (error as Error).message;
    }
  }, 200);
}
prompt.addEventListener('input', refreshTokens);
refreshTokens();

$('dice').addEventListener('click', () => {
  seed.value = String(Math.floor(Math.random() * 2 ** 32));
});

function readForm(): StudioGenerateBody {
  const methods = [...form.querySelectorAll<HTMLInputElement>('input[name=method]:checked')].map(
    (input) => input.value as StudioMethod,
  );
  const number = (id: string) => {
    const value = $<HTMLInputElement>(id).value.trim();
    return value === '' ? undefined : Number(value);
  };
  const negative = $<HTMLInputElement>('negative').value;
  const scheduler = $<HTMLSelectElement>('scheduler').value;
  return {
    prompt: prompt.value,
    negativePrompt: negative || undefined,
    methods,
    seed: number('seed'),
    steps: number('steps'),
    guidanceScale: number('scale'),
    scheduler: (scheduler || undefined) as StudioGenerateBody['scheduler'],
    tokens: tokenSpec(objects.value, attributes.value),
  };
}

function showStatus(text: string, kind: 'info' | 'error' | 'warning' = 'info'): void {
  status.append(h('p', { class: kind }, text));
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const body = readForm();
  if (body.methods.length === 0) {
    status.replaceChildren();
    showStatus('Pick at least one method.', 'error');
    return;
  }
  button.disabled = true;
  button.textContent = 'Generating…';
  running = new AbortController();
  cancelButton.hidden = false;
  status.replaceChildren();
  const grid = h('div', { class: 'grid' });
  const cards: ResultCard[] = [];
  const pending = new Map<StudioMethod, ReturnType<typeof pendingCard>>();
  const started = performance.now();
  try {
    await generate(
      body,
      (message) => {
        switch (message.type) {
          case 'start':
            seed.value = String(message.seed);
            for (const method of message.methods) {
              const card = pendingCard(method);
              pending.set(method, card);
              grid.append(card.element);
            }
            results.replaceChildren(
              h('p', { class: 'muted run' }, `“${body.prompt}” · seed ${message.seed}`),
              grid,
            );
            break;
          case 'progress':
            pending.get(message.method)?.progress(message.step, message.total);
            break;
          case 'warning':
            showStatus(message.message, 'warning');
            break;
          case 'result': {
            // Linked sliders: moving one shows the same loop index in every guided column.
            const card = resultCard(message, (loopIndex) => {
              for (const other of cards) if (other !== card) other.showLoopIndex(loopIndex);
            });
            cards.push(card);
            pending.get(message.method)?.element.replaceWith(card.element);
            break;
          }
          case 'error':
            showStatus(message.message, 'error');
            break;
          case 'done':
            showStatus(`Done in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
            break;
        }
      },
      running.signal,
    );
  } catch (error) {
    if (running.signal.aborted) showStatus('Cancelled.');
    else showStatus((error as Error).message, 'error');
  } finally {
    running = null;
    cancelButton.hidden = true;
    button.disabled = false;
    button.textContent = 'Generate';
    for (const [method, card] of pending) {
      if (card.element.isConnected)
        card.element.replaceWith(
          h(
            'section',
            { class: 'card' },
            h('h2', {}, methodLabel(method)),
            h('p', { class: 'muted' }, 'not generated'),
          ),
        );
    }
  }
});

/** One checkbox per method of the server's registry, all checked: the comparison is the point. */
function showMethodChoices(methods: StudioInfo['methods']): void {
  const choices = $('method-choices');
  for (const { name, label } of methods) {
    const box = h('input', { type: 'checkbox', name: 'method', value: name, checked: true });
    choices.append(h('label', {}, box, ` ${label}`));
  }
}
