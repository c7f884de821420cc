/** One run: curves (live while it trains), the confusion matrix as a heat map, per-class table, pictures. */
import { api, hasValidation, type EvalResult, type HistoryRow, type RunDetail } from '../api.js';
import { LineChart } from '../chart.js';
import { errorBox, h, pct } from '../dom.js';

/** A run trained with `--val-split 0` has no validation rows: its charts get no validation series (an empty legend entry would look like a bug). */
function curveSeries(history: HistoryRow[], key: 'acc' | 'loss', validated: boolean) {
  const val = key === 'acc' ? 'val_acc' : 'val_loss';
  const train = { label: `train ${key}`, colour: '#4e79a7', values: new Map(history.map((r) => [r.epoch, r[key]])) };
  if (!validated) return [train];
  return [train, { label: `validation ${key}`, colour: '#e15759', values: new Map(history.map((r) => [r.epoch, r[val]])) }];
}


function confusionTable(ev: EvalResult, onCell: (t: number, p: number) => void): HTMLTableElement {
  const names = ev.per_class.map((c) => c.name);
  const table = h('table', { class: 'confusion', id: 'confusion' }, h('tr', {}, h('th', {}, 'true \\ predicted'), ...names.map((n) => h('th', {}, n))));
  ev.confusion.forEach((rowValues, t) => {
    const total = rowValues.reduce((a, b) => a + b, 0) || 1;
    const tr = h('tr', {}, h('th', {}, names[t]));
    rowValues.forEach((n, p) => {
      const share = n / total;
      // Diagonal cells in blue, mistakes in red; the share of the true class sets the strength.
      const hue = t === p ? '210' : '0';
      const td = h('td', { style: `background: hsl(${hue} 70% ${100 - Math.round(55 * Math.sqrt(share))}%)`, title: `${n} ${names[t]} predicted as ${names[p]}`, 'data-true': String(t), 'data-pred': String(p) }, String(n));
      td.addEventListener('click', () => {
        table.querySelectorAll('td.selected').forEach((c) => c.classList.remove('selected'));
        td.classList.add('selected');
        onCell(t, p);
      });
      tr.append(td);
    });
    table.append(tr);
  });
  return table;
}

function perClassTable(ev: EvalResult): HTMLTableElement {
  return h('table', { id: 'per-class' }, h('tr', {}, h('th', {}, 'class'), h('th', {}, 'precision'), h('th', {}, 'recall'), h('th', {}, 'F1'), h('th', {}, 'support')), ...ev.per_class.map((c) => h('tr', {}, h('td', {}, c.name), h('td', {}, pct(c.precision, 1)), h('td', {}, pct(c.recall, 1)), h('td', {}, pct(c.f1, 1)), h('td', {}, String(c.support)))));
}

