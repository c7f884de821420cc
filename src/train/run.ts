/**
 * One training run from start to finish, recorded in a run directory: data, model, both phases
 * with validation and checkpoints, test evaluation after each phase, final model and pictures.
 * The CLI's `train` and `compare` both call `trainRun`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, type BackendName } from '../backend/index.js';
import { loadFashionMnist, splitTrainVal, toExamples } from '../data/index.js';
import type { FashionMnist } from '../data/types.js';
import { buildModel, countParams, requireModelSpec } from '../models/build.js';
import { saveModel } from '../models/io.js';
import { appendLine, writeFileAtomic, writeJsonAtomic } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { Rng, withSeededMathRandom } from '../util/rng.js';
import { versions } from '../util/version.js';
import { evaluateModel, readEvalReport, recordEvaluation } from '../evaluate/report.js';
import { topPredictions } from '../evaluate/metrics.js';
import type { EvalReport } from '../evaluate/types.js';
import { writeRunPictures } from '../explain/index.js';
import type { AugmentConfig } from './augment.js';
import { EarlyStopping, type TrainCallback } from './callbacks.js';
import { checkpointExists, loadCheckpoint, saveCheckpoint, type NamedTensor } from './checkpoint.js';
import { LrScheduler } from './lr-schedule.js';
import { ProgressDisplay } from './progress.js';
import { runPath, type HistoryRow, type RunConfig, type TrainHyperParams } from './record.js';
import { freshTrainState, runTraining } from './trainer.js';

export interface TrainRunOptions {
  model: string;
  hyper: TrainHyperParams;
  augmentation: AugmentConfig;
  runDir?: string;
  resume?: boolean;
  dataDir?: string;
  verify?: boolean;
  backend?: BackendName;
  /** Draw the run's pictures at the end (default true). */
  pictures?: boolean;
  /** Show per-epoch progress on stderr (default true). */
  progress?: boolean;
  /** Already loaded data, to share between several runs (compare). */
  data?: FashionMnist;
  log?: (line: string) => void;
  /** Extra callbacks (e.g. a test that interrupts a run). */
  callbacks?: TrainCallback[];
}

export interface RunSummary {
  runDir: string;
  config: RunConfig;
  history: HistoryRow[];
  eval: EvalReport;
  /** Wall time of this invocation's training, seconds. */
  seconds: number;
}

export function defaultRunDir(model: string, now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return path.join('runs', `${model}-${stamp}`);
}

async function readConfig(runDir: string): Promise<RunConfig> {
  try {
    return JSON.parse(await fs.readFile(runPath(runDir, 'config'), 'utf8')) as RunConfig;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`cannot resume: ${runPath(runDir, 'config')} does not exist`);
    throw new UserError(`cannot resume: ${runPath(runDir, 'config')} is not valid JSON`);
  }
}

