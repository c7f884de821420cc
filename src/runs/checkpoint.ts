/**
 * The resume point of a run, checkpoint/: model weights, optimizer state, and the training state
 * (every RNG stream, callback state, history so far).
 *
 * One commit point per epoch: each checkpoint is written whole into a folder of its own, then the
 * small pointer file checkpoint/CURRENT is replaced atomically to name it; only then is
 * history.jsonl rewritten from the committed state and the previous checkpoint removed. A kill at
 * any moment leaves the previous checkpoint or the new one in force, never a mix, and a history
 * that a resume rewrites to match it. Leftovers of an interrupted write are removed by the next
 * write and by `cleanStaleFiles`.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { saveModel } from '../models/io.js';
import { makeDirs, writeFileAtomic, writeFileSynced } from '../util/atomic.js';
import { RunFileCorruptError, RunFileMissingError, RunMismatchError } from './errors.js';
import { CHECKPOINT_FILES, runPath } from './files.js';
import { loadModelDir } from './model-dir.js';
import { expectFields, parseJson, readTextOrNull, requireRegularFile } from './read.js';
import { HistoryRowSchema } from './records.js';
import { checkRecord } from './validate.js';
import { rewriteHistory } from './write.js';
import type { TrainState } from './types.js';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

interface OptimizerWeightsFile {
  specs: { name: string; shape: number[]; dtype: string }[];
}

/** checkpoint/CURRENT: which folder holds the checkpoint in force. */
interface CurrentPointer {
  format: number;
  dir: string;
}

export const CHECKPOINT_FORMAT = 2;
const CURRENT = 'CURRENT';
const TMP_PREFIX = '.tmp-';

const currentFile = (runDir: string) => path.join(runPath(runDir, 'checkpoint'), CURRENT);

async function readCurrent(runDir: string): Promise<CurrentPointer | null> {
  const file = currentFile(runDir);
  const text = await readTextOrNull(file);
  if (text === null) return null;
  const raw = parseJson(file, text);
  expectFields(file, raw, ['format', 'dir']);
  const pointer = raw as unknown as CurrentPointer;
  if (!Number.isInteger(pointer.format) || pointer.format < 1) throw new RunFileCorruptError(file, '"format" is not a version number');
  if (typeof pointer.dir !== 'string' || pointer.dir.includes('/') || pointer.dir.startsWith('.')) throw new RunFileCorruptError(file, `"dir" is not a checkpoint folder name`);
  if (pointer.format > CHECKPOINT_FORMAT) throw new RunMismatchError(runDir, `${file} has format ${pointer.format}, written by a newer fashion-cnn (this one reads up to ${CHECKPOINT_FORMAT})`);
  return pointer;
}

/**
 * The folder holding the checkpoint in force, or null when the run has none. Runs written before
 * format 2 kept the checkpoint's files directly in checkpoint/.
 */
export async function checkpointDir(runDir: string): Promise<string | null> {
  const base = runPath(runDir, 'checkpoint');
  const pointer = await readCurrent(runDir);
  if (pointer) return path.join(base, pointer.dir);
  const legacy = await fs.stat(path.join(base, CHECKPOINT_FILES.state)).catch(() => null);
  return legacy?.isFile() ? base : null;
}

export async function hasCheckpoint(runDir: string): Promise<boolean> {
  return (await checkpointDir(runDir)) !== null;
}

/** Removes superseded checkpoints and what an interrupted checkpoint write left in checkpoint/. */
async function cleanCheckpointFolder(runDir: string): Promise<void> {
  const base = runPath(runDir, 'checkpoint');
  const pointer = await readCurrent(runDir).catch(() => null);
  for (const e of await fs.readdir(base).catch(() => [] as string[])) {
    const stale = pointer ? e !== CURRENT && e !== pointer.dir : e.startsWith(TMP_PREFIX) || e.includes('.tmp-');
    if (stale) await fs.rm(path.join(base, e), { recursive: true, force: true });
  }
}

/**
 * Whether a temp file or folder of an atomic write (named with its writer's pid: see util/atomic.ts)
 * belongs to another process that still runs: an `evaluate` writing eval.json as a training starts.
 */
