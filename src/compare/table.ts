/** The article's comparison table beside ours, as data (compare.json) and Markdown (compare.md). */
import type { EvalReport, EvalResult, HistoryRow } from '../runs/types.js';
import type { ArticleFigures } from '../models/registry.js';
import { metric, percent } from '../util/format.js';

export interface CompareRow {
  model: string;
  runDir: string;
  params: number;
  ours: {
    phase1?: { loss: number | null; acc: number | null; seconds: number; epochs: number };
    phase2?: { loss: number | null; acc: number | null; seconds: number; epochs: number };
  };
  article: ArticleFigures | null;
}

export interface CompareReport {
  createdAt: string;
  backend: string;
  protocol: { epochs: number; augEpochs: number; batchSize: number; seed: number; limit: number | null };
  rows: CompareRow[];
  /** Models that could not run here (vgg19 without its weights), with the reason. */
  skipped?: { model: string; reason: string }[];
}

export function compareRow(model: string, runDir: string, params: number, history: HistoryRow[], report: EvalReport, article: ArticleFigures | null): CompareRow {
  const phase = (p: 'base' | 'augment', r: EvalResult | undefined) => {
    if (!r) return undefined;
    const rows = history.filter((h) => h.phase === p);
    return { loss: r.test_loss, acc: r.test_acc, seconds: rows.reduce((a, h) => a + h.seconds, 0), epochs: rows.length };
  };
  return {
    model,
    runDir,
    params,
    ours: {
      phase1: phase('base', report.results.find((r) => r.phase === 'base')),
      phase2: phase('augment', report.results.find((r) => r.phase === 'augment')),
    },
    article,
  };
}

const pct = percent;
const lossAcc = (x?: { loss: number | null; acc: number | null }) => (x ? `${metric(x.loss)} / ${pct(x.acc)}` : '—');
/** Ours, with the epoch count when a model's own protocol differs from the table's (vgg19: 50 epochs of its head). */
const oursLossAcc = (x: { loss: number | null; acc: number | null; epochs: number } | undefined, protocolEpochs: number) =>
  x && x.epochs !== protocolEpochs ? `${lossAcc(x)} (${x.epochs} epochs)` : lossAcc(x);
const secs = (x?: { seconds: number }) => (x ? `${Math.round(x.seconds).toLocaleString('en')} s` : '—');

export function compareMarkdown(r: CompareReport): string {
  const p = r.protocol;
  const lines = [
    `# fashion-cnn vs the article`,
    '',
    `Protocol: ${p.epochs} epochs, then ${p.augEpochs} augmented epochs, batch ${p.batchSize}, seed ${p.seed}` +
      `${p.limit ? `, first ${p.limit} training images only` : ', full 48,000/12,000 split'}; backend ${r.backend}; ${r.createdAt}.`,
    '',
    '| model | params | test loss / acc after phase 1 (article) | ours | after phase 2 (article) | ours | time phase 1 / 2 (article, 2018 laptop) | ours |',
    '|---|---|---|---|---|---|---|---|',
  ];
  for (const row of r.rows) {
    const a = row.article;
    lines.push(
      `| ${row.model} | ${row.params.toLocaleString('en')} | ${a ? lossAcc(a.phase1) : '—'} | ${oursLossAcc(row.ours.phase1, p.epochs)} | ${a?.phase2 ? lossAcc(a.phase2) : '—'} | ${oursLossAcc(row.ours.phase2, p.augEpochs)} | ` +
        `${a ? `${secs(a.phase1)} / ${secs(a.phase2)}` : '—'} | ${secs(row.ours.phase1)} / ${secs(row.ours.phase2)} |`,
    );
  }
  for (const s of r.skipped ?? []) lines.push('', `${s.model}: not run (${s.reason})`);
  return lines.join('\n') + '\n';
}