export async function trainRun(opts: TrainRunOptions): Promise<RunSummary> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const started = performance.now();
  const backend = await initBackend(opts.backend);
  if (backend.fallbackReason) log(`note: ${backend.fallbackReason}`);
  log(`backend: ${backend.description}`);

  let runDir: string;
  let config: RunConfig | null = null;
  if (opts.resume) {
    if (!opts.runDir) throw new UserError('--resume needs --run-dir RUN_DIR (the run to continue)');
    runDir = opts.runDir;
    config = await readConfig(runDir);
  } else {
    runDir = opts.runDir ?? defaultRunDir(opts.model);
    try {
      await fs.access(runPath(runDir, 'config'));
      throw new UserError(`${runDir} already holds a run; pass --resume to continue it or choose another --run-dir`);
    } catch (e) {
      if (e instanceof UserError) throw e;
    }
  }
  const modelName = config?.model ?? opts.model;
  const spec = requireModelSpec(modelName);
  const hyper = config?.hyper ?? opts.hyper;
  // Records written before `interpolation` existed were trained with bilinear sampling.
  const augmentation: AugmentConfig = config ? { ...config.augmentation, interpolation: config.augmentation.interpolation ?? 'bilinear' } : opts.augmentation;

  const data = opts.data ?? (await loadFashionMnist({ dataDir: opts.dataDir, verify: opts.verify }));
  const split = splitTrainVal(data.train, { seed: hyper.seed, valFraction: hyper.valSplit, limit: hyper.limit });
  const test = toExamples(data.test);

  const resuming = Boolean(opts.resume) && (await checkpointExists(runPath(runDir, 'checkpoint')));
  let model: tfl.LayersModel;
  let state = freshTrainState(hyper.seed, hyper.lr);
  let optimizerWeights: NamedTensor[] | null = null;
  if (resuming) {
    const ck = await loadCheckpoint(runPath(runDir, 'checkpoint'));
    model = ck.model;
    state = ck.state;
    optimizerWeights = ck.optimizerWeights;
    log(`resuming ${runDir} after epoch ${state.history.length}`);
    // Drop any history line written after the checkpoint, so the file matches the resume point.
    await writeFileAtomic(runPath(runDir, 'history'), state.history.map((r) => JSON.stringify(r) + '\n').join(''));
  } else {
    model = withSeededMathRandom(Rng.derive(hyper.seed, 'init'), () => buildModel(spec));
  }
  const optimizer = tf.train.adam(hyper.lr);
  model.compile({ optimizer, loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  if (optimizerWeights) {
    await optimizer.setWeights(optimizerWeights);
    optimizerWeights.forEach((w) => w.tensor.dispose());
  }

  if (!config) {
    config = {
      id: path.basename(runDir),
      model: spec.name,
      createdAt: new Date().toISOString(),
      hyper,
      augmentation,
      data: { kind: data.source.kind, dir: data.source.dir, files: data.source.files, trainCount: split.train.count, valCount: split.val.count, testCount: test.count },
      backend: backend.description,
      params: countParams(model),
      versions: versions(),
    };
    await fs.mkdir(runDir, { recursive: true });
    await writeJsonAtomic(runPath(runDir, 'config'), config);
    await writeFileAtomic(runPath(runDir, 'history'), '');
  }
  log(`run ${runDir}: ${spec.name}, ${split.train.count} train / ${split.val.count} validation / ${test.count} test images`);

  const callbacks: TrainCallback[] = [
    new LrScheduler(hyper.lrSchedule, hyper.lr, hyper.epochs + hyper.augEpochs),
    ...(hyper.earlyStop ? [new EarlyStopping(hyper.earlyStop)] : []),
    { onEpochEnd: (_c, row) => appendLine(runPath(runDir, 'history'), JSON.stringify(row)) },
    ...(opts.progress === false ? [] : [new ProgressDisplay(spec.name)]),
    ...(opts.callbacks ?? []),
  ];

  let lastProbs: Float32Array | null = null;
  let report: EvalReport | null = null;
  state = await runTraining({
    model,
    optimizer,
    data: split,
    hyper,
    augmentation,
    callbacks,
    state,
    saveCheckpoint: (s) => saveCheckpoint(runPath(runDir, 'checkpoint'), model, optimizer, s),
    onPhaseDone: async (phase, s) => {
      const epoch = s.epochsDone.base + s.epochsDone.augment;
      const ev = evaluateModel(model, test, { phase, epoch });
      lastProbs = ev.probs;
      report = await recordEvaluation(runDir, spec.name, ev.result);
      log(`${spec.name} after ${phase === 'base' ? 'phase 1' : 'phase 2'}: test loss ${ev.result.test_loss.toFixed(4)}, test accuracy ${(ev.result.test_acc * 100).toFixed(2)}%`);
    },
  });

  await saveModel(model, runPath(runDir, 'model'));
  if (!lastProbs || !report) {
    // A resume of a finished run: its eval.json already holds the results; the pictures need probabilities.
    const ev = evaluateModel(model, test, { phase: 'final', epoch: state.history.length });
    lastProbs = ev.probs;
    const existing = await readEvalReport(runDir);
    report = existing && existing.results.length > 0 ? existing : await recordEvaluation(runDir, spec.name, ev.result);
  }
  const finalReport = report as EvalReport;
  if (opts.pictures !== false) {
    await writeRunPictures({
      runDir,
      model,
      history: state.history,
      evalResult: finalReport.results[finalReport.results.length - 1],
      test,
      predictions: topPredictions(lastProbs as Float32Array),
      seed: hyper.seed,
    });
  }
  model.dispose();
  optimizer.dispose();
  return { runDir, config, history: state.history, eval: finalReport, seconds: (performance.now() - started) / 1000 };
}
