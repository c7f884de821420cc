/**
 * `fashion-cnn bench`: training and inference images/s per model and backend, with PyTorch
 * measured in the same run when it is installed. With several rounds, our backends and PyTorch
 * alternate and the medians are reported (single rounds move by a fifth on a shared host).
 */
import { availableParallelism } from 'node:os';
import { initBackend, nativeKernelRuns, nativePeak, type BackendName, type KernelRuns } from '../backend/index.js';
import { loadFashionMnist, toExamples } from '../data/index.js';
import { requireModelSpec } from '../models/build.js';
import { applyModelOptions } from '../models/registry.js';
import { errorMessage } from '../util/errors.js';
import { combineThroughput, combineTorch } from './rounds.js';
import { kernelProfile, profileMarkdown, type KernelProfile } from './profile.js';
import { DEFAULT_THROUGHPUT, measureThroughput, type Throughput, type TimedStepsHooks } from './throughput.js';
import { PYTHON, measureTorch, torchAvailable, torchScripts, type TorchResult } from './torch.js';

export interface BenchOptions {
  models: string[];
  backends: BackendName[];
  /** Training steps measured after warm-up. */
  steps: number;
  rounds: number;
  /** Measure PyTorch too, when it can be imported. */
  torch: boolean;
  torchScript?: string;
  /** Per-kernel time of the native backend's timed training steps (KernelProfile per row). */
  profile?: boolean;
  dataDir?: string;
  verify?: boolean;
  log?: (line: string) => void;
}

export interface BenchRow extends Partial<Throughput> {
  model: string;
  backend: string;
  description?: string;
  /** Threads the backend computes on. */
  threads?: number;
  /** Training and inference FLOP/s as a share of the machine's peak at the backend's threads (0.5 = 50%). */
  trainPeakShare?: number;
  inferPeakShare?: number;
  error?: string;
  /** Each round's measurement, when there were several. */
  rounds?: Throughput[];
  trainVsTorch?: number;
  inferVsTorch?: number;
  /** With --profile, on the native backend: the first round's per-kernel profile of the training steps. */
  profile?: KernelProfile;
}

/** The machine's float32 peak (an FMA loop in the native addon): the best of the rounds' measurements. */
export interface PeakReport {
  /** Floats per vector of the instruction set it ran (that of oneDNN's kernels). */
  lanes: number;
  /** GFLOP/s by thread count. */
  gflops: Record<number, number>;
}

export interface BenchReport {
  rows: BenchRow[];
  torch: Record<string, TorchResult | { error: string }>;
  /** Null when the native addon, which measures it, is unavailable. */
  peak: PeakReport | null;
  /** Per model measured with PyTorch, its share of the peak at PyTorch's threads. */
  torchPeakShare?: Record<string, { train: number; infer: number }>;
}

/** FMA-loop time per thread count and round (the best of each's runs is kept). */
const PEAK_MS = 300;

/** Measures the peak on 1 .. every core's threads, keeping the best of this and earlier rounds. */
function measurePeak(previous: PeakReport | null): PeakReport | null {
  let peak = previous;
  for (let threads = 1; threads <= availableParallelism(); threads++) {
    const m = nativePeak(threads, PEAK_MS);
    if (!m) return previous;
    peak ??= { lanes: m.lanes, gflops: {} };
    peak.gflops[threads] = Math.max(peak.gflops[threads] ?? 0, m.gflops);
  }
  return peak;
}

/** FLOP/s over the peak at `threads` (or at the most threads measured, when more are asked). */
function peakShare(peak: PeakReport | null, threads: number | undefined, imgPerS?: number, flopsPerImage?: number): number | undefined {
  if (!peak || imgPerS === undefined || flopsPerImage === undefined) return undefined;
  const measured = Object.keys(peak.gflops).map(Number);
  const gflops = peak.gflops[Math.min(threads ?? 1, Math.max(...measured))];
  return gflops ? (imgPerS * flopsPerImage) / (gflops * 1e9) : undefined;
}

export const formatRate = (n?: number) => (n === undefined ? '—' : Math.round(n).toLocaleString('en'));