export function runView(root: HTMLElement, id: string | undefined): () => void {
  if (!id) {
    root.append(errorBox('no run given'));
    return () => {};
  }
  const accHost = h('div', { id: 'acc-chart' });
  const lossHost = h('div', { id: 'loss-chart' });
  const acc = new LineChart(accHost, 'Accuracy', 'accuracy');
  const loss = new LineChart(lossHost, 'Loss', 'loss');
  const status = h('p', { id: 'run-status' });
  let events: EventSource | null = null;
  root.append(h('h2', {}, `Run ${id}`), status, h('div', { class: 'row' }, h('div', { class: 'card' }, accHost), h('div', { class: 'card' }, lossHost)));

  const history = new Map<number, HistoryRow>();
  let validated = true;
  const redraw = () => {
    const rows = [...history.values()].sort((a, b) => a.epoch - b.epoch);
    acc.update(curveSeries(rows, 'acc', validated));
    loss.update(curveSeries(rows, 'loss', validated));
    document.getElementById('acc-chart')?.setAttribute('data-epochs', String(rows.length));
  };

  const follow = () => {
    const stop = h('button', { id: 'stop' }, 'Stop after this batch');
    stop.addEventListener('click', () => void api.stop(id).catch((e) => status.append(errorBox(e))));
    status.append(stop);
    events = api.events(id);
    events.addEventListener('epoch', (m) => {
      const row = (JSON.parse((m as MessageEvent).data) as { row: HistoryRow }).row;
      history.set(row.epoch, row);
      redraw();
    });
    events.addEventListener('batch', (m) => {
      const b = JSON.parse((m as MessageEvent).data) as { epoch: number; step: number; steps: number; loss: number; acc: number };
      status.firstChild!.textContent = `training: epoch ${b.epoch}, batch ${b.step}/${b.steps}, loss ${b.loss.toFixed(4)}, accuracy ${pct(b.acc)} `;
    });
    events.addEventListener('end', (m) => {
      const end = JSON.parse((m as MessageEvent).data) as { status: string; message?: string };
      events?.close();
      status.replaceChildren(`training ${end.status}${end.message ? `: ${end.message}` : ''} `, h('a', { href: location.hash, onclick: 'location.reload()' }, 'reload'));
      void load(false);
    });
  };

  const load = async (first: boolean) => {
    let run: RunDetail;
    try {
      run = await api.run(id);
    } catch (e) {
      // A run just started has no record until its worker has loaded the data: follow its events.
      if (first && (await api.active().catch(() => null))?.active?.id === id) {
        status.replaceChildren(h('span', {}, 'starting: loading the data and building the model… '));
        follow();
      } else root.append(errorBox(e));
      return;
    }
    validated = hasValidation(run);
    for (const row of run.history) history.set(row.epoch, row);
    redraw();
    if (first) {
      const split = validated ? '' : ', no validation split (trained on every training image)';
      status.replaceChildren(h('span', {}, `${run.config.model}, ${run.config.params?.total.toLocaleString('en') ?? 'unknown'} parameters, backend ${run.config.backend}${split}`));
      if (run.training) follow();
    }
    const ev = run.eval?.results.at(-1);
    root.querySelector('#run-eval')?.remove();
    const section = h('div', { id: 'run-eval' });
    if (ev) {
      const cellInfo = h('p', { id: 'cell-info' }, 'Click a cell to see those test images.');
      const cellImages = h('div', { id: 'cell-images' });
      const showCell = (t: number, p: number) => {
        cellInfo.textContent = `${ev.confusion[t][p]} ${ev.per_class[t].name} predicted as ${ev.per_class[p].name}`;
        cellImages.replaceChildren(h('img', { src: `api/runs/${encodeURIComponent(id)}/confusion/${t}/${p}.png`, class: 'pixelated', alt: `${ev.per_class[t].name} predicted as ${ev.per_class[p].name}`, width: '336' }));
      };
      section.append(
        h('h3', {}, `Test accuracy ${pct(ev.test_acc)}, loss ${ev.test_loss?.toFixed(4) ?? 'n/a'} (${ev.phase}, epoch ${ev.epoch}); macro F1 ${pct(ev.macro_f1)}`),
        h('div', { class: 'row' }, h('div', { class: 'card' }, h('h4', {}, 'Confusion matrix'), confusionTable(ev, showCell), cellInfo, cellImages), h('div', { class: 'card' }, h('h4', {}, 'Per class'), perClassTable(ev))),
      );
    }
    const pics = ['correct.png', 'incorrect.png', 'activations.png'].filter((p) => run.pictures.includes(p));
    if (pics.length) section.append(h('div', { class: 'row' }, ...pics.map((p) => h('div', { class: 'card' }, h('h4', {}, p.replace('.png', '')), h('img', { src: api.picture(id, p), alt: p, style: 'max-width: 600px' })))));
    root.append(section);
  };
  void load(true);
  return () => {
    events?.close();
    acc.destroy();
    loss.destroy();
  };
}
