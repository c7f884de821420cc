/**
 * `npm run results:curve -- RUN_DIR...`: validation accuracy against minutes of training for
 * several runs in one chart (docs/results/accuracy-vs-minutes.png). The minutes are the sums of
 * the runs' recorded epoch times (training plus the validation pass), so runs made at different
 * times compare as they ran; each run's test accuracy is marked at its end.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { TopLevelSpec } from 'vega-lite';
import { CHART_CONFIG, svgToPng, vegaLiteToSvg } from '../src/explain/render.js';
import { readEvalReport, readHistory, readRunConfig } from '../src/runs/index.js';
import { writeFileAtomic } from '../src/util/atomic.js';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { out: { type: 'string', default: 'docs/results/accuracy-vs-minutes.png' } } });
if (positionals.length === 0) {
  process.stderr.write('usage: npm run results:curve -- [--out FILE.png] RUN_DIR...\n');
  process.exit(2);
}

/** The first epochs of every model are far below the rest; drawing them would flatten what matters. */
const FLOOR = 86;

interface Point { run: string; minutes: number; accuracy: number; kind: 'validation' | 'test' }
const points: Point[] = [];
for (const dir of positionals) {
  const config = await readRunConfig(dir);
  const history = await readHistory(dir);
  const run = `${config.model} (${path.basename(dir)})`;
  let seconds = 0;
  for (const row of history) {
    seconds += row.seconds;
    if (row.val_acc !== null) points.push({ run, minutes: seconds / 60, accuracy: row.val_acc * 100, kind: 'validation' });
  }
  const evalReport = await readEvalReport(dir);
  const last = evalReport?.results[evalReport.results.length - 1];
  if (last?.test_acc != null) points.push({ run, minutes: seconds / 60, accuracy: last.test_acc * 100, kind: 'test' });
}

const spec: TopLevelSpec = {
  $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
  config: CHART_CONFIG,
  title: { text: 'Accuracy against minutes of training on 2 CPU cores', subtitle: ['lines: validation accuracy after each epoch; diamonds: test accuracy at the end of the run', `(points below ${FLOOR}% are not drawn)`] },
  width: 640,
  height: 360,
  data: { values: points },
  transform: [{ filter: `datum.accuracy >= ${FLOOR}` }],
  encoding: {
    x: { field: 'minutes', type: 'quantitative', title: 'minutes of training (sum of epoch times)' },
    y: { field: 'accuracy', type: 'quantitative', title: 'accuracy (%)', scale: { domain: [FLOOR, 96] } },
    color: { field: 'run', type: 'nominal', title: 'run', legend: { labelLimit: 400 } },
  },
  layer: [
    { transform: [{ filter: "datum.kind === 'validation'" }], mark: { type: 'line', point: true } },
    { transform: [{ filter: "datum.kind === 'test'" }], mark: { type: 'point', shape: 'diamond', size: 140, filled: true } },
  ],
};
await writeFileAtomic(values.out!, await svgToPng(await vegaLiteToSvg(spec)));
process.stderr.write(`wrote ${values.out}\n`);
