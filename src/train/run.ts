/**
 * One training run from start to finish, recorded in a run directory, as named steps:
 *
 *   openRun → startBackend → loadRunData → restoreOrBuildModel → compileModel → recordRunStart
 *   → trainingCallbacks → runTraining (evaluating after each phase) → finishRun
 *
 * `trainRun` chains them; each step is exported so that a test (or another driver, such as a
 * worker process) can call it alone. `train` and `compare` both call `trainRun`.
 */
import path from 'node:path';
import type * as tfl from '@tensorflow/tfjs-layers';
import { initBackend, type BackendInfo, type BackendName } from '../backend/index.js';
import { loadFashionMnist, splitTrainVal, toExamples } from '../data/index.js';
import type { Examples, FashionMnist, TrainValSplit } from '../data/types.js';
import { prepareFeatureRun, trainsOnFeatures, type FeatureRun } from '../features/index.js';
import { buildModel, countParams, requireModelSpec, type ParamCounts } from '../models/build.js';
import { applyModelOptions, findModelSpec, modelNames, type ModelOptions, type ModelSpec } from '../models/registry.js';
import {
  cleanStaleFiles,
  createRunRecord,
  ensembleRunDirs,
  loadEnsemble,
  modelsDigest,
  hasCheckpoint,
  hasRunConfig,
  loadCheckpoint,
  readEvalReport,
  readRunConfig,
  recordEvaluation,
  rewriteHistory,
  RunExistsError,
  RunMismatchError,
  isWeightAverageDecay,
  lockRunForTraining,
  RUN_FORMAT,
  runPath,
  saveCheckpoint,
  saveRunModel,
  type AugmentConfig,
  type EvalReport,
  type HistoryRow,
  type NamedTensor,
  type Phase,
  type RunConfig,
  type DistillSettings,
  type TeacherRecord,
  type TrainHyperParams,
  type TrainState,
} from '../runs/index.js';
import { UserError } from '../util/errors.js';
import { Rng, withSeededMathRandom } from '../util/rng.js';
import { versions } from '../util/version.js';
import { evaluateModel } from '../evaluate/report.js';
import { topPredictions } from '../evaluate/metrics.js';
import { checkAugmentation } from './augment.js';
import { EarlyStopping, type TrainCallback } from './callbacks.js';
import { checkLrSchedule, LrScheduler } from './lr-schedule.js';
import { compileForTraining, type TrainOptimizer } from './optimizer.js';
import { Teacher } from './distill.js';
import { cleanTeacherProbs } from './teacher-cache.js';
import { formatShape, modelImageShape, sameShape } from '../models/shape.js';
import { ProgressDisplay } from './progress.js';
import { freshTrainState, runTraining } from './trainer.js';
import { metric, percent } from '../util/format.js';
import { sameJson } from '../util/same-json.js';

export interface TrainRunOptions {
  /** The model to train (a registry name); a resumed run's comes from its record. */
  model?: string;
  /** The model's options (transfer models: input size, weights, backbone); a resumed run's come from its record. */
  modelOptions?: ModelOptions;
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
  /** Take over the run's lock from a process on another host (a sweep worker given a job the queue took back). */
  takeOverElsewhere?: boolean;
  /**
   * Settings the user asked for explicitly. Resuming a run whose record says otherwise is an
   * error rather than a run that silently carries on with something else.
   */
  requested?: RequestedSettings;
}

export interface RequestedSettings {
  model?: string;
  modelOptions?: ModelOptions;
  /** `distill`: only the distillation settings asked for (`--resume --teacher T` alone asks for the teacher only). */
  hyper?: Partial<Omit<TrainHyperParams, 'distill'>> & { distill?: Partial<DistillSettings> | null };
  augmentation?: Partial<AugmentConfig>;
}

