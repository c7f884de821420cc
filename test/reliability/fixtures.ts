/**
 * Shared, read-only inputs of the bad-input matrix (test/reliability/cases.ts), each made once on
 * first use: a tiny data set, fake run directories holding a tiny saved TF.js model and a complete
 * run record, photos, and a real (tiny) trained run with a checkpoint, trained (in a child
 * process) only when a case first asks for it (the resume cases do; the server's never). Cases
 * copy what they damage into their own folder.
 */
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import { saveModel } from '../../src/models/io.js';
import { RUN_FORMAT, type EvalReport, type HistoryRow, type RunConfig } from '../../src/runs/index.js';
import { ARTICLE_AUGMENTATION } from '../../src/train/augment.js';
import { DEFAULT_OPTIMIZER } from '../../src/train/optimizer.js';
import { versions } from '../../src/util/version.js';
import { runCli, type CliResult } from '../helpers/cli.js';
import { FIXTURE_NAMES, writeFixtureDir } from '../fixtures/data/idx-fixtures.js';
import { simplePhoto } from '../helpers/predict-fixtures.js';

/** Environment of every case: no download, no data steered by the caller's variables, the wasm backend. */
export function caseEnv(root: string): Record<string, string> {
  return { FASHION_MNIST_DIR: '', FASHION_MNIST_MIRROR: 'http://127.0.0.1:9/', FASHION_CNN_CACHE: path.join(root, 'cache'), FASHION_CNN_BACKEND: 'wasm', FASHION_CNN_DEBUG: '' };
}

/** Flags that make training cheap: `epochs` epochs (one by default), no augmented ones, no pictures, wasm. */
export const quickTrain = (epochs = 1) => ['--epochs', String(epochs), '--aug-epochs', '0', '--batch-size', '32', '--no-pictures', '--no-verify', '--backend', 'wasm'];
export const QUICK_TRAIN = quickTrain();

export const TRAIN_COUNT = 120;
export const TEST_COUNT = 30;

/** A tiny model with Fashion-MNIST's input and output: flatten -> dense 8 -> softmax 10. */
export function tinyModel(input: [number, number, number] = [28, 28, 1], hidden = 8, classes = 10): tfl.Sequential {
  const model = tfl.sequential({ name: 'tiny' });
  model.add(tfl.layers.flatten({ inputShape: input, name: 'flat' }));
  model.add(tfl.layers.dense({ units: hidden, activation: 'relu', name: 'hidden' }));
  model.add(tfl.layers.dense({ units: classes, activation: 'softmax', name: 'out' }));
  return model;
}

/**
 * A tiny TF.js backbone for transfer runs: 16x16 RGB in, a stride-2 convolution, a 2x2 max
 * pooling (so its features need an input of at least 4 pixels) and a convolution, 4x4x8 out.
 */