function writtenByRunningProcess(name: string): boolean {
  const pid = Number(/(?:\.tmp-|\.(?:new|old)-)(?:stale-)?(\d+)-/.exec(name)?.[1]);
  if (!pid || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes what an interrupted run left behind: temp files and folders of atomic writes in the run
 * directory (but not those of a write under way in another running process), and superseded or
 * half-written checkpoints. For a run about to resume, holding its training lock.
 */
export async function cleanStaleFiles(runDir: string): Promise<void> {
  await cleanCheckpointFolder(runDir);
  for (const e of await fs.readdir(runDir).catch(() => [] as string[])) {
    const leftover = e.includes('.tmp-') || /^\..+\.(new|old)-/.test(e);
    if (leftover && !writtenByRunningProcess(e)) await fs.rm(path.join(runDir, e), { recursive: true, force: true });
  }
}

/**
 * Commits the run's state after an epoch: the checkpoint (model, optimizer, state), then the
 * history rewritten from the state. See the file comment for why a kill cannot break the record.
 */
export async function saveCheckpoint(runDir: string, model: tfl.LayersModel, optimizer: tf.Optimizer, state: TrainState): Promise<void> {
  const optWeights = await optimizer.getWeights();
  const specs: OptimizerWeightsFile['specs'] = [];
  const buffers: Buffer[] = [];
  for (const w of optWeights) {
    const data = (await w.tensor.data()) as Float32Array | Int32Array;
    specs.push({ name: w.name, shape: w.tensor.shape, dtype: w.tensor.dtype });
    buffers.push(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }
  // getWeights returns the live optimizer variables plus a fresh iteration-count tensor: free only the latter.
  optWeights.forEach((w) => {
    if (!(w.tensor instanceof tf.Variable)) w.tensor.dispose();
  });

  const base = runPath(runDir, 'checkpoint');
  const epochs = state.epochsDone.base + state.epochsDone.augment;
  const name = `epoch-${String(epochs).padStart(4, '0')}-${state.phasesDone.length}-${randomBytes(4).toString('hex')}`;
  const tmp = path.join(base, `${TMP_PREFIX}${name}`);
  await makeDirs(tmp);
  try {
    await saveModel(model, path.join(tmp, CHECKPOINT_FILES.model));
    await writeFileSynced(path.join(tmp, CHECKPOINT_FILES.optimizerJson), JSON.stringify({ specs }));
    await writeFileSynced(path.join(tmp, CHECKPOINT_FILES.optimizerBin), Buffer.concat(buffers));
    await writeFileSynced(path.join(tmp, CHECKPOINT_FILES.state), JSON.stringify(state));
    await fs.rename(tmp, path.join(base, name));
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  const pointer: CurrentPointer = { format: CHECKPOINT_FORMAT, dir: name };
  await writeFileAtomic(currentFile(runDir), JSON.stringify(pointer) + '\n'); // the commit point
  await rewriteHistory(runDir, state.history);
  await cleanCheckpointFolder(runDir);
}

export interface LoadedCheckpoint {
  model: tfl.LayersModel;
  optimizerWeights: NamedTensor[];
  state: TrainState;
  /** The folder the checkpoint was read from. */
  dir: string;
}

async function readRequired(file: string): Promise<string> {
  const text = await readTextOrNull(file);
  if (text === null) throw new RunFileMissingError(file);
  return text;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown) => Number.isInteger(v) && (v as number) >= 0;
const isRngState = (v: unknown) => Array.isArray(v) && v.length === 4 && v.every((x) => Number.isInteger(x) && x >= -0x80000000 && x <= 0xffffffff);

/** Checks a state.json's content has the types training resumes from (not just the field names). */
function checkState(file: string, state: unknown): asserts state is TrainState {
  expectFields(file, state, ['epochsDone', 'phasesDone', 'rng', 'history', 'learningRate']);
  const bad = (what: string) => new RunFileCorruptError(file, what);
  const { epochsDone, phasesDone, rng, history, learningRate } = state;
  if (!isObject(epochsDone) || !isCount(epochsDone.base) || !isCount(epochsDone.augment)) throw bad('"epochsDone" is not an object with "base" and "augment" epoch counts');
  if (!Array.isArray(phasesDone) || phasesDone.some((p) => p !== 'base' && p !== 'augment')) throw bad('"phasesDone" is not a list of phases');
  if (!isObject(rng) || !['shuffle', 'augment', 'dropout'].every((k) => isRngState(rng[k]))) throw bad('"rng" does not hold the shuffle, augment and dropout generator states');
  if (!Array.isArray(history)) throw bad('"history" is not a list');
  history.forEach((row, i) => checkRecord(`${file} (history row ${i + 1})`, HistoryRowSchema, row));
  if (!(typeof learningRate === 'number' && Number.isFinite(learningRate) && learningRate > 0)) throw bad('"learningRate" is not a positive number');
  if (state.phaseStopped !== undefined && typeof state.phaseStopped !== 'boolean') throw bad('"phaseStopped" is not true or false');
  if (state.callbacks !== undefined && !isObject(state.callbacks)) throw bad('"callbacks" is not an object');
}

const OPTIMIZER_DTYPES = ['float32', 'int32'];

export async function loadCheckpoint(runDir: string): Promise<LoadedCheckpoint> {
  const dir = await checkpointDir(runDir);
  if (!dir) throw new RunFileMissingError(currentFile(runDir), `${runDir} has no checkpoint`);
  const stateFile = path.join(dir, CHECKPOINT_FILES.state);
  const state = parseJson(stateFile, await readRequired(stateFile));
  checkState(stateFile, state);

  const specsFile = path.join(dir, CHECKPOINT_FILES.optimizerJson);
  const specsJson = parseJson(specsFile, await readRequired(specsFile));
  expectFields(specsFile, specsJson, ['specs']);
  const { specs } = specsJson as unknown as OptimizerWeightsFile;
  if (!Array.isArray(specs) || specs.some((s) => !isObject(s) || typeof s.name !== 'string' || !Array.isArray(s.shape) || !s.shape.every(isCount))) {
    throw new RunFileCorruptError(specsFile, '"specs" is not a list of named shapes (whole numbers >= 0)');
  }
  const badType = specs.find((s) => !OPTIMIZER_DTYPES.includes(s.dtype));
  if (badType) throw new RunFileCorruptError(specsFile, `weight ${badType.name} has dtype ${JSON.stringify(badType.dtype)}, not float32 or int32`);
  const binFile = path.join(dir, CHECKPOINT_FILES.optimizerBin);
  if (!(await requireRegularFile(binFile))) throw new RunFileMissingError(binFile);
  const bin = await fs.readFile(binFile).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'ENOENT' ? new RunFileMissingError(binFile) : new RunFileCorruptError(binFile, e.message);
  });
  const expectedBytes = specs.reduce((a, s) => a + s.shape.reduce((x, y) => x * y, 1) * 4, 0);
  if (bin.byteLength !== expectedBytes) throw new RunFileCorruptError(binFile, `holds ${bin.byteLength} bytes, ${specsFile} describes ${expectedBytes}`);

  const model = await loadModelDir(path.join(dir, CHECKPOINT_FILES.model));
  const optimizerWeights: NamedTensor[] = [];
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const copy = new Uint8Array(bin.subarray(offset, offset + n * 4)).buffer; // aligned copy for the typed array view
    offset += n * 4;
    const values = s.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
    optimizerWeights.push({ name: s.name, tensor: tf.tensor(values, s.shape, s.dtype as tf.DataType) });
  }
  return { model, optimizerWeights, state: state as unknown as TrainState, dir };
}

/**
 * How a run that averages its weights (`train --ema`) keeps the averages among its optimizer's
 * weights: `ema/steps` (the number of updates), then `ema/0`, `ema/1`, ... in model.weights order.
 */
export const WEIGHT_AVERAGE_NAMES = {
  prefix: 'ema/',
  steps: 'ema/steps',
  weight: (i: number) => `ema/${i}`,
} as const;

/**
 * The model a checkpoint stands for when its run averages its weights: the averages (what its
 * validation saw, and what it would save if it ended here), not the raw trained weights.
 */
export async function loadAveragedCheckpointModel(runDir: string): Promise<{ model: tfl.LayersModel; dir: string }> {
  const ck = await loadCheckpoint(runDir);
  const specsFile = path.join(ck.dir, CHECKPOINT_FILES.optimizerJson);
  try {
    const byName = new Map(ck.optimizerWeights.map((w) => [w.name, w.tensor]));
    if (!byName.has(WEIGHT_AVERAGE_NAMES.steps)) throw new RunFileCorruptError(specsFile, `the run averages its weights (--ema), but its checkpoint holds no averages (${WEIGHT_AVERAGE_NAMES.steps} missing)`);
    ck.model.weights.forEach((w, i) => {
      const average = byName.get(WEIGHT_AVERAGE_NAMES.weight(i));
      if (!average || average.shape.join('x') !== w.shape.join('x')) throw new RunFileCorruptError(specsFile, `the weight averages do not match the model (${WEIGHT_AVERAGE_NAMES.weight(i)})`);
      w.write(average);
    });
    return { model: ck.model, dir: path.join(ck.dir, CHECKPOINT_FILES.model) };
  } catch (e) {
    ck.model.dispose();
    throw e;
  } finally {
    // The model's variables hold their own references to the averages' data.
    ck.optimizerWeights.forEach((w) => w.tensor.dispose());
  }
}
