/** Classify a photo: drag and drop, a file, or the phone's camera; the model's input, top-3 bars, saliency. */
import { api, type Prediction } from '../api.js';
import { errorBox, h, pct } from '../dom.js';
import type { BrowserPrediction } from '../in-browser.js';

/** Where the answer was computed: by the server, or by TF.js in this page (with its timings). */
function origin(p: Prediction | BrowserPrediction): string {
  if (!('timings' in p)) return `model: ${p.model} (on the server)`;
  const ms = (v: number) => `${Math.round(v)} ms`;
  return `model: ${p.model}, in this browser (TF.js, ${p.backend} backend): preprocessing ${ms(p.timings.preprocess)}, model ${ms(p.timings.model)}${p.timings.load > 1 ? `, loading it ${ms(p.timings.load)}` : ''}`;
}

function result(p: Prediction | BrowserPrediction, original: string): HTMLElement {
  const bars = p.top.map((c) => h('div', { class: 'top-row' }, h('div', { class: 'bar', style: `width: ${Math.max(1, Math.round(c.prob * 300))}px` }, ''), h('span', { class: 'top-label' }, `${c.name} ${pct(c.prob, 1)}`)));
  const img = (src: string, alt: string, id: string) => h('figure', {}, h('img', { src, alt, id, class: 'pixelated', width: '168', height: '168' }), h('figcaption', {}, alt));
  return h(
    'div',
    { class: 'row', id: 'prediction' },
    h('figure', {}, h('img', { src: original, alt: 'your photo', style: 'max-width: 240px; max-height: 240px' }), h('figcaption', {}, 'your photo')),
    img(p.input, 'what the model saw (28x28)', 'model-input'),
    ...(p.saliency ? [img(p.saliency, 'pixels that drove the decision', 'saliency')] : []),
    h('div', { class: 'card' }, h('h3', { id: 'predicted-label' }, p.top[0].name), ...bars, h('p', { id: 'prediction-origin' }, origin(p))),
  );
}

export function classifyView(root: HTMLElement): void {
  const out = h('div', { id: 'classify-result' });
  const input = h('input', { type: 'file', accept: 'image/*', capture: 'environment', id: 'photo-input' });
  const runSelect = h('select', { id: 'classify-run' }, h('option', { value: '' }, 'default model'));
  const drop = h('div', { class: 'drop', id: 'drop' }, 'Drop a clothing photo here, or ', input);
  const inBrowser = h('input', { type: 'checkbox', id: 'in-browser' });
  const where = h('label', { title: 'Downloads the model (about 7 MB for the default) and TF.js once, then classifies without sending the photo anywhere' }, inBrowser, ' run the model in this browser (TF.js)');
  root.append(h('h2', {}, 'Classify a photo'), h('div', { class: 'row' }, h('label', {}, 'model: ', runSelect), where), drop, out);
  api.runs().then(({ runs }) => runSelect.append(...runs.filter((r) => !r.error).map((r) => h('option', { value: r.id }, r.id))), () => {});

  const classify = async (file: File) => {
    out.replaceChildren(h('p', {}, 'classifying…'));
    const original = URL.createObjectURL(file);
    try {
      const runId = runSelect.value || undefined;
      // TF.js is only fetched when asked for: the dashboard's first load stays small.
      const answer = inBrowser.checked ? await import('../in-browser.js').then((m) => m.classifyInBrowser(file, runId)) : await api.predict(file, runId);
      out.replaceChildren(result(answer, original));
    } catch (e) {
      out.replaceChildren(errorBox(e));
    }
  };
  input.addEventListener('change', () => input.files?.[0] && void classify(input.files[0]));
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const file = e.dataTransfer?.files[0];
    if (file) void classify(file);
  });
}