/** Fails when a requested setting differs from the run's record, naming each difference. */
export function checkRequestedSettings(runDir: string, record: RunConfig, requested: RequestedSettings): void {
  const diffs: string[] = [];
  if (requested.model !== undefined && requested.model !== record.model) diffs.push(`model ${requested.model} (the run trains ${record.model})`);
  for (const [key, value] of Object.entries(requested.modelOptions ?? {})) {
    const recorded = record.modelOptions[key as keyof ModelOptions];
    if (value !== undefined && !sameJson(value, recorded)) diffs.push(`${key} ${JSON.stringify(value)} (recorded: ${JSON.stringify(recorded ?? null)})`);
  }
  const { distill, ...hyper } = requested.hyper ?? {};
  for (const [key, value] of Object.entries(hyper)) {
    const recorded = record.hyper[key as keyof TrainHyperParams];
    if (value !== undefined && !sameJson(value, recorded)) diffs.push(`${key} ${JSON.stringify(value)} (recorded: ${JSON.stringify(recorded)})`);
  }
  if (distill === null && record.hyper.distill !== null) diffs.push('no teacher (the run learns from one)');
  else if (distill && !record.hyper.distill) diffs.push('a teacher (the run has none)');
  else if (distill && record.hyper.distill) {
    for (const [key, value] of Object.entries(distill)) {
      const recorded = record.hyper.distill[key as keyof DistillSettings];
      if (value !== undefined && !sameJson(value, recorded)) diffs.push(`distill ${key} ${JSON.stringify(value)} (recorded: ${JSON.stringify(recorded ?? null)})`);
    }
  }
  for (const [key, value] of Object.entries(requested.augmentation ?? {})) {
    const recorded = record.augmentation[key as keyof AugmentConfig];
    if (value !== undefined && !sameJson(value, recorded)) diffs.push(`${key} ${JSON.stringify(value)} (recorded: ${JSON.stringify(recorded)})`);
  }
  if (diffs.length) throw new RunMismatchError(runDir, `cannot resume with ${diffs.join(', ')}; a resumed run keeps its recorded settings (drop those flags, or start a new run)`);
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

/** Step 2: the backend, announced (and why it is not the preferred one, when it is not). */
export async function startBackend(requested: BackendName | undefined, log: (line: string) => void): Promise<BackendInfo> {
  const backend = await initBackend(requested);
  if (backend.fallbackReason) log(`note: ${backend.fallbackReason}`);
  log(`backend: ${backend.description}`);
  return backend;
}

/** What a run is: the model, its hyper-parameters and augmentation, from the record when resuming. */
export interface RunPlan {
  runDir: string;
  /** The record's config when continuing a run; null for a new run. */
  existing: RunConfig | null;
  /** The model, with its options applied. */
  spec: ModelSpec;
  modelOptions: ModelOptions;
  hyper: TrainHyperParams;
  augmentation: AugmentConfig;
}

/** Step 1: a new run directory (refusing one that holds a run), or the record of the run to resume. */
export async function openRun(opts: Pick<TrainRunOptions, 'model' | 'modelOptions' | 'hyper' | 'augmentation' | 'runDir' | 'resume' | 'requested'>): Promise<RunPlan> {
  if (opts.resume) {
    if (!opts.runDir) throw new UserError('--resume needs --run-dir RUN_DIR (the run to continue)');
    const existing = await readRunConfig(opts.runDir);
    checkRequestedSettings(opts.runDir, existing, opts.requested ?? {});
    const spec = findModelSpec(existing.model);
    if (!spec) throw new RunMismatchError(opts.runDir, `${runPath(opts.runDir, 'config')} names model "${existing.model}", which this fashion-cnn does not have (it has ${modelNames().join(', ')})`);
    return { runDir: opts.runDir, existing, spec: applyModelOptions(spec, existing.modelOptions), modelOptions: existing.modelOptions, hyper: existing.hyper, augmentation: existing.augmentation };
  }
  if (!opts.model) throw new UserError(`train needs --model (one of ${modelNames().join(', ')})`);
  checkValidationNeeds(opts.hyper);
  checkDistillation(opts.hyper);
  checkWeightAverage(opts.hyper);
  const modelOptions = opts.modelOptions ?? {};
  const spec = applyModelOptions(requireModelSpec(opts.model), modelOptions);
  if (opts.hyper.distill && trainsOnFeatures(spec, opts.hyper)) throw new UserError(`${spec.name} trains its head on cached features, not on images: it cannot learn from a teacher (--teacher)`);
  checkLrSchedule(opts.hyper.lrSchedule, opts.hyper.lr);
  checkAugmentation(opts.augmentation, spec.input[0], spec.input[1]);
  const runDir = opts.runDir ?? defaultRunDir(spec.name);
  if (await hasRunConfig(runDir)) throw new RunExistsError(runDir);
  return { runDir, existing: null, spec, modelOptions, hyper: opts.hyper, augmentation: opts.augmentation };
}

/** Early stopping and the plateau schedule watch the validation loss: without a validation split they cannot work. */
export function checkValidationNeeds(hyper: TrainHyperParams): void {
  if (hyper.valSplit > 0) return;
  if (hyper.earlyStop) throw new UserError('--early-stop watches the validation loss: it needs a validation split (--val-split above 0)');
  if (hyper.lrSchedule.kind === 'plateau') throw new UserError('the plateau schedule watches the validation loss: it needs a validation split (--val-split above 0)');
}

/** The distillation settings the CLI's parsers allow; the library's callers get the same answers. */
function checkDistillation(hyper: TrainHyperParams): void {
  const d = hyper.distill;
  if (!d) return;
  if (d.teacher.length === 0) throw new UserError('distillation needs a teacher (--teacher RUNS)');
  if (!(d.temperature > 0)) throw new UserError(`the distillation temperature must be above 0, got ${d.temperature}`);
  if (!(d.weight >= 0 && d.weight <= 1)) throw new UserError(`the distillation weight must be from 0 to 1, got ${d.weight}`);
}

/** The CLI's fraction parser refuses other decays; the library's callers get the same answer (a record with ema 0 could not be read back). */
function checkWeightAverage(hyper: TrainHyperParams): void {
  if (hyper.ema != null && !isWeightAverageDecay(hyper.ema)) throw new UserError(`the weight-average decay (ema) must be between 0 and 1 (exclusive), or null for none; got ${hyper.ema}`);
}

export interface RunData {
  source: FashionMnist['source'];
  split: TrainValSplit;
  test: Examples;
}

/**
 * Step 3: the data set, split into training and validation by the run's seed. A resumed run must
 * find the data its record names (same file contents, same split sizes): resuming on other data
 * would silently train a different run.
 */
export async function loadRunData(plan: RunPlan, opts: Pick<TrainRunOptions, 'data' | 'dataDir' | 'verify'>): Promise<RunData> {
  const { hyper } = plan;
  const data = opts.data ?? (await loadFashionMnist({ dataDir: opts.dataDir, verify: opts.verify }));
  const split = splitTrainVal(data.train, { seed: hyper.seed, valFraction: hyper.valSplit, limit: hyper.limit });
  const loaded: RunData = { source: data.source, split, test: toExamples(data.test) };
  if (plan.existing) checkSameData(plan.runDir, plan.existing, loaded);
  return loaded;
}

function checkSameData(runDir: string, record: RunConfig, data: RunData): void {
  const diffs: string[] = [];
  for (const [key, file] of Object.entries(record.data.files ?? {})) {
    const now = data.source.files[key as keyof typeof data.source.files];
    if (file?.md5 && now?.md5 && file.md5 !== now.md5) diffs.push(`${key} has MD5 ${now.md5}, the record ${file.md5}`);
  }
  const counts = { trainCount: data.split.train.count, valCount: data.split.val.count, testCount: data.test.count };
  for (const [key, n] of Object.entries(counts)) {
    const recorded = record.data[key as keyof typeof counts];
    if (typeof recorded === 'number' && recorded !== n) diffs.push(`${key} ${n}, the record ${recorded}`);
  }
  if (diffs.length) throw new RunMismatchError(runDir, `the data differs from what ${runPath(runDir, 'config')} records (${diffs.join('; ')}): resume with the same data, or start a new run`);
}

export interface ModelStart {
  model: tfl.LayersModel;
  state: TrainState;
  /** The optimizer's saved state, when resuming; compileModel restores and frees it. */
  optimizerWeights: NamedTensor[] | null;
}

/**
 * Step 4: the checkpointed model and training state, checked against the run's record, or a
 * freshly initialised model (seeded). A run interrupted before its first checkpoint starts over,
 * with its history emptied to match.
 */
export async function restoreOrBuildModel(plan: RunPlan, log: (line: string) => void): Promise<ModelStart> {
  if (plan.existing) {
    await cleanStaleFiles(plan.runDir);
    if (await hasCheckpoint(plan.runDir)) {
      const ck = await loadCheckpoint(plan.runDir);
      try {
        await checkModelMatchesRecord(plan, ck.model, ck.dir);
      } catch (e) {
        ck.model.dispose();
        ck.optimizerWeights.forEach((w) => w.tensor.dispose());
        throw e;
      }
      log(`resuming ${plan.runDir} after epoch ${ck.state.history.length}`);
      // The history follows the committed checkpoint (a kill can fall between the two writes).
      await rewriteHistory(plan.runDir, ck.state.history);
      return { model: ck.model, state: ck.state, optimizerWeights: ck.optimizerWeights };
    }
    log(`${plan.runDir} has no checkpoint yet: starting it from the beginning`);
    await rewriteHistory(plan.runDir, []);
  }
  const model = await withSeededMathRandom(Rng.derive(plan.hyper.seed, 'init'), () => buildModel(plan.spec));
  return { model, state: freshTrainState(plan.hyper.seed, plan.hyper.lr), optimizerWeights: null };
}

export interface LoadedTeacher {
  teacher: Teacher;
  record: TeacherRecord;
}

/**
 * Step 4b: a distilled run's teacher, its runs loaded as one model (an ensemble when several). Its
 * digest goes into the record; a resumed run whose teacher's models changed since is refused.
 */
export async function loadTeacher(plan: RunPlan, train: Examples, log: (line: string) => void): Promise<LoadedTeacher | null> {
  const d = plan.hyper.distill;
  if (!d) return null;
  // A resumed run learns from the members it started with: a folder of runs (a sweep's) that has
  // gained a finished run since still means the teacher recorded, not a bigger one.
  const recorded = plan.existing?.teacher?.members.map((m) => m.runDir);
  const runDirs = await ensembleRunDirs(recorded ?? d.teacher, log, { minMembers: 1, name: 'a teacher' });
  const digest = await modelsDigest(runDirs);
  if (plan.existing?.teacher && plan.existing.teacher.digest !== digest) {
    throw new RunMismatchError(plan.runDir, `its teacher's models changed since the run started (${runDirs.join(', ')}): a resumed run learns from the teacher it started with (restore it, or start a new run)`);
  }
  const { model, tta, members } = await loadEnsemble(runDirs, 'teacher');
  const shape = modelImageShape(model);
  if (!sameShape(shape, plan.spec.input)) {
    model.dispose();
    throw new UserError(`the teacher takes ${formatShape(shape)} images, the student (${plan.spec.name}) ${formatShape(plan.spec.input)}: a teacher must see the student's images`);
  }
  const teacherTta = d.tta ?? tta;
  log(`teacher: ${runDirs.length === 1 ? runDirs[0] : `an ensemble of ${runDirs.length} runs`} (temperature ${d.temperature}, weight ${d.weight} on the teacher, ${d.targets} targets, test-time augmentation ${teacherTta})`);
  let teacher: Teacher;
  if (d.targets === 'clean') {
    // Its answers for the clean images are all the run needs of it: the models are freed at once.
    try {
      teacher = Teacher.fromAnswers(await cleanTeacherProbs({ model, tta: teacherTta, digest }, train, log), d.temperature);
    } finally {
      model.dispose();
    }
  } else teacher = Teacher.answering(model, teacherTta, d.temperature);
  return {
    teacher,
    record: { digest, members: members.map((m) => ({ runDir: m.runDir, model: m.model })) },
  };
}

/** Refuses a checkpoint whose model is not the one the record names (other weights or shapes). */
async function checkModelMatchesRecord(plan: RunPlan, model: tfl.LayersModel, dir: string): Promise<void> {
  const reference = await buildModel(plan.spec);
  try {
    const want = reference.weights.map((w) => w.shape.join('x'));
    const got = model.weights.map((w) => w.shape.join('x'));
    if (want.length !== got.length || want.some((s, i) => s !== got[i])) {
      const first = want.findIndex((s, i) => s !== got[i]);
      throw new RunMismatchError(plan.runDir, `the checkpoint in ${dir} does not hold a ${plan.spec.name} model as config.json says (${got.length} weights, ${want.length} expected; first difference at weight ${first + 1}: ${got[first] ?? 'none'} instead of ${want[first] ?? 'none'})`);
    }
  } finally {
    reference.dispose();
  }
}

/** Step 5: optimizer and loss from the run's config; a resumed run's optimizer state restored. */
export async function compileModel(start: ModelStart, hyper: TrainHyperParams): Promise<TrainOptimizer> {
  const optimizer = compileForTraining(start.model, hyper);
  if (start.optimizerWeights) {
    await optimizer.setWeights(start.optimizerWeights);
    start.optimizerWeights.forEach((w) => w.tensor.dispose());
    start.optimizerWeights = null;
  }
  return optimizer;
}

/** Step 6: config.json and an empty history for a new run; a resumed run keeps its record. */
export async function recordRunStart(plan: RunPlan, params: ParamCounts, data: RunData, backend: BackendInfo, teacher: TeacherRecord | null = null): Promise<RunConfig> {
  if (plan.existing) return plan.existing;
  const config: RunConfig = {
    format: RUN_FORMAT,
    id: path.basename(plan.runDir),
    model: plan.spec.name,
    modelOptions: plan.modelOptions,
    createdAt: new Date().toISOString(),
    hyper: plan.hyper,
    augmentation: plan.augmentation,
    data: { kind: data.source.kind, dir: data.source.dir, files: data.source.files, trainCount: data.split.train.count, valCount: data.split.val.count, testCount: data.test.count },
    backend: backend.description,
    params,
    versions: versions(),
    ...(teacher ? { teacher } : {}),
  };
  await createRunRecord(plan.runDir, config);
  return config;
}

/**
 * Step 7: the callbacks every run has (schedule, early stop, progress) and the caller's.
 * history.jsonl is not a callback's: it is rewritten from the state each checkpoint commits.
 */
export function trainingCallbacks(plan: RunPlan, opts: Pick<TrainRunOptions, 'progress' | 'callbacks'>): TrainCallback[] {
  const { hyper } = plan;
  return [
    new LrScheduler(hyper.lrSchedule, hyper.lr, hyper.epochs + hyper.augEpochs),
    ...(hyper.earlyStop ? [new EarlyStopping(hyper.earlyStop)] : []),
    ...(opts.progress === false ? [] : [new ProgressDisplay(plan.spec.name)]),
    ...(opts.callbacks ?? []),
  ];
}

/** The latest test evaluation of a run in this invocation: its report and the probabilities behind it. */
export interface LatestEvaluation {
  report: EvalReport;
  probs: Float32Array;
}

/** Step 8a: the test evaluation that ends a phase, recorded in eval.json. */
export async function evaluateAfterPhase(plan: RunPlan, model: tfl.LayersModel, test: Examples, phase: Phase, state: TrainState, log: (line: string) => void): Promise<LatestEvaluation> {
  const epoch = state.epochsDone.base + state.epochsDone.augment;
  const ev = evaluateModel(model, test, { phase, epoch }, plan.hyper.tta);
  const report = await recordEvaluation(plan.runDir, plan.spec.name, ev.result);
  log(`${plan.spec.name} after ${phase === 'base' ? 'phase 1' : 'phase 2'}: test loss ${metric(ev.result.test_loss)}, test accuracy ${percent(ev.result.test_acc)}`);
  return { report, probs: ev.probs };
}

/**
 * Step 9: the final model, and the pictures. A resume of a finished run evaluates nothing new:
 * its eval.json already holds the results, and the pictures only need the probabilities.
 */
export async function finishRun(plan: RunPlan, model: tfl.LayersModel, test: Examples, state: TrainState, latest: LatestEvaluation | null, pictures: boolean): Promise<EvalReport> {
  await saveRunModel(plan.runDir, model);
  if (!latest) {
    const ev = evaluateModel(model, test, { phase: 'final', epoch: state.history.length }, plan.hyper.tta);
    const existing = await readEvalReport(plan.runDir);
    const report = existing && existing.results.length > 0 ? existing : await recordEvaluation(plan.runDir, plan.spec.name, ev.result);
    latest = { report, probs: ev.probs };
  }
  if (pictures) {
    // Loaded only here: the charts' libraries (vega, vega-lite, sharp) take about half a second
    // to load, which every run started with --no-pictures (a sweep's, a test's) would pay.
    const { writeRunPictures } = await import('../explain/index.js');
    await writeRunPictures({
      runDir: plan.runDir,
      model,
      history: state.history,
      evalResult: latest.report.results[latest.report.results.length - 1],
      test,
      predictions: topPredictions(latest.probs),
      seed: plan.hyper.seed,
    });
  }
  return latest.report;
}

/**
 * Trains a run, holding its training lock from before the record is read (or the directory made)
 * until the end: another process training the same run, or evaluating it, is refused.
 */
export async function trainRun(opts: TrainRunOptions): Promise<RunSummary> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  const started = performance.now();
  let lock = opts.runDir ? await lockRunForTraining(opts.runDir, { create: !opts.resume, log, takeOverElsewhere: opts.takeOverElsewhere }) : null;
  try {
    const plan = await openRun(opts);
    // A new run in the default directory: locked once its name is known.
    lock ??= await lockRunForTraining(plan.runDir, { create: true, log });
    return await trainPlan(plan, opts, log, started);
  } finally {
    await lock?.release();
  }
}

