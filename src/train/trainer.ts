/**
 * The training loop: two phases over the same model (clean, then augmented batches), validation
 * after every epoch, callbacks around every step, and a checkpoint after every epoch from which a
 * resumed run continues exactly as an uninterrupted one would.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { NUM_CLASSES, type Examples, type TrainValSplit } from '../data/types.js';
import type { AugmentConfig, HistoryRow, Phase, TrainHyperParams, TrainState } from '../runs/types.js';
import { UserError } from '../util/errors.js';
import { Rng, withSeededMathRandom } from '../util/rng.js';
import { lossAndAccuracy } from '../evaluate/metrics.js';
import { predictProbs } from '../evaluate/predict.js';
import { augmentBatch } from './augment.js';
import type { EpochInfo, TrainCallback, TrainControl } from './callbacks.js';
import type { TrainOptimizer } from './optimizer.js';

/** How often, at most, a training step lets the event loop run (ms). */
const YIELD_MS = 200;
import type { Teacher } from './distill.js';

export const PHASES: readonly Phase[] = ['base', 'augment'];

export interface TrainerOptions {
  model: tfl.LayersModel;
  optimizer: TrainOptimizer;
  data: TrainValSplit;
  hyper: TrainHyperParams;
  augmentation: AugmentConfig;
  callbacks: TrainCallback[];
  state: TrainState;
  /** Called after every epoch and every phase end with the state to persist. */
  saveCheckpoint(state: TrainState): Promise<void>;
  /** A distilled run's teacher: it makes each batch's targets from the images the student sees. */
  teacher?: Teacher;
  /** Called when a phase ends (evaluation); runs before the phase is marked done. */
  onPhaseDone?(phase: Phase, state: TrainState): Promise<void>;
}

export function freshTrainState(seed: number, lr: number): TrainState {
  return {
    epochsDone: { base: 0, augment: 0 },
    phasesDone: [],
    phaseStopped: false,
    rng: {
      shuffle: Rng.derive(seed, 'shuffle').getState(),
      augment: Rng.derive(seed, 'augment').getState(),
      dropout: Rng.derive(seed, 'dropout').getState(),
    },
    callbacks: {},
    history: [],
    learningRate: lr,
  };
}

/** Per the article: phase 2 runs floor(N / batch) steps (Keras flow + steps_per_epoch); phase 1 every example. */
export function stepsPerEpoch(phase: Phase, count: number, batchSize: number): number {
  return phase === 'base' ? Math.ceil(count / batchSize) : Math.max(1, Math.floor(count / batchSize));
}

function gatherBatch(src: Examples, order: Uint32Array, start: number, n: number): { x: Float32Array; y: Float32Array; labels: Uint8Array } {
  const per = src.shape[0] * src.shape[1] * src.shape[2];
  const x = new Float32Array(n * per);
  const y = new Float32Array(n * NUM_CLASSES);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const k = order[start + i];
    x.set(src.x.subarray(k * per, (k + 1) * per), i * per);
    labels[i] = src.y[k];
    y[i * NUM_CLASSES + src.y[k]] = 1;
  }
  return { x, y, labels };
}