export function tinyBackbone(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 3], name: 'image' });
  let h = tfl.layers.conv2d({ name: 'c1', filters: 4, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(input) as tfl.SymbolicTensor;
  h = tfl.layers.maxPooling2d({ name: 'pool1', poolSize: 2 }).apply(h) as tfl.SymbolicTensor;
  h = tfl.layers.conv2d({ name: 'c2', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(h) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: h, name: 'tiny_backbone' });
}

/** A complete config.json, as `fashion-cnn train` writes it, for a run of `model`. */
export function runConfig(id: string, model: string, dataDir: string): RunConfig {
  return {
    format: RUN_FORMAT,
    id,
    modelOptions: {},
    model,
    createdAt: '2026-01-01T00:00:00.000Z',
    hyper: {
      epochs: 1, augEpochs: 0, batchSize: 32, lr: 0.001, seed: 13, valSplit: 0.2, limit: null, earlyStop: null,
      lrSchedule: { kind: 'constant' }, optimizer: DEFAULT_OPTIMIZER, labelSmoothing: 0, tta: 'none', ema: null, distill: null,
    },
    augmentation: ARTICLE_AUGMENTATION,
    // The fake run was not trained on these files: its record names them without checksums of its own.
    data: { kind: 'flag', dir: dataDir, files: Object.fromEntries(Object.entries(FIXTURE_NAMES).map(([k, name]) => [k, { path: path.join(dataDir, name), md5: '', verified: false }])) as RunConfig['data']['files'], trainCount: 96, valCount: 24, testCount: TEST_COUNT },
    backend: 'wasm',
    params: { total: 6370, trainable: 6370, nonTrainable: 0 },
    versions: versions(),
  };
}

export const HISTORY_ROW: HistoryRow = { phase: 'base', epoch: 1, loss: 2.3, acc: 0.1, val_loss: 2.3, val_acc: 0.1, seconds: 0.5, lr: 0.001 };

export const EVAL_REPORT: EvalReport = {
  model: 'tiny',
  results: [{ phase: 'base', epoch: 1, test_loss: 2.3, test_acc: 0.1, per_class: [], macro_f1: 0.02, confusion: [], count: TEST_COUNT }],
};

export interface Fixtures {
  root: string;
  env: Record<string, string>;
  /** The four files of a tiny Fashion-MNIST-like data set (120 train, 30 test images; not the official MD5s). */
  dataDir: string;
  /** A run directory with the tiny model in model/, a complete config.json, history and eval.json. */
  fakeRun: string;
  /** Saved models (model.json + weights.bin folders) for damaging runs. */
  models: { wrongInput: string; fiveClasses: string; larger: string };
  /**
   * A real cnn1 run, trained one epoch on the tiny data (`fashion-cnn train` in a child process, on
   * the first call): config, history, eval, model/, checkpoint/.
   */
  realRun: () => Promise<string>;
  /** A photo of a dark garment on a light page, PNG. */
  photo: string;
  /** A tiny TF.js layers model (tinyBackbone) to train transfer runs on quickly. */
  backbone: string;
}

async function writeRun(dir: string, model: tfl.LayersModel, config: RunConfig): Promise<void> {
  await saveModel(model, path.join(dir, 'model'));
  await fs.writeFile(path.join(dir, 'config.json'), JSON.stringify(config, null, 2) + '\n');
  await fs.writeFile(path.join(dir, 'history.jsonl'), JSON.stringify(HISTORY_ROW) + '\n');
  await fs.writeFile(path.join(dir, 'eval.json'), JSON.stringify(EVAL_REPORT, null, 2) + '\n');
}

async function saveTo(dir: string, model: tfl.LayersModel): Promise<string> {
  await saveModel(model, dir);
  model.dispose();
  return dir;
}

/** Trains the real run; fails loudly (the cases that use it would otherwise fail obscurely). */
async function trainRealRun(root: string, dataDir: string, env: Record<string, string>): Promise<string> {
  const runDir = path.join(root, 'real-run');
  const r: CliResult = await runCli(['train', '--model', 'cnn1', '--data-dir', dataDir, '--run-dir', runDir, ...QUICK_TRAIN], { env, cwd: root, timeoutMs: 120_000 });
  if (r.code !== 0) throw new Error(`training the fixture run failed (${r.code}): ${r.stderr}`);
  return runDir;
}

export async function makeFixtures(): Promise<Fixtures> {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'fcnn-reliability-'));
  const env = caseEnv(root);
  const dataDir = path.join(root, 'data');
  await writeFixtureDir(dataDir, { trainCount: TRAIN_COUNT, testCount: TEST_COUNT });
  let trained: Promise<string> | null = null;
  const realRun = () => (trained ??= trainRealRun(root, dataDir, env));
  await initBackend('cpu');
  const fakeRun = path.join(root, 'fake-run');
  const tiny = tinyModel();
  await writeRun(fakeRun, tiny, runConfig('fake-run', 'tiny', dataDir));
  tiny.dispose();
  const models = {
    wrongInput: await saveTo(path.join(root, 'models', 'wrong-input'), tinyModel([32, 32, 1])),
    fiveClasses: await saveTo(path.join(root, 'models', 'five-classes'), tinyModel([28, 28, 1], 8, 5)),
    larger: await saveTo(path.join(root, 'models', 'larger'), tinyModel([28, 28, 1], 16)),
  };
  const photo = path.join(root, 'garment.png');
  await fs.writeFile(photo, await simplePhoto('png'));
  const backbone = await saveTo(path.join(root, 'models', 'tiny-backbone'), tinyBackbone());
  return { root, env, dataDir, fakeRun, models, realRun, photo, backbone };
}

/** Copies a run (or any folder) into `dest`. */
export async function copyDir(src: string, dest: string): Promise<string> {
  await fs.cp(src, dest, { recursive: true });
  return dest;
}

/** The folder of the checkpoint in force in `runDir` (from checkpoint/CURRENT). */
export async function checkpointFolder(runDir: string): Promise<string> {
  const current = JSON.parse(await fs.readFile(path.join(runDir, 'checkpoint', 'CURRENT'), 'utf8')) as { dir: string };
  return path.join(runDir, 'checkpoint', current.dir);
}
