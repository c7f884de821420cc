/**
 * `fashion-cnn compare`: trains each model with the protocol in its own run directory under
 * `out` (resuming any run already there), rewriting compare.json after each model so that an
 * interrupted comparison keeps what it finished, then writes compare.md.
 */
import path from 'node:path';
import { initBackend, type BackendName } from '../backend/index.js';
import { loadFashionMnist } from '../data/index.js';
import { requireModelSpec } from '../models/build.js';
import { unavailableReason } from '../models/describe.js';
import { applyModelOptions, type ModelOptions } from '../models/registry.js';
import { hasRunConfig, type AugmentConfig, type TrainHyperParams } from '../runs/index.js';
import { trainRun } from '../train/run.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { compareMarkdown, compareRow, type CompareReport } from './table.js';

export interface CompareOptions {
  models: string[];
  hyper: TrainHyperParams;
  augmentation: AugmentConfig;
  /** A model's own protocol where it has one (a transfer model's: see src/train/protocol.ts); the others use hyper and augmentation. */
  protocolFor?: (model: string) => { hyper: TrainHyperParams; augmentation: AugmentConfig };
  /** Options for the transfer models among `models` (input size, weights, backbone). */
  modelOptions?: ModelOptions;
  /** Folder for the runs (one per model) and compare.json / compare.md. */
  out: string;
  pictures: boolean;
  backend?: BackendName;
  dataDir?: string;
  verify?: boolean;
  log?: (line: string) => void;
}

export interface CompareOutcome {
  report: CompareReport;
  markdown: string;
  files: { json: string; markdown: string };
}

export async function compareModels(opts: CompareOptions): Promise<CompareOutcome> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const specs = opts.models.map(requireModelSpec); // unknown or not-yet-available models fail before any training
  const { hyper } = opts;
  const backend = await initBackend(opts.backend);
  const data = await loadFashionMnist({ dataDir: opts.dataDir, verify: opts.verify });
  const files = { json: path.join(opts.out, 'compare.json'), markdown: path.join(opts.out, 'compare.md') };
  const report: CompareReport = {
    createdAt: new Date().toISOString(),
    backend: backend.description,
    protocol: { epochs: hyper.epochs, augEpochs: hyper.augEpochs, batchSize: hyper.batchSize, seed: hyper.seed, limit: hyper.limit },
    rows: [],
    skipped: [],
  };
  for (const spec of specs) {
    const runDir = path.join(opts.out, spec.name);
    const resume = await hasRunConfig(runDir);
    const modelOptions = spec.kind === 'transfer' ? (opts.modelOptions ?? {}) : {};
    const reason = await unavailableReason(applyModelOptions(spec, modelOptions));
    if (reason) {
      // One line on how to get what is missing, and the comparison goes on with the other models.
      log(`\n== ${spec.name}: skipped, ${reason}`);
      report.skipped!.push({ model: spec.name, reason });
      continue;
    }
    log(`\n== ${spec.name}: ${spec.title}${resume ? ' (resuming)' : ''}`);
    const protocol = opts.protocolFor?.(spec.name) ?? { hyper, augmentation: opts.augmentation };
    // A run already in `out` is resumed only if it was started with this same protocol.
    const requested = { model: spec.name, modelOptions, hyper: protocol.hyper, augmentation: protocol.augmentation };
    const s = await trainRun({ model: spec.name, modelOptions, hyper: protocol.hyper, augmentation: protocol.augmentation, runDir, resume, requested, data, backend: opts.backend, pictures: opts.pictures, log });
    report.rows.push(compareRow(spec.name, runDir, s.config.params.total, s.history, s.eval, spec.article ?? null));
    await writeJsonAtomic(files.json, report);
  }
  const markdown = compareMarkdown(report);
  await writeFileAtomic(files.markdown, markdown);
  return { report, markdown, files };
}
