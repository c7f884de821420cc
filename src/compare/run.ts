/**
 * `fashion-cnn compare`: trains each model with the protocol in its own run directory under
 * `out` (resuming any run already there), rewriting compare.json after each model so that an
 * interrupted comparison keeps what it finished, then writes compare.md.
 */
import path from 'node:path';
import { initBackend, type BackendName } from '../backend/index.js';
import { loadFashionMnist, splitSizes } from '../data/index.js';
import { requireModelSpec } from '../models/build.js';
import { unavailableReason } from '../models/describe.js';
import { applyModelOptions, type ModelOptions } from '../models/registry.js';
import { hasRunConfig, type AugmentConfig, type TrainHyperParams } from '../runs/index.js';
import type { FashionMnist } from '../data/types.js';
import { trainRun } from '../train/run.js';
import { stepsPerEpoch } from '../train/trainer.js';
import { writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { measureModelCosts } from './calibrate.js';
import { CompareEta, type ModelPlan } from './eta.js';
import { CompareProgress } from './progress.js';
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
  const protocolOf = (name: string) => opts.protocolFor?.(name) ?? { hyper, augmentation: opts.augmentation };
  const modelOptionsOf = (spec: (typeof specs)[number]) => (spec.kind === 'transfer' ? (opts.modelOptions ?? {}) : {});
  const unavailable = await Promise.all(specs.map((spec) => unavailableReason(applyModelOptions(spec, modelOptionsOf(spec)))));
  const progress = await planProgress(specs.filter((_, i) => !unavailable[i]), protocolOf, modelOptionsOf, data.train, log);
  let planIndex = 0;
  for (const [i, spec] of specs.entries()) {
    const runDir = path.join(opts.out, spec.name);
    const resume = await hasRunConfig(runDir);
    const modelOptions = modelOptionsOf(spec);
    const reason = unavailable[i];
    if (reason) {
      // One line on how to get what is missing, and the comparison goes on with the other models.
      log(`\n== ${spec.name}: skipped, ${reason}`);
      report.skipped!.push({ model: spec.name, reason });
      continue;
    }
    const index = planIndex++;
    log(`\n== ${spec.name}: ${spec.title}${resume ? ' (resuming)' : ''}`);
    progress.modelStart(index);
    const protocol = protocolOf(spec.name);
    // A run already in `out` is resumed only if it was started with this same protocol.
    const requested = { model: spec.name, modelOptions, hyper: protocol.hyper, augmentation: protocol.augmentation };
    const s = await trainRun({
      model: spec.name, modelOptions, hyper: protocol.hyper, augmentation: protocol.augmentation, runDir, resume, requested, data,
      backend: opts.backend, pictures: opts.pictures, log, callbacks: [progress.callbackFor(index)],
    });
    progress.modelEnd(index, true);
    report.rows.push(compareRow(spec.name, runDir, s.config.params.total, s.history, s.eval, spec.article ?? null));
    await writeJsonAtomic(files.json, report);
  }
  const markdown = compareMarkdown(report);
  await writeFileAtomic(files.markdown, markdown);
  return { report, markdown, files };
}

/**
 * The overall progress display, with each model priced for the ETA: a few timed steps of each
 * (transfer models, which train on cached features, are priced by their first epochs instead).
 */
async function planProgress(
  specs: ReturnType<typeof requireModelSpec>[],
  protocolOf: (model: string) => { hyper: TrainHyperParams; augmentation: AugmentConfig },
  modelOptionsOf: (spec: ReturnType<typeof requireModelSpec>) => ModelOptions,
  images: FashionMnist['train'],
  log: (line: string) => void,
): Promise<CompareProgress> {
  if (specs.some((s) => s.kind !== 'transfer')) log('compare: timing a few training steps of each model, for the time estimate');
  const measured = specs.filter((s) => s.kind !== 'transfer');
  const costs = await measureModelCosts(measured.map((spec) => ({ spec: applyModelOptions(spec, modelOptionsOf(spec)), hyper: protocolOf(spec.name).hyper })), images);
  const plans: ModelPlan[] = specs.map((spec) => {
    const { hyper: h } = protocolOf(spec.name);
    const sizes = splitSizes(images.count, h.valSplit, h.limit);
    const phase = (p: 'base' | 'augment', epochs: number) => {
      const steps = stepsPerEpoch(p, sizes.train, h.batchSize);
      return { phase: p, epochs, stepsPerEpoch: steps, imagesPerEpoch: p === 'base' ? sizes.train : steps * h.batchSize };
    };
    const cost = spec.kind === 'transfer' ? null : costs[measured.indexOf(spec)];
    return { model: spec.name, phases: [phase('base', h.epochs), phase('augment', h.augEpochs)].filter((p) => p.epochs > 0), valImages: sizes.val, cost };
  });
  return new CompareProgress(new CompareEta(plans), log);
}
