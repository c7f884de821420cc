/** The runs list: ours beside the article's figures, several runs' curves overlaid, and a form to start a run. */
import { api, hasValidation, type ModelInfo, type RunSummary, type ServerAccess } from '../api.js';
import { LineChart, type Series } from '../chart.js';
import { CLASS_COLOURS, errorBox, h, pct } from '../dom.js';

function row(r: RunSummary, selected: Set<string>, onToggle: () => void): HTMLTableRowElement {
  const box = h('input', { type: 'checkbox', 'data-run': r.id });
  box.addEventListener('change', () => {
    if (box.checked) selected.add(r.id);
    else selected.delete(r.id);
    onToggle();
  });
  const ours = r.lastEval ? `${pct(r.lastEval.test_acc)} (${r.lastEval.phase}, epoch ${r.lastEval.epoch})` : r.training ? 'training…' : '—';
  const article = r.article ? `${pct(r.article.phase1.acc)} / ${r.article.phase2 ? pct(r.article.phase2.acc) : '—'}` : '—';
  return h('tr', {}, h('td', {}, box, ' ', h('a', { href: `#/run/${encodeURIComponent(r.id)}` }, r.id)), h('td', {}, r.model ?? r.error ?? '?'), h('td', {}, r.params?.toLocaleString('en') ?? '—'), h('td', {}, ours), h('td', {}, article));
}

function trainForm(models: ModelInfo[]): HTMLFormElement {
  // A model the server cannot train (its weights or backbone are missing) is listed, greyed, with the reason.
  const model = h('select', { name: 'model' }, ...models.map((m) => h('option', m.available ? { value: m.name } : { value: m.name, disabled: '', title: m.reason ?? '' }, m.name)));
  const field = (name: string, value: string) => h('label', {}, name, h('input', { name, value, size: '6' }));
  const form = h('form', { class: 'inline', id: 'train-form' }, h('label', {}, 'model', model), field('epochs', '10'), field('augEpochs', '0'), field('limit', '6000'), field('id', ''), h('button', { type: 'submit' }, 'Start training'));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    const body: Record<string, unknown> = { model: data.get('model') };
    for (const k of ['epochs', 'augEpochs', 'limit']) if (data.get(k)) body[k] = Number(data.get(k));
    if (data.get('id')) body.id = data.get('id');
    try {
      const { id } = await api.train(body);
      location.hash = `#/run/${encodeURIComponent(id)}`;
    } catch (e) {
      form.append(errorBox(e));
    }
  });
  return form;
}

function trainSection(access: ServerAccess, models: ModelInfo[]): HTMLElement[] {
  if (access.readOnly) return [h('p', { class: 'note', id: 'train-off' }, 'This server is read-only (fashion-cnn serve --read-only): training is off.')];
  const form = trainForm(models);
  if (!access.tokenRequired || access.tokenAccepted) return [form];
  return [h('p', { class: 'note', id: 'train-login' }, 'Training needs the server\'s token: open the dashboard through the URL fashion-cnn serve printed at start (…/?token=…).'), form];
}

export function runsView(root: HTMLElement): () => void {
  const selected = new Set<string>();
  const chartHost = h('div', { id: 'compare-chart' });
  const chart = new LineChart(chartHost, 'Validation accuracy', 'accuracy');
  const notDrawn = h('p', { id: 'compare-not-drawn', class: 'note' });
  const compare = async () => {
    const ids = [...selected];
    const runs = await Promise.all(ids.map((id) => api.run(id)));
    // Colours stay tied to a run's place in the selection, drawn or not.
    const series: Series[] = runs.flatMap((r, i) => (hasValidation(r) ? [{ label: r.id, colour: CLASS_COLOURS[i % 10], values: new Map(r.history.map((row) => [row.epoch, row.val_acc])) }] : []));
    const skipped = runs.filter((r) => !hasValidation(r)).map((r) => r.id);
    notDrawn.textContent = skipped.length ? `Not drawn: ${skipped.join(', ')} (no validation split: trained on every training image).` : '';
    if (series.length) chart.update(series);
    else chart.clear();
  };
  root.append(h('h2', {}, 'Runs'), h('p', {}, 'Test accuracy of each run beside the article\'s (after 10 epochs / after +50 augmented). Tick runs to overlay their curves.'));
  Promise.all([api.runs(), api.models(), api.access()]).then(
    ([{ runs }, { models }, access]) => {
      const table = h('table', { id: 'runs-table' }, h('tr', {}, h('th', {}, 'run'), h('th', {}, 'model'), h('th', {}, 'parameters'), h('th', {}, 'test accuracy (ours)'), h('th', {}, 'article')));
      for (const r of runs) table.append(row(r, selected, () => void compare()));
      root.append(table, h('div', { class: 'card' }, chartHost, notDrawn), h('h3', {}, 'Train a model'), ...trainSection(access, models));
    },
    (e) => root.append(errorBox(e)),
  );
  return () => chart.destroy();
}
