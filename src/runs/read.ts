/**
 * Reading a run's files. One behaviour per file, the same for every stage: a missing run directory
 * is a RunNotFoundError, a missing required file a RunFileMissingError, unreadable content a
 * RunFileCorruptError; each message names the file.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { errorMessage, oneLine } from '../util/errors.js';
import { RunFileCorruptError, RunFileMissingError, RunMismatchError, RunNotFoundError } from './errors.js';
import { runPath } from './files.js';
import { RUN_FORMAT, type EvalReport, type HistoryRow, type OptimizerSpec, type RunConfig } from './types.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Fails with RunNotFoundError unless `runDir` is a directory. */
export async function requireRunDir(runDir: string): Promise<void> {
  const stat = await fs.stat(runDir).catch(() => null);
  if (!stat) throw new RunNotFoundError(runDir);
  if (!stat.isDirectory()) throw new RunNotFoundError(runDir, 'is not a directory');
}

/**
 * Fails unless `runDir` is a directory or can be made: a file in its place, or in place of one of
 * its parents, is a RunNotFoundError naming it (instead of a raw ENOTDIR/EEXIST from mkdir later).
 */
export async function requireRunDirOrNothing(runDir: string): Promise<void> {
  const stat = await fs.stat(runDir).catch((e: NodeJS.ErrnoException) => e);
  if (!(stat instanceof Error)) {
    if (!stat.isDirectory()) throw new RunNotFoundError(runDir, 'is not a directory');
    return;
  }
  if (stat.code === 'ENOENT') return;
  if (stat.code !== 'ENOTDIR') throw new RunNotFoundError(runDir, `cannot be used: ${errorMessage(stat)}`);
  for (let dir = path.dirname(runDir); dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const s = await fs.stat(dir).catch(() => null);
    if (s && !s.isDirectory()) throw new RunNotFoundError(runDir, `cannot be made: ${dir} is not a directory`);
  }
  throw new RunNotFoundError(runDir, 'cannot be made: a parent is not a directory');
}

/**
 * Fails unless `file` is a regular file or does not exist (false then): a named pipe would block a
 * read forever, and a folder is not a record.
 */
export async function requireRegularFile(file: string): Promise<boolean> {
  const stat = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw new RunFileCorruptError(file, errorMessage(e));
  });
  if (stat === null) return false;
  if (stat.isDirectory()) throw new RunFileCorruptError(file, 'is a directory, not a file');
  if (!stat.isFile()) throw new RunFileCorruptError(file, 'not a regular file (a pipe or device?)');
  return true;
}

/** A file's text, or null when it does not exist (other read errors name the file). */
export async function readTextOrNull(file: string): Promise<string | null> {
  if (!(await requireRegularFile(file))) return null;
  try {
    return await fs.readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new RunFileCorruptError(file, errorMessage(e));
  }
}

/** Parses JSON text from `file`, naming the file when it is not JSON. */
export function parseJson(file: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    // JSON.parse quotes the text it choked on, control characters included: shown escaped.
    throw new RunFileCorruptError(file, `not valid JSON (${oneLine(errorMessage(e))})`);
  }
}

/** Fails unless `value` is an object with every one of `fields`. */
export function expectFields(file: string, value: unknown, fields: readonly string[]): asserts value is Record<string, unknown> {
  if (!isObject(value)) throw new RunFileCorruptError(file, 'expected a JSON object');
  const missing = fields.filter((f) => !(f in value));
  if (missing.length) throw new RunFileCorruptError(file, `missing ${missing.join(', ')}`);
}

/** A rule for one field: the test, and what the value should be (for the message). */
type FieldRule = readonly [key: string, ok: (v: unknown) => boolean, what: string];

const isNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const isPositiveInt = (v: unknown) => Number.isInteger(v) && (v as number) > 0;
const isFraction = (v: unknown) => isNumber(v) && v >= 0 && v < 1;
/** A weight-average decay (hyper.ema): strictly between 0 and 1; 0 would be no average, 1 one that never moves. */
export const isWeightAverageDecay = (v: unknown): v is number => isNumber(v) && v > 0 && v < 1;
const optional = (ok: (v: unknown) => boolean) => (v: unknown) => v === undefined || v === null || ok(v);
const oneOf = (...values: string[]) => (v: unknown) => typeof v === 'string' && values.includes(v);
const withKind = (...kinds: string[]) => (v: unknown) => isObject(v) && kinds.includes(v.kind as string);

