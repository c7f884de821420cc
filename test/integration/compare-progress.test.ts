/**
 * `compare`'s overall progress: model k of n, epochs done of all, and the time left, priced by a
 * short measurement of each model and fitted to the epochs as they finish (src/compare/eta.ts);
 * and a tiny real comparison that prints it, without changing what the runs compute.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { initBackend } from '../../src/backend/index.js';
import { CompareEta, type ModelPlan } from '../../src/compare/eta.js';
import { CompareProgress } from '../../src/compare/progress.js';
import { formatDuration } from '../../src/util/format.js';
import { compareModels } from '../../src/compare/run.js';
import { loadFashionMnist } from '../../src/data/index.js';
import { readHistory } from '../../src/runs/index.js';
import { resolveProtocol } from '../../src/train/protocol.js';
import { trainRun } from '../../src/train/run.js';

const STEPS = 10, BATCH = 256, VAL = 1000;

function plan(model: string, stepSeconds: number, inferSecondsPerImage: number | null, epochs = [2, 3]): ModelPlan {
  return {
    model,
    phases: [
      { phase: 'base', epochs: epochs[0], stepsPerEpoch: STEPS, imagesPerEpoch: STEPS * BATCH },
      { phase: 'augment', epochs: epochs[1], stepsPerEpoch: STEPS, imagesPerEpoch: STEPS * BATCH },
    ],
    valImages: VAL,
    cost: inferSecondsPerImage === null ? null : { stepSeconds, inferSecondsPerImage },
  };
}

/** A host that runs k times slower than the measurement, augments at `aug` s/image, and spends `overhead` s per model outside epochs. */
const host = { k: 1.3, aug: 2e-5, overhead: 4 };
const trueEpoch = (p: ModelPlan, phase: 'base' | 'augment') =>
  host.k * (STEPS * p.cost!.stepSeconds + VAL * p.cost!.inferSecondsPerImage) + (phase === 'augment' ? host.aug * STEPS * BATCH : 0);
const trueModel = (p: ModelPlan) => 2 * trueEpoch(p, 'base') + 3 * trueEpoch(p, 'augment') + host.overhead;

/** Runs model `m` of `eta` to its end on the host above. */
function runModel(eta: CompareEta, m: number): void {
  const p = eta.plans[m];
  let wall = host.overhead;
  for (const phase of ['base', 'augment'] as const) {
    for (let e = 0; e < (phase === 'base' ? 2 : 3); e++) {
      const s = trueEpoch(p, phase);
      eta.epochDone(m, phase, s);
      wall += s;
    }
  }
  eta.modelFinished(m, wall);
}

describe('CompareEta', () => {
  const plans = () => [plan('small', 0.01, 1e-5), plan('medium', 0.03, 2e-5), plan('large', 0.2, 9e-5)];

  it('after the first model, prices the others by their measurement, the host\'s speed and the augmentation it saw', () => {
    const eta = new CompareEta(plans());
    runModel(eta, 0);
    const left = eta.remaining()!;
    const truth = trueModel(eta.plans[1]) + trueModel(eta.plans[2]);
    assert.ok(Math.abs(left.seconds - truth) < 1e-9 * truth, `${left.seconds} vs ${truth}`);
    assert.equal(left.complete, true);
    assert.equal(eta.epochsDone, 5);
    assert.equal(eta.epochsTotal, 15);
  });

  it('before any epoch, uses the measurement as it is; the model in training is priced by its own epochs', () => {
    const eta = new CompareEta(plans());
    const raw = (p: ModelPlan) => 5 * (STEPS * p.cost!.stepSeconds + VAL * p.cost!.inferSecondsPerImage);
    assert.ok(Math.abs(eta.remaining()!.seconds - eta.plans.reduce((s, p) => s + raw(p), 0)) < 1e-9);
    runModel(eta, 0);
    // The second model runs 10% slower than the first's speed predicts (its own efficiency).
    const slow = 1.1 * trueEpoch(eta.plans[1], 'base');
    eta.epochDone(1, 'base', slow);
    const compute = (p: ModelPlan) => STEPS * p.cost!.stepSeconds + VAL * p.cost!.inferSecondsPerImage;
    const augment = host.aug * STEPS * BATCH;
    const second = slow + 3 * (1.1 * host.k * compute(eta.plans[1]) + augment) + host.overhead;
    // A model not started yet: at the median speed of the clean epochs seen so far (1.3, 1.3, 1.43).
    const expected = second + trueModel(eta.plans[2]);
    assert.ok(Math.abs(eta.remaining()!.seconds - expected) < 1e-9 * expected);
  });

  it('a slow first epoch (the model\'s warm-up) does not set the pace', () => {
    const eta = new CompareEta([plan('a', 0.01, 1e-5, [3, 0]), plan('b', 0.05, 3e-5, [3, 0])]);
    const a = eta.plans[0];
    const epoch = host.k * (STEPS * a.cost!.stepSeconds + VAL * a.cost!.inferSecondsPerImage);
    for (const s of [3 * epoch, epoch, epoch]) eta.epochDone(0, 'base', s);
    eta.modelFinished(0);
    const b = eta.plans[1];
    assert.ok(Math.abs(eta.remaining()!.seconds - 3 * host.k * (STEPS * b.cost!.stepSeconds + VAL * b.cost!.inferSecondsPerImage)) < 1e-9);
  });

  it('counts a resumed model\'s earlier epochs as done, a finished model as whole, and says when a model is not priced', () => {
    const eta = new CompareEta([plan('a', 0.01, 1e-5), plan('transfer', 0, null, [0, 5])]);
    eta.alreadyDone(0, { base: 2, augment: 1 });
    assert.equal(eta.epochsDone, 3);
    assert.equal(eta.remaining()!.complete, false, 'the transfer model has no price yet');
    eta.modelFinished(0);
    eta.epochDone(1, 'augment', 7);
    assert.deepEqual(eta.remaining(), { seconds: 4 * 7, complete: true });
    assert.equal(eta.epochsDone, 5 + 1);
    assert.equal(new CompareEta([plan('t', 0, null)]).remaining(), null, 'nothing priced: no estimate');
  });
});

