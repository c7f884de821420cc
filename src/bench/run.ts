/**
 * `fashion-cnn bench`: training and inference images/s per model and backend, with PyTorch
 * measured in the same run when it is installed. With several rounds, our backends and PyTorch
 * alternate and the medians are reported (single rounds move by a fifth on a shared host).
 */
import { initBackend, nativeKernelRuns, type BackendName, type KernelRuns } from '../backend/index.js';
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
  error?: string;
  /** Each round's measurement, when there were several. */
  rounds?: Throughput[];
  trainVsTorch?: number;
  inferVsTorch?: number;
  /** With --profile, on the native backend: the first round's per-kernel profile of the training steps. */
  profile?: KernelProfile;
}

export interface BenchReport {
  rows: BenchRow[];
  torch: Record<string, TorchResult | { error: string }>;
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
  const torchRounds = new Map<string, TorchResult[]>();
  const torchErrors: Record<string, { error: string }> = {};
  for (let round = 1; round <= opts.rounds; round++) {
    if (opts.rounds > 1) say(`round ${round} of ${opts.rounds}`);
    for (const b of opts.backends) {
      let description: string;
      try {
        description = (await initBackend(b)).description;
      } catch (e) {
        if (round === 1) say(`${b}: unavailable (${errorMessage(e)})`);
        for (const s of specs) ours.set(`${b}/${s.name}`, { model: s.name, backend: b, error: errorMessage(e), measured: [] });
        continue;
      }
      say(`backend: ${description}`);
      for (const spec of specs) {
        const profiler = opts.profile && b === 'native' && round === 1 ? new StepProfiler(opts.steps) : undefined;
        const t = await measureThroughput(spec, train.x, train.y, { ...DEFAULT_THROUGHPUT, trainSteps: opts.steps }, profiler);
        say(`  ${spec.name}: train ${formatRate(t.trainImgPerS)} img/s, inference ${formatRate(t.inferImgPerS)} img/s, peak RSS ${Math.round(t.peakRssMb)} MB`);
        const key = `${b}/${spec.name}`;
        const row = ours.get(key) ?? { model: spec.name, backend: b, description, measured: [] };
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
    return { ...combined, trainVsTorch: ratio(combined.trainImgPerS, t?.train_img_per_s), inferVsTorch: ratio(combined.inferImgPerS, t?.infer_img_per_s) };
  });
  return { rows, torch };
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

/** The report as a Markdown table, PyTorch's rows last; then the profiles, if any. */
export function benchMarkdown(report: BenchReport): string {
  const lines = ['| model | backend | train img/s | vs PyTorch | inference img/s | vs PyTorch | peak RSS MB |', '|---|---|---|---|---|---|---|'];
  const x = (v?: number) => (v === undefined ? '—' : `${v.toFixed(2)}x`);
  for (const r of report.rows) {
    if (r.error) lines.push(`| ${r.model} | ${r.backend} | unavailable | | | | |`);
    else lines.push(`| ${r.model} | ${r.backend} | ${formatRate(r.trainImgPerS)} | ${x(r.trainVsTorch)} | ${formatRate(r.inferImgPerS)} | ${x(r.inferVsTorch)} | ${formatRate(r.peakRssMb)} |`);
  }
  for (const [m, t] of Object.entries(report.torch)) {
    if ('error' in t) lines.push(`| ${m} | pytorch | error: ${t.error} | | | | |`);
    else lines.push(`| ${m} | ${t.framework} (${t.threads} threads) | ${formatRate(t.train_img_per_s)} | 1.00x | ${formatRate(t.infer_img_per_s)} | 1.00x | |`);
  }
  for (const r of report.rows) if (r.profile) lines.push('', profileMarkdown(`${r.model} on ${r.backend}, training`, r.profile));
  return lines.join('\n');
}
