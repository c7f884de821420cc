/**
 * Reading a run's files. One behaviour per file, the same for every stage: a missing run directory
 * is a RunNotFoundError, a missing required file a RunFileMissingError, unreadable content a
 * RunFileCorruptError; each message names the file.
 */
import { promises as fs } from 'node:fs';
import { errorMessage } from '../util/errors.js';
import { RunFileCorruptError, RunFileMissingError, RunMismatchError, RunNotFoundError } from './errors.js';
import { runPath } from './files.js';
import { RUN_FORMAT, type EvalReport, type HistoryRow, type RunConfig } from './types.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Fails with RunNotFoundError unless `runDir` is a directory. */
export async function requireRunDir(runDir: string): Promise<void> {
  const stat = await fs.stat(runDir).catch(() => null);
  if (!stat) throw new RunNotFoundError(runDir);
  if (!stat.isDirectory()) throw new RunNotFoundError(runDir, 'is not a directory');
}

/** A file's text, or null when it does not exist (other read errors name the file). */
export async function readTextOrNull(file: string): Promise<string | null> {
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
    throw new RunFileCorruptError(file, `not valid JSON (${errorMessage(e)})`);
  }
}

/** Fails unless `value` is an object with every one of `fields`. */
export function expectFields(file: string, value: unknown, fields: readonly string[]): asserts value is Record<string, unknown> {
  if (!isObject(value)) throw new RunFileCorruptError(file, 'expected a JSON object');
  const missing = fields.filter((f) => !(f in value));
  if (missing.length) throw new RunFileCorruptError(file, `missing ${missing.join(', ')}`);
}

export async function hasRunConfig(runDir: string): Promise<boolean> {
  return (await fs.stat(runPath(runDir, 'config')).catch(() => null))?.isFile() ?? false;
}

/**
 * Brings a config.json written by an earlier version to today's form: records from before
 * `interpolation` existed were trained with bilinear sampling, and from before `optimizer` and
 * `labelSmoothing` with Adam (TF.js defaults) and no smoothing.
 */
function migrateConfig(raw: Record<string, unknown>): RunConfig {
  const config = raw as unknown as RunConfig;
  const hyper = config.hyper as Partial<RunConfig['hyper']>;
  return {
    ...config,
    format: config.format ?? 1,
    hyper: {
      ...config.hyper,
      optimizer: hyper.optimizer ?? { kind: 'adam', beta1: 0.9, beta2: 0.999, epsilon: null },
      labelSmoothing: hyper.labelSmoothing ?? 0,
    },
    augmentation: { ...config.augmentation, interpolation: config.augmentation.interpolation ?? 'bilinear' },
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
  if (typeof raw.format === 'number' && raw.format > RUN_FORMAT) {
    throw new RunMismatchError(runDir, `${file} has format ${raw.format}, written by a newer fashion-cnn (this one reads up to ${RUN_FORMAT})`);
  }
  return migrateConfig(raw);
}

/**
 * history.jsonl: one row per completed epoch. A last line without its newline is a row whose
 * append was cut off, and is left out.
 */
export async function readHistory(runDir: string): Promise<HistoryRow[]> {
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
      expectFields(`${file} line ${i + 1}`, row, ['phase', 'epoch', 'loss', 'acc', 'val_loss', 'val_acc']);
      return row as unknown as HistoryRow;
    });
}

/** eval.json, or null for a run that has not been evaluated yet. */
export async function readEvalReport(runDir: string): Promise<EvalReport | null> {
  const file = runPath(runDir, 'eval');
  const text = await readTextOrNull(file);
  if (text === null) return null;
  const raw = parseJson(file, text);
  expectFields(file, raw, ['model', 'results']);
  if (!Array.isArray(raw.results)) throw new RunFileCorruptError(file, '"results" is not a list');
  return raw as unknown as EvalReport;
}