describe('CompareProgress', () => {
  it('prints model k of n, epochs done of all, the time so far and the time left', () => {
    let t = 0;
    const lines: string[] = [];
    const eta = new CompareEta([plan('cnn1', 0.01, 1e-5), plan('cnn3', 0.03, 2e-5)]);
    const progress = new CompareProgress(eta, (l) => lines.push(l), () => t, () => new Date(2026, 11, 6, 23, 0, 0));
    progress.modelStart(0);
    t = 65_000;
    eta.epochDone(0, 'base', 65);
    assert.match(progress.line(), /^compare: model 1 of 2 \(cnn1\), 1 of 10 epochs done; 1 min 05 s so far, about \d+ (s|min \d\d s) left \(until 23:\d\d\)$/);
    assert.match(lines[0], /^compare: model 1 of 2 \(cnn1\), 0 of 10 epochs done; 0 s so far, about/);
    assert.equal(formatDuration(3 * 3600 + 7 * 60 + 20), '3 h 07 min');
    assert.equal(formatDuration(59.4), '59 s');
  });
});

describe('a tiny comparison shows its overall progress', () => {
  it('one line per epoch and per model, ending with every epoch done; the runs are those train makes alone', { timeout: 600_000 }, async () => {
    await initBackend();
    const data = await loadFashionMnist({});
    const tmp = await mkdtemp(path.join(tmpdir(), 'compare-progress-'));
    try {
      const { hyper, augmentation } = resolveProtocol(undefined, { hyper: { epochs: 2, augEpochs: 1, limit: 1024, batchSize: 128, seed: 5 } });
      const lines: string[] = [];
      const { report } = await compareModels({ models: ['cnn1', 'cnn3'], hyper, augmentation, out: tmp, pictures: false, log: (l) => lines.push(l) });
      assert.equal(report.rows.length, 2);
      const progress = lines.filter((l) => l.startsWith('compare: model'));
      // A line as each model starts, after each of its 3 epochs, and as it ends.
      assert.equal(progress.length, 2 * 5, progress.join('\n'));
      assert.match(progress[0], /^compare: model 1 of 2 \(cnn1\), 0 of 6 epochs done; .* so far, about .* left \(until \d\d:\d\d\)$/);
      assert.match(progress[4], /^compare: model 1 of 2 \(cnn1\), 3 of 6 epochs done;/);
      assert.match(progress[5], /^compare: model 2 of 2 \(cnn3\), 3 of 6 epochs done;/);
      assert.match(progress.at(-1)!, /^compare: model 2 of 2 \(cnn3\), 6 of 6 epochs done; .* about 0 s left/);
      assert.ok(lines.some((l) => /timing a few training steps of each model/.test(l)));
      // Timing the models first changes nothing the runs compute: cnn1 trained alone has the same history.
      const alone = path.join(tmp, 'alone');
      await trainRun({ model: 'cnn1', hyper, augmentation, runDir: alone, data, pictures: false, progress: false, log: () => {} });
      const strip = (rows: Awaited<ReturnType<typeof readHistory>>) => rows.map(({ seconds: _s, ...r }) => r);
      assert.deepEqual(strip(await readHistory(path.join(tmp, 'cnn1'))), strip(await readHistory(alone)));
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  });
});