export async function benchModels(opts: BenchOptions): Promise<BenchReport> {
  const say = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  // Speed does not depend on the weights: VGG-19 is measured with random ones (its ImageNet file may not be here).
  const specs = opts.models.map((m) => {
    const spec = requireModelSpec(m);
    return spec.kind === 'transfer' && spec.backbone.source === 'vgg19' ? applyModelOptions(spec, { weights: 'random' }) : spec;
  });
  const scripts = torchScripts(opts.models, opts.torchScript);
  const data = await loadFashionMnist({ dataDir: opts.dataDir, verify: opts.verify });
  const train = toExamples(data.train);
  const anyScript = [...scripts.values()].some((s) => s !== null);
  const withTorch = opts.torch && anyScript && (await torchAvailable());
  if (opts.torch && !withTorch) {
    say(`PyTorch reference skipped: ${anyScript ? `${PYTHON} cannot import torch (see ../shared/bench/setup-torch.sh)` : 'no reference script found'}`);
  } else if (withTorch) {
    for (const [m, s] of scripts) if (s === null) say(`PyTorch reference skipped for ${m}: no reference script for it (--torch-script ${m}=FILE)`);
  }
  const ours = new Map<string, BenchRow & { measured: Throughput[] }>();
  let peak: PeakReport | null = null;
  const torchRounds = new Map<string, TorchResult[]>();
  const torchErrors: Record<string, { error: string }> = {};
  for (let round = 1; round <= opts.rounds; round++) {
    if (opts.rounds > 1) say(`round ${round} of ${opts.rounds}`);
    for (const b of opts.backends) {
      let description: string;
      let threads: number;
      try {
        ({ description, threads = 1 } = await initBackend(b));
      } catch (e) {
        if (round === 1) say(`${b}: unavailable (${errorMessage(e)})`);
        for (const s of specs) ours.set(`${b}/${s.name}`, { model: s.name, backend: b, error: errorMessage(e), measured: [] });
        continue;
      }
      say(`backend: ${description}`);
      if (b === 'native') {
        peak = measurePeak(peak);
        if (peak) say(`  peak (float32 FMA loop, ${peak.lanes} floats per vector): ${peakLine(peak)}`);
      }
      for (const spec of specs) {
        const profiler = opts.profile && b === 'native' && round === 1 ? new StepProfiler(opts.steps) : undefined;
        const t = await measureThroughput(spec, train.x, train.y, { ...DEFAULT_THROUGHPUT, trainSteps: opts.steps }, profiler);
        say(`  ${spec.name}: train ${formatRate(t.trainImgPerS)} img/s, inference ${formatRate(t.inferImgPerS)} img/s, peak RSS ${Math.round(t.peakRssMb)} MB`);
        const key = `${b}/${spec.name}`;
        const row = ours.get(key) ?? { model: spec.name, backend: b, description, threads, measured: [] };
        row.measured.push(t);
        if (profiler) row.profile = profiler.result();
        ours.set(key, row);
      }
    }
    if (!withTorch) continue;
    for (const spec of specs) {
      const script = scripts.get(spec.name);
      if (!script || torchErrors[spec.name]) continue;
      try {
        const t = await measureTorch(script, spec.name, data.source.dir);
        torchRounds.set(spec.name, [...(torchRounds.get(spec.name) ?? []), t]);
        say(`  pytorch ${spec.name}: train ${formatRate(t.train_img_per_s)} img/s, inference ${formatRate(t.infer_img_per_s)} img/s`);
      } catch (e) {
        torchErrors[spec.name] = { error: errorMessage(e) };
      }
    }
  }
  const torch: BenchReport['torch'] = { ...torchErrors };
  for (const [m, rs] of torchRounds) torch[m] = combineTorch(rs);
  const ratio = (ours?: number, ref?: number) => (ours && ref ? ours / ref : undefined);
  const rows = [...ours.values()].map(({ measured, ...row }): BenchRow => {
    const combined: BenchRow = measured.length === 0 ? row : { ...row, ...combineThroughput(measured), ...(measured.length > 1 ? { rounds: measured } : {}) };
    const t = torch[row.model] as TorchResult | undefined;
    return {
      ...combined,
      trainVsTorch: ratio(combined.trainImgPerS, t?.train_img_per_s),
      inferVsTorch: ratio(combined.inferImgPerS, t?.infer_img_per_s),
      trainPeakShare: peakShare(peak, combined.threads, combined.trainImgPerS, combined.trainFlopsPerImage),
      inferPeakShare: peakShare(peak, combined.threads, combined.inferImgPerS, combined.inferFlopsPerImage),
    };
  });
  // PyTorch runs the same network (layer for layer), so it has our FLOPs per image.
  const torchPeakShare: Record<string, { train: number; infer: number }> = {};
  for (const [m, t] of Object.entries(torch)) {
    const flops = rows.find((r) => r.model === m && r.trainFlopsPerImage !== undefined);
    if ('error' in t || !flops) continue;
    const train = peakShare(peak, t.threads, t.train_img_per_s, flops.trainFlopsPerImage);
    const infer = peakShare(peak, t.threads, t.infer_img_per_s, flops.inferFlopsPerImage);
    if (train !== undefined && infer !== undefined) torchPeakShare[m] = { train, infer };
  }
  return { rows, torch, peak, torchPeakShare };
}

