/**
 * The resume point of a run: model weights, optimizer state, every RNG stream's state, callback
 * state and the history so far, written as one directory that replaces the previous one atomically.
 */
import { promises as fs } from 'node:fs';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { replaceDirAtomic } from '../util/atomic.js';

export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}
import type { RngState } from '../util/rng.js';
import { loadModel, saveModel } from '../models/io.js';
import type { HistoryRow, Phase } from './record.js';

export interface TrainState {
  /** Epochs completed in each phase. */
  epochsDone: Record<Phase, number>;
  /** Phases finished (all epochs run, or ended early) and evaluated. */
  phasesDone: Phase[];
  /** Set when early stopping ended the phase that is in progress. */
  phaseStopped: boolean;
  rng: { shuffle: RngState; augment: RngState; dropout: RngState };
  callbacks: Record<string, unknown>;
  history: HistoryRow[];
  learningRate: number;
}

interface OptimizerWeightsFile {
  specs: { name: string; shape: number[]; dtype: string }[];
}

export async function saveCheckpoint(dir: string, model: tfl.LayersModel, optimizer: tf.Optimizer, state: TrainState): Promise<void> {
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
  await replaceDirAtomic(dir, async (tmp) => {
    await saveModel(model, path.join(tmp, 'model'));
    await fs.writeFile(path.join(tmp, 'optimizer.json'), JSON.stringify({ specs }));
    await fs.writeFile(path.join(tmp, 'optimizer.bin'), Buffer.concat(buffers));
    await fs.writeFile(path.join(tmp, 'state.json'), JSON.stringify(state));
  });
}

export async function checkpointExists(dir: string): Promise<boolean> {
  try {
    await fs.access(path.join(dir, 'state.json'));
    return true;
  } catch {
    return false;
  }
}

export interface LoadedCheckpoint {
  model: tfl.LayersModel;
  optimizerWeights: NamedTensor[];
  state: TrainState;
}

export async function loadCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  const model = await loadModel(path.join(dir, 'model'));
  const { specs } = JSON.parse(await fs.readFile(path.join(dir, 'optimizer.json'), 'utf8')) as OptimizerWeightsFile;
  const bin = await fs.readFile(path.join(dir, 'optimizer.bin'));
  const optimizerWeights: NamedTensor[] = [];
  let offset = 0;
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const bytes = bin.subarray(offset, offset + n * 4);
    offset += n * 4;
    const copy = new Uint8Array(bytes).buffer; // aligned copy for the typed array view
    const values = s.dtype === 'int32' ? new Int32Array(copy) : new Float32Array(copy);
    optimizerWeights.push({ name: s.name, tensor: tf.tensor(values, s.shape, s.dtype as tf.DataType) });
  }
  const state = JSON.parse(await fs.readFile(path.join(dir, 'state.json'), 'utf8')) as TrainState;
  return { model, optimizerWeights, state };
}
