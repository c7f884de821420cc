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
import { EvalReportSchema, HistoryRowSchema, RUN_FORMAT, StoredRunConfigSchema, WeightAverageDecaySchema, type EvalReport, type HistoryRow, type RunConfig } from './records.js';
import { checkRecord, fits } from './validate.js';
import { fromStoredPaths } from './record-paths.js';

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

/** A weight-average decay (hyper.ema), by the record's own rule. */
export const isWeightAverageDecay = (v: unknown): v is number => fits(WeightAverageDecaySchema, v);

export async function hasRunConfig(runDir: string): Promise<boolean> {
  return (await fs.stat(runPath(runDir, 'config')).catch(() => null))?.isFile() ?? false;
}

/**
 * Brings a config.json written by an earlier version to today's form before it is checked:
 * records from before `interpolation` existed were trained with bilinear sampling, and from before
 * `optimizer` and `labelSmoothing` with Adam (TF.js defaults) and no smoothing, SGD without weight
 * decay; before schedules, early stopping, test-time augmentation, random crops, flips, erasing,
 * photo-like augmentation, weight averaging and distillation existed, none was used; before model options,
 * models took none. Only objects are filled: anything else is left for the check to name.
 */
function migrateConfig(raw: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw, format: raw.format ?? 1, modelOptions: raw.modelOptions ?? {} };
  if (isObject(raw.hyper)) {
    const h = raw.hyper;
    const optimizer = h.optimizer ?? { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: null };
    out.hyper = {
      ...h,
      earlyStop: h.earlyStop ?? null,
      lrSchedule: h.lrSchedule ?? { kind: 'constant' },
      optimizer: isObject(optimizer) && optimizer.kind === 'sgd' ? { ...optimizer, weightDecay: optimizer.weightDecay ?? 0 } : optimizer,
      labelSmoothing: h.labelSmoothing ?? 0,
      tta: h.tta ?? 'none',
      ema: h.ema ?? null,
      distill: isObject(h.distill) ? { targets: 'batch', ...h.distill } : (h.distill ?? null),
    };
  }
  if (isObject(raw.augmentation)) {
    const a = raw.augmentation;
    out.augmentation = { ...a, interpolation: a.interpolation ?? 'bilinear', cropPad: a.cropPad ?? 0, flip: a.flip ?? false, erase: a.erase ?? 0, photo: a.photo ?? 0 };
  }
  return out;
}

/** config.json, in today's form. */
export async function readRunConfig(runDir: string): Promise<RunConfig> {
  await requireRunDir(runDir);
  const file = runPath(runDir, 'config');
  const text = await readTextOrNull(file);
  if (text === null) throw new RunFileMissingError(file, `${runDir} is not a training run`);
  const raw = parseJson(file, text);
  if (!isObject(raw)) throw new RunFileCorruptError(file, 'expected a JSON object');
  if (typeof raw.format === 'number' && raw.format > RUN_FORMAT) {
    throw new RunMismatchError(runDir, `${file} has format ${raw.format}, written by a newer fashion-cnn (this one reads up to ${RUN_FORMAT})`);
  }
  const config = migrateConfig(raw);
  checkRecord<RunConfig>(file, StoredRunConfigSchema, config);
  return fromStoredPaths(runDir, config);
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
      checkRecord<HistoryRow>(`${file} line ${i + 1}`, HistoryRowSchema, row);
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
  checkRecord<EvalReport>(file, EvalReportSchema, raw);
  return raw;
}
