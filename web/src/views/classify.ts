/** Classify a photo: drag and drop, a file, or the phone's camera; the model's input, top-3 bars, saliency. */
import { api, type Prediction } from '../api.js';
import { errorBox, h, pct } from '../dom.js';

function result(p: Prediction, original: string): HTMLElement {
  const bars = p.top.map((c) => h('div', { class: 'top-row' }, h('div', { class: 'bar', style: `width: ${Math.max(1, Math.round(c.prob * 300))}px` }, ''), h('span', { class: 'top-label' }, `${c.name} ${pct(c.prob, 1)}`)));
  const img = (src: string, alt: string, id: string) => h('figure', {}, h('img', { src, alt, id, class: 'pixelated', width: '168', height: '168' }), h('figcaption', {}, alt));
  return h(
    'div',
    { class: 'row', id: 'prediction' },
    h('figure', {}, h('img', { src: original, alt: 'your photo', style: 'max-width: 240px; max-height: 240px' }), h('figcaption', {}, 'your photo')),
    img(p.input, 'what the model saw (28x28)', 'model-input'),
    img(p.saliency, 'pixels that drove the decision', 'saliency'),
    h('div', { class: 'card' }, h('h3', { id: 'predicted-label' }, p.top[0].name), ...bars, h('p', {}, `model: ${p.model}`)),
  );
}

export function classifyView(root: HTMLElement): void {
  const out = h('div', { id: 'classify-result' });
  const input = h('input', { type: 'file', accept: 'image/*', capture: 'environment', id: 'photo-input' });
  const runSelect = h('select', { id: 'classify-run' }, h('option', { value: '' }, 'default model'));
  const drop = h('div', { class: 'drop', id: 'drop' }, 'Drop a clothing photo here, or ', input);
  root.append(h('h2', {}, 'Classify a photo'), h('label', {}, 'model: ', runSelect), drop, out);
  api.runs().then(({ runs }) => runSelect.append(...runs.filter((r) => !r.error).map((r) => h('option', { value: r.id }, r.id))), () => {});

  const classify = async (file: File) => {
    out.replaceChildren(h('p', {}, 'classifying…'));
    const original = URL.createObjectURL(file);
    try {
      out.replaceChildren(result(await api.predict(file, runSelect.value || undefined), original));
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
