/** The 10x10 confusion matrix of a test evaluation as an annotated heatmap. */
import type { TopLevelSpec } from 'vega-lite';
import { CLASS_NAMES } from '../data/types.js';
import type { EvalResult } from '../runs/types.js';
import { UserError } from '../util/errors.js';
import { CHART_CONFIG, vegaLiteToSvg, writeSvgAndPng } from './render.js';
import { metric, percent } from '../util/format.js';

const CELL = 46;

interface Cell {
  true: string;
  predicted: string;
  count: number;
  /** Share of the true class's images that landed in this cell (the row-normalised rate). */
  share: number;
}

function cells(confusion: number[][]): Cell[] {
  const n = CLASS_NAMES.length;
  if (confusion.length !== n || confusion.some((row) => row.length !== n)) {
    throw new UserError(`confusion matrix must be ${n}x${n}, got ${confusion.length}x${confusion[0]?.length ?? 0}`);
  }
  const out: Cell[] = [];
  confusion.forEach((row, t) => {
    const total = row.reduce((a, b) => a + b, 0);
    row.forEach((count, p) => {
      out.push({ true: CLASS_NAMES[t], predicted: CLASS_NAMES[p], count, share: total > 0 ? count / total : 0 });
    });
  });
  return out;
}


export function confusionSpec(result: EvalResult): TopLevelSpec {
  const classes = [...CLASS_NAMES];
  const axisScale = (title: string) => ({ field: title, type: 'ordinal' as const, sort: classes, title, scale: { domain: classes } });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: {
      text: `Confusion matrix — test accuracy ${percent(result.test_acc)}`,
      subtitle: `${result.count} test images, phase ${result.phase}, epoch ${result.epoch}, test loss ${metric(result.test_loss)}`,
    },
    config: { ...CHART_CONFIG, axis: { ...CHART_CONFIG.axis, grid: false, ticks: false, domain: false, labelPadding: 6 } },
    data: { values: cells(result.confusion) },
    width: CELL * classes.length,
    height: CELL * classes.length,
    encoding: {
      x: { ...axisScale('predicted'), axis: { orient: 'top', labelAngle: -40, labelAlign: 'left' } },
      y: axisScale('true'),
    },
    layer: [
      {
        mark: { type: 'rect', stroke: 'white', strokeWidth: 1 },
        encoding: {
          // sqrt keeps the small off-diagonal rates visible next to a ~90% diagonal.
          color: {
            field: 'share',
            type: 'quantitative',
            title: 'share of true class',
            scale: { scheme: 'blues', type: 'sqrt', domain: [0, 1] },
            legend: { format: '.0%', gradientLength: CELL * 6, titleLimit: 400 },
          },
          tooltip: [{ field: 'true' }, { field: 'predicted' }, { field: 'count' }, { field: 'share', format: '.2%' }],
        },
      },
      {
        mark: { type: 'text', fontSize: 11 },
        encoding: {
          text: { field: 'count', type: 'quantitative' },
          color: {
            condition: { test: 'datum.share > 0.45', value: 'white' },
            value: 'black',
          },
        },
      },
    ],
  } as TopLevelSpec;
}

export async function confusionSvg(result: EvalResult): Promise<string> {
  return vegaLiteToSvg(confusionSpec(result));
}

export async function renderConfusion(result: EvalResult, out: { svg: string; png: string }): Promise<void> {
  await writeSvgAndPng(await confusionSvg(result), out);
}