async function trainPlan(plan: RunPlan, opts: TrainRunOptions, log: (line: string) => void, started: number): Promise<RunSummary> {
  const backend = await startBackend(opts.backend, log);
  const data = await loadRunData(plan, opts);
  // A frozen backbone's features are computed once (or found in the cache); only the head trains.
  const features: FeatureRun | null = trainsOnFeatures(plan.spec, plan.hyper) ? await prepareFeatureRun(plan.spec, data, { seed: plan.hyper.seed, tta: plan.hyper.tta, log }) : null;
  const trained: RunPlan = features ? { ...plan, spec: features.head } : plan;
  const teacher = await loadTeacher(plan, data.split.train, log);
  // Freed however the run ends: a library caller (or compare) goes on in the same process.
  let built: tfl.LayersModel | null = null;
  let compiled: TrainOptimizer | null = null;
  try {
    const start = await restoreOrBuildModel(trained, log);
    const model = (built = start.model);
    const optimizer = (compiled = await compileModel(start, plan.hyper));
    const config = await recordRunStart(plan, features ? features.params(model) : countParams(model), data, backend, teacher?.record);
    log(`run ${plan.runDir}: ${plan.spec.name}, ${data.split.train.count} train / ${data.split.val.count} validation / ${data.test.count} test images${features ? ' (the head trains on cached features)' : ''}`);

    let latest: LatestEvaluation | null = null;
    const state = await runTraining({
      model,
      optimizer,
      data: features?.split ?? data.split,
      hyper: plan.hyper,
      augmentation: plan.augmentation,
      callbacks: trainingCallbacks(plan, opts),
      state: start.state,
      teacher: teacher?.teacher,
      saveCheckpoint: (s) => saveCheckpoint(plan.runDir, model, optimizer, s),
      onPhaseDone: async (phase, s) => {
        latest = await evaluateAfterPhase(plan, model, features?.test ?? data.test, phase, s, log);
      },
    });
    const whole = features ? await features.assemble(model) : model;
    const report = await finishRun(plan, whole, data.test, state, latest, opts.pictures !== false);
    if (whole !== model) whole.dispose();
    return { runDir: plan.runDir, config, history: state.history, eval: report, seconds: (performance.now() - started) / 1000 };
  } finally {
    built?.dispose();
    compiled?.dispose();
    teacher?.teacher.dispose();
  }
}
