/** Training curves: accuracy and loss per epoch, train and validation, both phases of a run. */
import type { TopLevelSpec } from 'vega-lite';
import type { HistoryRow } from '../runs/types.js';
import { UserError } from '../util/errors.js';
import { CHART_CONFIG, vegaLiteToSvg, writeSvgAndPng } from './render.js';

export const PHASE_BOUNDARY_LABEL = 'augmentation starts';
export const SPLIT_LABELS = { train: 'train', val: 'validation' } as const;

interface CurvePoint {
  epoch: number;
  phase: HistoryRow['phase'];
  split: string;
  value: number;
}

const PANELS = [
  { title: 'accuracy', train: 'acc', val: 'val_acc' },
  { title: 'loss', train: 'loss', val: 'val_loss' },
] as const;

const PANEL_SIZE = { width: 380, height: 260 };

/** The epoch after which phase 2 begins (rule drawn half-way to the next), or null with one phase. */
export function phaseBoundary(history: readonly HistoryRow[]): number | null {
  const base = history.filter((r) => r.phase === 'base');
  const augment = history.filter((r) => r.phase === 'augment');
  if (base.length === 0 || augment.length === 0) return null;
  return Math.max(...base.map((r) => r.epoch)) + 0.5;
}

function points(history: readonly HistoryRow[], panel: (typeof PANELS)[number]): CurvePoint[] {
  const out: CurvePoint[] = [];
  for (const r of history) {
    // A missing or NaN value (e.g. no validation split) leaves a gap rather than breaking the chart.
    for (const split of ['train', 'val'] as const) {
      const value = r[panel[split]];
      if (typeof value === 'number' && Number.isFinite(value)) out.push({ epoch: r.epoch, phase: r.phase, split: SPLIT_LABELS[split], value });
    }
  }
  return out;
}

/** The Vega-Lite spec (also usable as-is by a browser with vega-embed). */
export function curvesSpec(history: readonly HistoryRow[], opts: { title?: string } = {}): TopLevelSpec {
  if (history.length === 0) throw new UserError('no training history to draw (history.jsonl is empty)');
  const epochs = history.map((r) => r.epoch);
  const xDomain = [Math.min(...epochs) - 0.5, Math.max(...epochs) + 0.5];
  const boundary = phaseBoundary(history);
  const x = {
    field: 'epoch',
    type: 'quantitative' as const,
    title: 'epoch',
    scale: { domain: xDomain, nice: false },
    axis: { tickMinStep: 1, format: 'd' },
  };
  // A run trained without a validation split (--val-split 0) has no validation figures: no legend entry for them either.
  const hasValidation = history.some((r) => Number.isFinite(r.val_acc) || Number.isFinite(r.val_loss));
  const splits = hasValidation ? [SPLIT_LABELS.train, SPLIT_LABELS.val] : [SPLIT_LABELS.train];
  const color = {
    field: 'split',
    type: 'nominal' as const,
    title: null,
    scale: { domain: splits, range: ['#1f77b4', '#ff7f0e'].slice(0, splits.length) },
    legend: { orient: 'top' as const, direction: 'horizontal' as const, symbolType: 'stroke', symbolStrokeWidth: 3, symbolSize: 300 },
  };
  const boundaryAtRight = boundary !== null && boundary - xDomain[0] > 0.6 * (xDomain[1] - xDomain[0]);
  const labelSide = boundaryAtRight ? { align: 'right' as const, dx: -4 } : { align: 'left' as const, dx: 4 };
  const panel = (p: (typeof PANELS)[number]) => {
    const layers: object[] = [
      {
        data: { values: points(history, p) },
        // Points keep a one-epoch history visible; lines connect them when there are more.
        mark: { type: 'line', point: { size: history.length > 40 ? 12 : 30 }, strokeWidth: 2 },
        encoding: {
          x,
          y: { field: 'value', type: 'quantitative', title: p.title, scale: { zero: false } },
          color,
          tooltip: [{ field: 'epoch' }, { field: 'phase' }, { field: 'split' }, { field: 'value', format: '.4f' }],
        },
      },
    ];
    if (boundary !== null) {
      layers.push(
        {
          data: { values: [{ epoch: boundary }] },
          mark: { type: 'rule', color: '#555', strokeDash: [5, 4], strokeWidth: 1.5 },
          encoding: { x },
        },
        {
          // Above the plot frame, so it never sits on a curve; it extends away from the nearer
          // edge of the x range, so it stays over the panel.
          data: { values: [{ epoch: boundary, label: PHASE_BOUNDARY_LABEL }] },
          mark: { type: 'text', baseline: 'bottom', y: -4, fontSize: 11, color: '#333', ...labelSide },
          encoding: { x, text: { field: 'label' } },
        },
      );
    }
    return { ...PANEL_SIZE, title: { text: p.title, anchor: 'middle' as const, fontSize: 13, offset: 22 }, layer: layers };
  };
  const phases = [...new Set(history.map((r) => r.phase))].join(' + ');
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: opts.title ?? 'Training history', subtitle: `${history.length} epoch${history.length === 1 ? '' : 's'} (${phases})${hasValidation ? '' : ', no validation split'}` },
    config: CHART_CONFIG,
    hconcat: PANELS.map(panel),
    spacing: 40,
  } as TopLevelSpec;
}

export async function curvesSvg(history: readonly HistoryRow[], opts: { title?: string } = {}): Promise<string> {
  return vegaLiteToSvg(curvesSpec(history, opts));
}

export async function renderCurves(
  history: readonly HistoryRow[],
  out: { svg: string; png: string },
  opts: { title?: string } = {},
): Promise<void> {
  await writeSvgAndPng(await curvesSvg(history, opts), out);
}