/** Snapshots of the native kernel accounting around the timed steps. */
class StepProfiler implements TimedStepsHooks {
  private before: Map<string, KernelRuns> | null = null;
  private after: Map<string, KernelRuns> | null = null;
  private t0 = 0;
  private elapsed = 0;

  constructor(private readonly steps: number) {}

  beforeTimedSteps(): void {
    this.before = nativeKernelRuns();
    this.t0 = performance.now();
  }

  afterTimedSteps(): void {
    this.elapsed = performance.now() - this.t0;
    this.after = nativeKernelRuns();
  }

  result(): KernelProfile | undefined {
    return this.before && this.after ? kernelProfile(this.before, this.after, this.steps, this.elapsed / this.steps) : undefined;
  }
}

/** "1 thread 117 GFLOP/s, 2 threads 235 GFLOP/s" */
export function peakLine(peak: PeakReport): string {
  return Object.entries(peak.gflops)
    .map(([t, g]) => `${t} thread${t === '1' ? '' : 's'} ${Math.round(g)} GFLOP/s`)
    .join(', ');
}

const mflop = (n?: number) => (n === undefined ? '—' : (n / 1e6).toFixed(n < 1e7 ? 2 : 1));
const share = (v?: number) => (v === undefined ? '—' : `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`);

/** The report as a Markdown table, PyTorch's rows last; then the peak, and the profiles, if any. */
export function benchMarkdown(report: BenchReport): string {
  const lines = [
    '| model | backend | train img/s | vs PyTorch | inference img/s | vs PyTorch | MFLOP/image train / inference | share of peak train / inference | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const x = (v?: number) => (v === undefined ? '—' : `${v.toFixed(2)}x`);
  for (const r of report.rows) {
    if (r.error) lines.push(`| ${r.model} | ${r.backend} | unavailable | | | | | | |`);
    else {
      lines.push(
        `| ${r.model} | ${r.backend} | ${formatRate(r.trainImgPerS)} | ${x(r.trainVsTorch)} | ${formatRate(r.inferImgPerS)} | ${x(r.inferVsTorch)} | ` +
          `${mflop(r.trainFlopsPerImage)} / ${mflop(r.inferFlopsPerImage)} | ${share(r.trainPeakShare)} / ${share(r.inferPeakShare)} | ${formatRate(r.peakRssMb)} |`,
      );
    }
  }
  for (const [m, t] of Object.entries(report.torch)) {
    if ('error' in t) lines.push(`| ${m} | pytorch | error: ${t.error} | | | | | | |`);
    else {
      const s = report.torchPeakShare?.[m];
      lines.push(`| ${m} | ${t.framework} (${t.threads} threads) | ${formatRate(t.train_img_per_s)} | 1.00x | ${formatRate(t.infer_img_per_s)} | 1.00x | | ${share(s?.train)} / ${share(s?.infer)} | |`);
    }
  }
  lines.push(
    '',
    report.peak
      ? `Peak: a float32 FMA loop in the native addon (${report.peak.lanes} floats per vector): ${peakLine(report.peak)}. FLOPs count the convolutions' and dense layers' multiply-adds (2 each); a share is of the peak at the backend's threads.`
      : 'Peak: not measured (the native addon, which measures it, is unavailable).',
  );
  for (const r of report.rows) if (r.profile) lines.push('', profileMarkdown(`${r.model} on ${r.backend}, training`, r.profile));
  return lines.join('\n');
}
