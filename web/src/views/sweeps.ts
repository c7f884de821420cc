/** Sweeps: the list, and one sweep's mean ± std per configuration and every run's live state (SSE). */
import { api, type SweepSummary } from '../api.js';
import { errorBox, h, pct } from '../dom.js';

const pm = (m: { mean: number; std: number } | null) => (m ? `${(100 * m.mean).toFixed(2)} ± ${(100 * m.std).toFixed(2)}` : '—');
const delta = (a: { mean: number } | null, b: { mean: number } | null) => (a && b ? `${a.mean >= b.mean ? '+' : ''}${(100 * (a.mean - b.mean)).toFixed(2)}` : '—');

function configTable(s: SweepSummary): HTMLTableElement {
  const table = h('table', { id: 'sweep-configs' }, h('tr', {}, ...['configuration', 'runs done', 'test accuracy %', 'vs baseline', 'validation accuracy %', 'vs baseline', 'minutes'].map((t) => h('th', {}, t))));
  for (const c of s.configs) {
    const base = s.configs.find((b) => b.config === c.baseline) ?? null;
    const isBase = c.config === c.baseline;
    table.append(
      h(
        'tr',
        {},
        h('td', {}, isBase ? `${c.config} (baseline)` : c.config),
        h('td', {}, `${c.done}/${c.total}`),
        h('td', {}, pm(c.testAcc)),
        h('td', {}, isBase ? '' : delta(c.testAcc, base?.testAcc ?? null)),
        h('td', {}, pm(c.valAcc)),
        h('td', {}, isBase ? '' : delta(c.valAcc, base?.valAcc ?? null)),
        h('td', {}, c.minutes ? `${c.minutes.mean.toFixed(1)} ± ${c.minutes.std.toFixed(1)}` : '—'),
      ),
    );
  }
  return table;
}

function runTable(s: SweepSummary): HTMLTableElement {
  const table = h('table', { id: 'sweep-runs' }, h('tr', {}, ...['run', 'seed', 'settings', 'state', 'epochs', 'validation accuracy', 'test accuracy', 'minutes'].map((t) => h('th', {}, t))));
  for (const j of s.jobs) {
    const settings = Object.entries(j.settings).map(([k, v]) => `${k}=${v}`).join(' ') || '—';
    table.append(h('tr', { class: `state-${j.state}` }, h('td', {}, j.id), h('td', {}, String(j.seed)), h('td', {}, settings), h('td', { title: j.error ?? '' }, j.error ? `${j.state}: ${j.error}` : j.state), h('td', {}, `${j.epochs}/${j.plannedEpochs}`), h('td', {}, pct(j.valAcc)), h('td', {}, pct(j.testAcc)), h('td', {}, j.minutes.toFixed(1))));
  }
  return table;
}

function sweepView(root: HTMLElement, id: string): () => void {
  const status = h('p', { id: 'sweep-status' });
  const body = h('div', {});
  root.append(h('h2', {}, `Sweep ${id}`), status, body);
  const draw = (s: SweepSummary) => {
    const d = s.definition;
    status.textContent = `${s.counts.done} of ${s.jobs.length} runs done${s.counts.running ? `, ${s.counts.running} running` : ''}${s.counts.failed ? `, ${s.counts.failed} failed` : ''}. Models ${d.models.join(', ')}; seeds ${d.seeds.join(', ')}; grid ${d.grid.map(([k, v]) => `${k}=${v.join(',')}`).join(' ') || '(none)'}.`;
    body.replaceChildren(
      h('h3', {}, 'Per configuration (mean ± std over the seeds that finished)'),
      configTable(s),
      h('h3', {}, 'Every run'),
      runTable(s),
      h('p', { class: 'note' }, `Each run is an ordinary run directory: open them all with fashion-cnn serve --runs runs/sweeps/${id}.`),
    );
  };
  const events = api.sweepEvents(id);
  events.addEventListener('summary', (m) => draw(JSON.parse((m as MessageEvent).data as string) as SweepSummary));
  events.addEventListener('end', () => events.close());
  events.onerror = () => {
    if (events.readyState === EventSource.CLOSED) return;
    api.sweep(id).then(draw, (e) => body.replaceChildren(errorBox(e)));
    events.close();
  };
  return () => events.close();
}

export function sweepsView(root: HTMLElement, id: string | undefined): (() => void) | void {
  if (id) return sweepView(root, id);
  root.append(h('h2', {}, 'Sweeps'), h('p', {}, 'Sweeps started with fashion-cnn sweep (their folders under runs/sweeps/).'));
  api.sweeps().then(
    ({ sweeps }) => {
      if (sweeps.length === 0) {
        root.append(h('p', { class: 'note', id: 'no-sweeps' }, 'No sweep yet: fashion-cnn sweep --models cnn1,cnn3 --seeds 1,2,3 starts one.'));
        return;
      }
      const table = h('table', { id: 'sweeps-table' }, h('tr', {}, ...['sweep', 'models', 'runs done', 'running', 'failed', 'started'].map((t) => h('th', {}, t))));
      for (const s of sweeps) table.append(h('tr', {}, h('td', {}, h('a', { href: `#/sweeps/${encodeURIComponent(s.id)}` }, s.id)), h('td', {}, s.models.join(', ')), h('td', {}, `${s.counts.done}/${s.runs}`), h('td', {}, String(s.counts.running)), h('td', {}, String(s.counts.failed)), h('td', {}, s.createdAt.replace('T', ' ').slice(0, 16))));
      root.append(table);
    },
    (e) => root.append(errorBox(e)),
  );
}