/** Fails on the first field of `value` that breaks its rule, naming it as `prefix` + key. */
export function expectRules(file: string, value: Record<string, unknown>, rules: readonly FieldRule[], prefix = ''): void {
  for (const [key, ok, what] of rules) {
    if (!ok(value[key])) throw new RunFileCorruptError(file, `"${prefix}${key}" is not ${what}`);
  }
}

const HYPER_RULES: readonly FieldRule[] = [
  ['epochs', isCount, 'a whole number >= 0'],
  ['augEpochs', isCount, 'a whole number >= 0'],
  ['batchSize', isPositiveInt, 'a whole number >= 1'],
  ['lr', (v) => isNumber(v) && v > 0, 'a positive number'],
  ['seed', isCount, 'a whole number >= 0'],
  ['valSplit', isFraction, 'a number from 0 to below 1'],
  ['limit', (v) => v === null || isPositiveInt(v), 'null or a whole number >= 1'],
  ['earlyStop', optional(isPositiveInt), 'null or a whole number >= 1'],
  ['lrSchedule', optional(withKind('constant', 'step', 'cosine', 'plateau', 'onecycle')), 'a learning-rate schedule (constant, step, cosine, plateau or onecycle)'],
  ['optimizer', optional(withKind('adam', 'adamw', 'sgd')), 'an optimizer (adam, adamw or sgd)'],
  ['labelSmoothing', optional(isFraction), 'a number from 0 to below 1'],
  ['tta', optional(oneOf('none', 'flip')), '"none" or "flip"'],
  ['ema', optional(isWeightAverageDecay), 'null or a number between 0 and 1'],
];

const AUGMENT_RULES: readonly FieldRule[] = [
  ['rotationDeg', isNumber, 'a number'],
  ['widthShift', isNumber, 'a number'],
  ['heightShift', isNumber, 'a number'],
  ['shear', isNumber, 'a number'],
  ['zoom', isNumber, 'a number'],
  ['shearUnit', oneOf('degrees', 'radians'), '"degrees" or "radians"'],
  ['interpolation', optional(oneOf('nearest', 'bilinear')), '"nearest" or "bilinear"'],
  ['cropPad', optional(isCount), 'a whole number >= 0'],
  ['flip', optional((v) => typeof v === 'boolean'), 'true or false'],
  ['erase', optional(isFraction), 'a number from 0 to below 1'],
  ['photo', optional(isFraction), 'a number from 0 to below 1'],
];

const isText = (v: unknown) => typeof v === 'string';
const MODEL_OPTION_RULES: readonly FieldRule[] = [
  ['inputSize', optional(isPositiveInt), 'a whole number >= 1'],
  ['weights', optional(isText), 'a string'],
  ['backbone', optional(isText), 'a string'],
  ['backboneLayer', optional(isText), 'a string'],
  ['fineTune', optional(isText), 'a string'],
];

/** A metric of a history row: a number, or null (JSON's NaN, a diverged loss). */
const isMetric = (v: unknown) => v === null || isNumber(v);

const HISTORY_RULES: readonly FieldRule[] = [
  ['phase', oneOf('base', 'augment'), '"base" or "augment"'],
  ['epoch', isPositiveInt, 'a whole number >= 1'],
  ['loss', isMetric, 'a number'],
  ['acc', isMetric, 'a number'],
  ['val_loss', isMetric, 'a number'],
  ['val_acc', isMetric, 'a number'],
  ['seconds', optional(isNumber), 'a number'],
  ['lr', optional(isNumber), 'a number'],
];

const EVAL_RESULT_RULES: readonly FieldRule[] = [
  ['phase', oneOf('base', 'augment', 'final'), '"base", "augment" or "final"'],
  ['epoch', isCount, 'a whole number >= 0'],
  ['test_loss', isMetric, 'a number'],
  ['test_acc', isMetric, 'a number'],
];

/** Checks one history row (from history.jsonl or a checkpoint's state); `where` names it in messages. */
export function expectHistoryRow(where: string, row: unknown): asserts row is HistoryRow {
  expectFields(where, row, ['phase', 'epoch', 'loss', 'acc', 'val_loss', 'val_acc']);
  expectRules(where, row, HISTORY_RULES);
}

export async function hasRunConfig(runDir: string): Promise<boolean> {
  return (await fs.stat(runPath(runDir, 'config')).catch(() => null))?.isFile() ?? false;
}

/** Records from before SGD had weight decay trained without it. */
function migrateOptimizer(o: OptimizerSpec | undefined): OptimizerSpec {
  if (!o) return { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: null };
  return o.kind === 'sgd' ? { ...o, weightDecay: (o as Partial<typeof o>).weightDecay ?? 0 } : o;
}