export async function runTraining(opts: TrainerOptions): Promise<TrainState> {
  const { model, optimizer, data, hyper, callbacks } = opts;
  const state = opts.state;
  const shuffleRng = new Rng(state.rng.shuffle);
  const augmentRng = new Rng(state.rng.augment);
  const dropoutRng = new Rng(state.rng.dropout);
  for (const cb of callbacks) if (cb.stateKey && state.callbacks[cb.stateKey] !== undefined) cb.setState?.(state.callbacks[cb.stateKey]);

  optimizer.setLearningRate(state.learningRate);
  const ctl: TrainControl = {
    model,
    stopPhase: state.phaseStopped,
    getLearningRate: () => optimizer.getLearningRate(),
    setLearningRate: (lr) => optimizer.setLearningRate(lr),
  };
  const [rows, cols, channels] = data.train.shape;
  if (hyper.augEpochs > 0 && channels !== 1) throw new UserError(`augmentation warps grey images; these have ${channels} channels`);

  const snapshot = () => {
    state.rng = { shuffle: shuffleRng.getState(), augment: augmentRng.getState(), dropout: dropoutRng.getState() };
    state.learningRate = optimizer.getLearningRate();
    state.phaseStopped = ctl.stopPhase;
    for (const cb of callbacks) if (cb.stateKey && cb.getState) state.callbacks[cb.stateKey] = cb.getState();
  };
  const emit = async <K extends keyof TrainCallback>(name: K, ...args: unknown[]) => {
    for (const cb of callbacks) {
      const fn = cb[name] as ((...a: unknown[]) => unknown) | undefined;
      if (typeof fn === 'function') await fn.apply(cb, [ctl, ...args]);
    }
  };

  // Dropout masks and any other TF.js randomness draw from Math.random; route it through our stream.
  await withSeededMathRandom(dropoutRng, async () => {
    for (const phase of PHASES) {
      if (state.phasesDone.includes(phase)) continue;
      const planned = phase === 'base' ? hyper.epochs : hyper.augEpochs;
      if (planned === 0) continue; // a skipped phase is neither run nor evaluated
      if (state.epochsDone[phase] === 0 && !ctl.stopPhase) await emit('onPhaseBegin', phase);
      while (state.epochsDone[phase] < planned && !ctl.stopPhase) {
        const row = await runEpoch(phase);
        state.history.push(row);
        snapshot();
        await opts.saveCheckpoint(state);
      }
      await emit('onPhaseEnd', phase);
      const onPhaseDone = opts.onPhaseDone;
      if (onPhaseDone) await withEvaluationWeights(() => onPhaseDone(phase, state));
      ctl.stopPhase = false;
      state.phasesDone.push(phase);
      snapshot();
      await opts.saveCheckpoint(state);
    }
  });
  // The model handed back (and saved) is the weight average, when the run keeps one.
  optimizer.weightAverage?.finalize();
  return state;

  /** Runs an evaluation with the weights it should see: the average when the run keeps one (--ema). */
  function withEvaluationWeights<T>(fn: () => T | Promise<T>): Promise<T> {
    return optimizer.weightAverage ? optimizer.weightAverage.evaluateWith(fn) : Promise.resolve(fn());
  }

  async function runEpoch(phase: Phase): Promise<HistoryRow> {
    const t0 = performance.now();
    const train = data.train;
    const steps = stepsPerEpoch(phase, train.count, hyper.batchSize);
    const info: EpochInfo = {
      phase,
      epoch: state.epochsDone.base + state.epochsDone.augment + 1,
      epochInPhase: state.epochsDone[phase] + 1,
      phaseEpochs: phase === 'base' ? hyper.epochs : hyper.augEpochs,
      steps,
    };
    await emit('onEpochBegin', info);
    const order = shuffleRng.permutation(train.count);
    let lossSum = 0, accSum = 0, seen = 0;
    let lastYield = performance.now();
    for (let step = 0; step < steps; step++) {
      await emit('onBatchBegin', step + 1, info);
      const start = step * hyper.batchSize;
      const n = Math.min(hyper.batchSize, train.count - start);
      const batch = gatherBatch(train, order, start, n);
      const x = phase === 'augment' ? augmentBatch(batch.x, n, rows, cols, opts.augmentation, augmentRng) : batch.x;
      const xs = tf.tensor4d(x, [n, rows, cols, channels]);
      const oneHot = tf.tensor2d(batch.y, [n, NUM_CLASSES]);
      const ys = opts.teacher ? opts.teacher.targets(xs, oneHot, order.subarray(start, start + n)) : oneHot;
      const out = await model.trainOnBatch(xs, ys);
      xs.dispose();
      oneHot.dispose();
      ys.dispose();
      const [loss, acc] = out as number[];
      if (!Number.isFinite(loss)) throw new UserError(`training diverged: the loss is ${loss} at ${phase} epoch ${info.epochInPhase}, step ${step + 1} (try a lower --lr)`);
      lossSum += loss * n;
      accSum += acc * n;
      seen += n;
      await emit('onBatchEnd', { step: step + 1, steps, loss: lossSum / seen, acc: accSum / seen });
      // A step's awaits are microtasks only: without a turn of the event loop now and then, a signal
      // (Ctrl-C, SIGTERM) or a parent process's message would wait for the epoch's end.
      if (performance.now() - lastYield >= YIELD_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    }
    const val = await withEvaluationWeights(() => lossAndAccuracy(predictProbs(model, data.val, { tta: hyper.tta }), data.val.y));
    // Weights can overflow to NaN while the training loss (clipped in the cross-entropy) stays finite.
    if (!Number.isFinite(val.loss) && data.val.count > 0) throw new UserError(`training diverged: the validation loss is ${val.loss} after ${phase} epoch ${info.epochInPhase} (try a lower --lr)`);
    state.epochsDone[phase]++;
    const row: HistoryRow = {
      phase,
      epoch: info.epoch,
      loss: lossSum / seen,
      acc: accSum / seen,
      val_loss: val.loss,
      val_acc: val.acc,
      seconds: (performance.now() - t0) / 1000,
      lr: optimizer.getLearningRate(),
    };
    await emit('onEpochEnd', row, info);
    return row;
  }
}
