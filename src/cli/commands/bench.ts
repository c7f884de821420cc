import type { Command } from 'commander';
import { BACKEND_NAMES, initBackend, type BackendName } from '../../backend/index.js';
import { loadFashionMnist, toExamples } from '../../data/index.js';
import { requireModelSpec } from '../../models/build.js';
import { DEFAULT_THROUGHPUT, measureThroughput, type Throughput } from '../../bench/throughput.js';
import { PYTHON, findTorchScript, measureTorch, torchAvailable, type TorchResult } from '../../bench/torch.js';
import { combineThroughput, combineTorch } from '../../bench/rounds.js';
import { UserError, errorMessage } from '../../util/errors.js';
import { addDataOptions, printJson } from '../common.js';
import { commaList, positiveInt } from '../options.js';

interface BenchFlags {
  models: string[];
  backends: string[];
  steps: number;
  rounds: number;
  torch: boolean;
  torchScript?: string;
  dataDir?: string;
  verify: boolean;
  json?: boolean;
}

interface BenchRow extends Partial<Throughput> {
  model: string;
  backend: string;
  description?: string;
  error?: string;
  /** Each round's measurement, when there were several. */
  rounds?: Throughput[];
}

const fmt = (n?: number) => (n === undefined ? '—' : Math.round(n).toLocaleString('en'));

export function registerBench(program: Command): void {
  const cmd = program
    .command('bench')
    .description('training (batch 256) and inference (batch 1000) images/s per model and backend, with PyTorch side by side when it is installed')
    .option('--models <list>', 'models to measure', commaList, ['cnn1', 'cnn3', 'cnn4'])
    .option('--backends <list>', `backends to measure (of ${BACKEND_NAMES.join(', ')}; cpu is very slow)`, commaList, ['native', 'wasm'])
    .option('--steps <n>', 'training steps measured after 3 warm-up steps (median reported)', positiveInt, DEFAULT_THROUGHPUT.trainSteps)
    .option('--rounds <n>', 'alternate our backends and PyTorch this many times and report the medians (for noisy hosts)', positiveInt, 1)
    .option('--no-torch', 'skip the PyTorch reference')
    .option('--torch-script <file>', 'PyTorch reference script (default ../shared/bench/torch_reference.py)')
    .option('--json', 'print the results as JSON on stdout');
  addDataOptions(cmd);
  cmd.action(async (f: BenchFlags) => {
    const specs = f.models.map(requireModelSpec);
    for (const b of f.backends) if (!(BACKEND_NAMES as readonly string[]).includes(b)) throw new UserError(`unknown backend "${b}" (choose from ${BACKEND_NAMES.join(', ')})`);
    const data = await loadFashionMnist({ dataDir: f.dataDir, verify: f.verify });
    const train = toExamples(data.train);
    const say = (l: string) => {
      if (!f.json) process.stderr.write(l + '\n');
    };
    const script = findTorchScript(f.torchScript);
    const withTorch = f.torch && script !== null && (await torchAvailable());
    if (f.torch && !withTorch) {
      say(`PyTorch reference skipped: ${script ? `${PYTHON} cannot import torch (see ../shared/bench/setup-torch.sh)` : 'no reference script found'}`);
    }
    const ours = new Map<string, BenchRow & { measured: Throughput[] }>();
    const torchRounds = new Map<string, TorchResult[]>();
    const torchErrors: Record<string, { error: string }> = {};
    for (let round = 1; round <= f.rounds; round++) {
      if (f.rounds > 1) say(`round ${round} of ${f.rounds}`);
      for (const b of f.backends as BackendName[]) {
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
          const t = await measureThroughput(spec, train.x, train.y, { ...DEFAULT_THROUGHPUT, trainSteps: f.steps });
          say(`  ${spec.name}: train ${fmt(t.trainImgPerS)} img/s, inference ${fmt(t.inferImgPerS)} img/s, peak RSS ${Math.round(t.peakRssMb)} MB`);
          const key = `${b}/${spec.name}`;
          const row = ours.get(key) ?? { model: spec.name, backend: b, description, measured: [] };
          row.measured.push(t);
          ours.set(key, row);
        }
      }
      if (!withTorch || !script) continue;
      for (const spec of specs) {
        if (torchErrors[spec.name]) continue;
        try {
          const t = await measureTorch(script, spec.name, data.source.dir);
          torchRounds.set(spec.name, [...(torchRounds.get(spec.name) ?? []), t]);
          say(`  pytorch ${spec.name}: train ${fmt(t.train_img_per_s)} img/s, inference ${fmt(t.infer_img_per_s)} img/s`);
        } catch (e) {
          torchErrors[spec.name] = { error: errorMessage(e) };
        }
      }
    }
    const rows: BenchRow[] = [...ours.values()].map(({ measured, ...row }) =>
      measured.length === 0 ? row : { ...row, ...combineThroughput(measured), ...(measured.length > 1 ? { rounds: measured } : {}) },
    );
    const torch: Record<string, TorchResult | { error: string }> = { ...torchErrors };
    for (const [m, rs] of torchRounds) torch[m] = combineTorch(rs);
    const ratio = (ours?: number, ref?: number) => (ours && ref ? ours / ref : undefined);
    const table = rows.map((r) => {
      const t = torch[r.model] as TorchResult | undefined;
      return {
        ...r,
        trainVsTorch: ratio(r.trainImgPerS, t?.train_img_per_s),
        inferVsTorch: ratio(r.inferImgPerS, t?.infer_img_per_s),
      };
    });
    if (f.json) {
      printJson({ rows: table, torch });
      return;
    }
    const lines = ['| model | backend | train img/s | vs PyTorch | inference img/s | vs PyTorch | peak RSS MB |', '|---|---|---|---|---|---|---|'];
    for (const r of table) {
      if (r.error) {
        lines.push(`| ${r.model} | ${r.backend} | unavailable | | | | |`);
        continue;
      }
      const x = (v?: number) => (v === undefined ? '—' : `${v.toFixed(2)}x`);
      lines.push(`| ${r.model} | ${r.backend} | ${fmt(r.trainImgPerS)} | ${x(r.trainVsTorch)} | ${fmt(r.inferImgPerS)} | ${x(r.inferVsTorch)} | ${fmt(r.peakRssMb)} |`);
    }
    for (const [m, t] of Object.entries(torch)) {
      if ('error' in t) lines.push(`| ${m} | pytorch | error: ${t.error} | | | | |`);
      else lines.push(`| ${m} | ${t.framework} (${t.threads} threads) | ${fmt(t.train_img_per_s)} | 1.00x | ${fmt(t.infer_img_per_s)} | 1.00x | |`);
    }
    console.log(lines.join('\n'));
  });
}