/**
 * Brings a config.json written by an earlier version to today's form: records from before
 * `interpolation` existed were trained with bilinear sampling, and from before `optimizer` and
 * `labelSmoothing` with Adam (TF.js defaults) and no smoothing; before test-time augmentation,
 * random crops, flips, erasing, photo-like augmentation and weight averaging existed, none was used; before model options, models took none.
 */
function migrateConfig(raw: Record<string, unknown>): RunConfig {
  const config = raw as unknown as RunConfig;
  const hyper = config.hyper as Partial<RunConfig['hyper']>;
  return {
    ...config,
    format: config.format ?? 1,
    modelOptions: config.modelOptions ?? {},
    hyper: {
      ...config.hyper,
      optimizer: migrateOptimizer(hyper.optimizer),
      labelSmoothing: hyper.labelSmoothing ?? 0,
      tta: hyper.tta ?? 'none',
      ema: hyper.ema ?? null,
    },
    augmentation: {
      ...config.augmentation,
      interpolation: config.augmentation.interpolation ?? 'bilinear',
      cropPad: config.augmentation.cropPad ?? 0,
      flip: config.augmentation.flip ?? false,
      erase: config.augmentation.erase ?? 0,
      photo: config.augmentation.photo ?? 0,
    },
  };
}

/** config.json, in today's form. */
export async function readRunConfig(runDir: string): Promise<RunConfig> {
  await requireRunDir(runDir);
  const file = runPath(runDir, 'config');
  const text = await readTextOrNull(file);
  if (text === null) throw new RunFileMissingError(file, `${runDir} is not a training run`);
  const raw = parseJson(file, text);
  expectFields(file, raw, ['model', 'hyper', 'augmentation']);
  expectFields(`${file} (hyper)`, raw.hyper, ['epochs', 'augEpochs', 'batchSize', 'lr', 'seed', 'valSplit', 'limit']);
  if (typeof raw.model !== 'string') throw new RunFileCorruptError(file, '"model" is not a name');
  if (raw.format !== undefined && !isPositiveInt(raw.format)) throw new RunFileCorruptError(file, '"format" is not a version number');
  if (typeof raw.format === 'number' && raw.format > RUN_FORMAT) {
    throw new RunMismatchError(runDir, `${file} has format ${raw.format}, written by a newer fashion-cnn (this one reads up to ${RUN_FORMAT})`);
  }
  expectRules(file, raw.hyper as Record<string, unknown>, HYPER_RULES, 'hyper.');
  if (!isObject(raw.augmentation)) throw new RunFileCorruptError(file, '"augmentation" is not an object');
  expectRules(file, raw.augmentation, AUGMENT_RULES, 'augmentation.');
  if (raw.modelOptions !== undefined) {
    if (!isObject(raw.modelOptions)) throw new RunFileCorruptError(file, '"modelOptions" is not an object');
    expectRules(file, raw.modelOptions, MODEL_OPTION_RULES, 'modelOptions.');
  }
  return migrateConfig(raw);
}

/**
 * history.jsonl: one row per completed epoch. A last line without its newline is a row whose
 * append was cut off, and is left out.
 */
export async function readHistory(runDir: string): Promise<HistoryRow[]> {
  await requireRunDir(runDir);
  const file = runPath(runDir, 'history');
  const text = await readTextOrNull(file);
  if (text === null) throw new RunFileMissingError(file);
  const complete = text.endsWith('\n') ? text : text.slice(0, text.lastIndexOf('\n') + 1);
  return complete
    .split('\n')
    .map((line, i) => ({ line, i }))
    .filter(({ line }) => line.trim() !== '')
    .map(({ line, i }) => {
      const row = parseJson(`${file} line ${i + 1}`, line);
      expectHistoryRow(`${file} line ${i + 1}`, row);
      return row;
    });
}

/** eval.json, or null for a run that has not been evaluated yet. */
export async function readEvalReport(runDir: string): Promise<EvalReport | null> {
  await requireRunDir(runDir);
  const file = runPath(runDir, 'eval');
  const text = await readTextOrNull(file);
  if (text === null) return null;
  const raw = parseJson(file, text);
  expectFields(file, raw, ['model', 'results']);
  if (!Array.isArray(raw.results)) throw new RunFileCorruptError(file, '"results" is not a list');
  raw.results.forEach((r: unknown, i: number) => {
    if (!isObject(r)) throw new RunFileCorruptError(file, `result ${i + 1} is not an object`);
    expectRules(file, r, EVAL_RESULT_RULES, `results[${i}].`);
  });
  return raw as unknown as EvalReport;
}
