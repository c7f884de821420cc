/** Line charts of per-epoch values (uPlot: small, canvas-drawn, fast enough to redraw every epoch). */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series { label: string; colour: string; values: Map<number, number | null>; dash?: boolean }

export class LineChart {
  private plot: uPlot | null = null;

  constructor(private readonly host: HTMLElement, private readonly title: string, private readonly yLabel: string) {}

  /** Redraws with these series; x is the union of their epochs. */
  update(series: Series[]): void {
    const xs = [...new Set(series.flatMap((s) => [...s.values.keys()]))].sort((a, b) => a - b);
    const data: uPlot.AlignedData = [xs, ...series.map((s) => xs.map((x) => s.values.get(x) ?? null))];
    const width = Math.max(320, Math.min(640, this.host.clientWidth || 560));
    if (this.plot && this.plot.series.length === series.length + 1) {
      this.plot.setData(data);
      return;
    }
    this.plot?.destroy();
    this.plot = new uPlot(
      {
        title: this.title,
        width,
        height: 280,
        scales: { x: { time: false } },
        // Epochs are whole numbers: ticks only at whole steps, never 1.2, 1.4, ...
        axes: [{ label: 'epoch', incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500] }, { label: this.yLabel }],
        series: [{ label: 'epoch' }, ...series.map((s) => ({ label: s.label, stroke: s.colour, width: 2, dash: s.dash ? [6, 4] : undefined, points: { show: true, size: 5 } }))],
      },
      data,
      this.host,
    );
  }

  /** Removes the plot; the next update draws a new one. */
  clear(): void {
    this.plot?.destroy();
    this.plot = null;
  }

  destroy(): void {
    this.clear();
  }
}
