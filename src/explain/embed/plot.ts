/** The scatter plot of a projection, coloured by class, as SVG (vega-lite) and PNG (sharp). */
import type { TopLevelSpec } from 'vega-lite';
import { CHART_CONFIG, svgToPng, vegaLiteToSvg } from '../render.js';
import { writeFileAtomic } from '../../util/atomic.js';

export interface ScatterInput {
  coords: Float32Array | Float64Array;
  dims: number;
  labels: ArrayLike<number>;
  classNames: readonly string[];
  axes: string[];
  title: string;
  subtitle?: string;
}

/** Ten distinguishable colours (Tableau 10), one per class, in class order. */
const CLASS_COLOURS = ['#4e79a7', '#f28e2b', '#e15759', '#76b7b2', '#59a14f', '#edc948', '#b07aa1', '#ff9da7', '#9c755f', '#bab0ac'];

export function scatterSpec(input: ScatterInput): TopLevelSpec {
  const n = input.labels.length;
  const values = new Array(n);
  for (let i = 0; i < n; i++) {
    values[i] = {
      x: round(input.coords[i * input.dims]),
      y: round(input.coords[i * input.dims + 1]),
      class: input.classNames[input.labels[i]],
    };
  }
  // Smaller, lighter dots as the cloud gets denser, so clusters stay readable.
  const size = n > 6000 ? 5 : n > 3000 ? 8 : n > 1000 ? 14 : 24;
  const title = input.dims === 3 ? `${input.title} — first two of three dimensions` : input.title;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    width: 620,
    height: 620,
    title: { text: title, subtitle: input.subtitle ?? '' },
    data: { values },
    // fillOpacity, not opacity: librsvg gives every element with `opacity` its own offscreen layer,
    // which made a 2,500-point PNG take 7 s. aria off: no per-point labels bloating the SVG.
    mark: { type: 'circle', size, fillOpacity: n > 3000 ? 0.6 : 0.75, aria: false },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: input.axes[0], scale: { zero: false, nice: false, padding: 8 }, axis: { grid: false } },
      y: { field: 'y', type: 'quantitative', title: input.axes[1], scale: { zero: false, nice: false, padding: 8 }, axis: { grid: false } },
      color: {
        field: 'class',
        type: 'nominal',
        scale: { domain: [...input.classNames], range: CLASS_COLOURS.slice(0, input.classNames.length) },
        legend: { title: 'class', symbolOpacity: 1, symbolSize: 120 },
      },
    },
    config: CHART_CONFIG,
  };
}

function round(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

export async function writeScatter(input: ScatterInput, out: { svg: string; png: string }): Promise<void> {
  const svg = await vegaLiteToSvg(scatterSpec(input));
  await writeFileAtomic(out.svg, svg);
  await writeFileAtomic(out.png, await svgToPng(svg));
}
