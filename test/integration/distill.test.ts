/**
 * `train --teacher`: a student learns from a teacher's probabilities (src/train/distill.ts). The
 * teacher is the shared tiny run and a second one of another seed; the students are tiny too.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { trainRun } from '../../src/train/run.js';
import { resolveProtocol } from '../../src/train/protocol.js';
import { readRunConfig, type TrainHyperParams } from '../../src/runs/index.js';
import { runMain } from '../helpers/cli.js';
import { twoTinyRuns } from '../helpers/trained-run.js';

let dir: string;
let a: string;
let b: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fashion-cnn-distill-'));
  [a, b] = await twoTinyRuns(path.join(dir, 'teachers'));
});

after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const STUDENT = ['--model', 'cnn1', '--limit', '600', '--epochs', '1', '--aug-epochs', '1', '--batch-size', '64', '--no-pictures'];
const withoutSeconds = (rows: { seconds: number }[]) => rows.map(({ seconds: _s, ...rest }) => rest);
const history = (run: string) => readFileSync(path.join(run, 'history.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seconds: number; loss: number });

describe('train --teacher', () => {
  it('with weight 0 trains exactly the run without a teacher; with weight 0.5 another, recording its teacher', async () => {
    const plain = path.join(dir, 'plain'), zero = path.join(dir, 'zero'), half = path.join(dir, 'half');
    for (const [run, extra] of [[plain, []], [zero, ['--teacher', `${a},${b}`, '--distill-weight', '0']], [half, ['--teacher', `${a},${b}`]]] as const) {
      const r = await runMain(['train', ...STUDENT, ...extra, '--run-dir', run]);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.deepEqual(withoutSeconds(history(zero)), withoutSeconds(history(plain)));
    assert.notDeepEqual(history(half).map((r) => r.loss), history(plain).map((r) => r.loss));
    const config = await readRunConfig(half);
    assert.deepEqual(config.hyper.distill, { teacher: [a, b], temperature: 4, weight: 0.5, targets: 'batch' });
    assert.deepEqual(config.teacher?.members, [{ runDir: a, model: 'cnn1' }, { runDir: b, model: 'cnn1' }]);
    assert.match(config.teacher?.digest ?? '', /^[0-9a-f]{64}$/);
    assert.equal((await readRunConfig(plain)).hyper.distill, null);

    // The teacher's runs do not flip (tta none); --teacher-tta flip makes it average the mirror image too.
    const flipped = path.join(dir, 'flipped');
    const r = await runMain(['train', ...STUDENT, '--teacher', `${a},${b}`, '--teacher-tta', 'flip', '--run-dir', flipped]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /teacher: an ensemble of 2 runs \(.*test-time augmentation flip\)/);
    assert.equal((await readRunConfig(flipped)).hyper.distill?.tta, 'flip');
    assert.notDeepEqual(history(flipped).map((row) => row.loss), history(half).map((row) => row.loss));
  });

  it('resumes exactly, and refuses to resume once the teacher changed', async () => {
    const { hyper, augmentation } = resolveProtocol('cnn1', { hyper: { epochs: 2, augEpochs: 2, batchSize: 64, limit: 512, seed: 3, distill: { teacher: [a, b], temperature: 2, weight: 0.8, targets: 'batch' } } });
    const common = { model: 'cnn1', hyper: hyper as TrainHyperParams, augmentation, pictures: false, progress: false, log: () => {} };
    const straight = await trainRun({ ...common, runDir: path.join(dir, 'straight') });
    const interrupted = path.join(dir, 'interrupted');
    class Interrupt extends Error {}
    await assert.rejects(trainRun({ ...common, runDir: interrupted, callbacks: [{ onEpochEnd: (_c, row) => { if (row.epoch === 3) throw new Interrupt('simulated crash'); } }] }), Interrupt);
    // A sweep worker asks for the settings it built itself, keys in another order than the record's.
    const reordered = Object.fromEntries(Object.entries(hyper.distill ?? {}).reverse()) as TrainHyperParams['distill'];
    const resumed = await trainRun({ ...common, runDir: interrupted, resume: true, requested: { model: 'cnn1', hyper: { ...hyper, distill: reordered } } });
    assert.equal(straight.history.length, 4);
    assert.deepEqual(withoutSeconds(resumed.history), withoutSeconds(straight.history));
    assert.deepEqual(resumed.eval.results.map((r) => r.test_acc), straight.eval.results.map((r) => r.test_acc));

    const changing = path.join(dir, 'changing');
    await assert.rejects(trainRun({ ...common, runDir: changing, callbacks: [{ onEpochEnd: (_c, row) => { if (row.epoch === 2) throw new Interrupt('simulated crash'); } }] }), Interrupt);
    const weights = path.join(b, 'model', 'weights.bin');
    const original = await fs.readFile(weights);
    const changed = Buffer.from(original);
    changed.writeFloatLE(changed.readFloatLE(0) + 0.5, 0);
    await fs.writeFile(weights, changed);
    try {
      const r = await runMain(['train', '--resume', '--run-dir', changing, '--no-pictures']);
      assert.equal(r.code, 2, r.stderr);
      assert.match(r.stderr, /teacher's models changed since the run started/);
    } finally {
      await fs.writeFile(weights, original);
    }
  });

  it('a student moved with its teachers resumes in the new place, from the teacher runs it recorded; an interrupted run frees its tensors', async () => {
    const tree = path.join(dir, 'tree');
    for (const [from, name] of [[a, 'a'], [b, 'b']] as const) await fs.cp(from, path.join(tree, 'teachers', name), { recursive: true });
    // The teacher is a folder of runs (as a sweep's is), at a temperature that is not the default.
    const { hyper, augmentation } = resolveProtocol('cnn1', { hyper: { epochs: 2, augEpochs: 1, batchSize: 64, limit: 512, seed: 4, distill: { teacher: [path.join(tree, 'teachers')], temperature: 2, weight: 0.5, targets: 'batch' } } });
    class Interrupt extends Error {}
    const student = path.join(tree, 'student');
    const tensorsBefore = tf.memory().numTensors;
    await assert.rejects(trainRun({ model: 'cnn1', hyper: hyper as TrainHyperParams, augmentation, pictures: false, progress: false, log: () => {}, runDir: student, callbacks: [{ onEpochEnd: (_c, row) => { if (row.epoch === 2) throw new Interrupt('simulated crash'); } }] }), Interrupt);
    assert.equal(tf.memory().numTensors, tensorsBefore, 'the student, its optimizer and the teacher are freed');
    const stored = JSON.parse(readFileSync(path.join(student, 'config.json'), 'utf8')) as { hyper: TrainHyperParams; teacher: { members: { runDir: string }[] } };
    assert.deepEqual(stored.hyper.distill?.teacher, [path.join('..', 'teachers')]);
    assert.deepEqual(stored.teacher.members.map((m) => m.runDir), [path.join('..', 'teachers', 'a'), path.join('..', 'teachers', 'b')]);

    const moved = path.join(dir, 'moved');
    await fs.rename(tree, moved);
    // Since then the folder gained a finished run, and a member's model folder a stray file: neither is the teacher changing.
    await fs.cp(a, path.join(moved, 'teachers', 'c'), { recursive: true });
    await fs.writeFile(path.join(moved, 'teachers', 'b', 'model', 'notes.txt'), 'not part of the model');
    const resume = ['train', '--resume', '--run-dir', path.join(moved, 'student'), '--no-pictures', '--teacher', path.join(moved, 'teachers')];
    const refused = await runMain([...resume, '--distill-temperature', '3']);
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /cannot resume with distill temperature 3 \(recorded: 2\)/);
    // --teacher alone asks for the teacher only: the recorded temperature stands.
    const r = await runMain(resume);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /teacher: an ensemble of 2 runs \(temperature 2,/);
    assert.match(r.stderr, /resuming \S+moved\/student after epoch 1/);
    const config = await readRunConfig(path.join(moved, 'student'));
    assert.deepEqual(config.teacher?.members.map((m) => m.runDir), [path.join(moved, 'teachers', 'a'), path.join(moved, 'teachers', 'b')]);
    assert.equal(history(path.join(moved, 'student')).length, 3);
  });

  it('refuses bad distillation flags with one line', async () => {
    const cases: [string[], RegExp][] = [
      [['train', ...STUDENT, '--distill-weight', '0.3'], /go with --teacher/],
      [['train', ...STUDENT, '--teacher', a, '--distill-weight', '1.5'], /--distill-weight/],
      [['train', ...STUDENT, '--teacher', a, '--distill-temperature', '0'], /--distill-temperature/],
      [['train', ...STUDENT, '--teacher-tta', 'none'], /--teacher-tta go with --teacher/],
      [['train', ...STUDENT, '--teacher', a, '--teacher-tta', 'sideways'], /--teacher-tta.*none, flip/],
      [['train', ...STUDENT, '--teacher', path.join(dir, 'no-such-run'), '--run-dir', path.join(dir, 'x1')], /no-such-run/],
      [['train', '--model', 'vgg19', '--teacher', a, '--run-dir', path.join(dir, 'x2')], /cannot learn from a teacher/],
    ];
    for (const [args, re] of cases) {
      const r = await runMain(args);
      assert.notEqual(r.code, 0, args.join(' '));
      assert.match(r.stderr, re, args.join(' '));
    }
  });
});

describe('train --teacher --teacher-targets clean', () => {
  it("uses the teacher's cached answers for the clean images: computed once, reused by the next run, recomputed for another teacher", async () => {
    const cache = path.join(dir, 'cache');
    const env = { FASHION_CNN_CACHE: cache };
    const train = (run: string, teacher: string) => runMain(['train', ...STUDENT, '--teacher', teacher, '--teacher-targets', 'clean', '--run-dir', path.join(dir, run)], { env });
    const first = await train('clean1', `${a},${b}`);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /teacher: probabilities of the training images \(600 images\) computed in .*, cached in /);
    const second = await train('clean2', `${a},${b}`);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /teacher: probabilities of the training images \(600 images\) reused from the cache /);
    // The same seed and teacher with the same cached answers: the same run.
    assert.deepEqual(withoutSeconds(history(path.join(dir, 'clean2'))), withoutSeconds(history(path.join(dir, 'clean1'))));
    const other = await train('clean3', a);
    assert.match(other.stderr, /computed in/, 'another teacher is another key');
    // Clean targets differ from the batch ones only in phase 2, where the images are augmented.
    const batch = path.join(dir, 'batch-targets');
    assert.equal((await runMain(['train', ...STUDENT, '--teacher', `${a},${b}`, '--run-dir', batch])).code, 0);
    const [c, bt] = [history(path.join(dir, 'clean1')), history(batch)];
    assert.deepEqual(withoutSeconds(c.slice(0, 1)), withoutSeconds(bt.slice(0, 1)));
    assert.notDeepEqual(c[1].loss, bt[1].loss);
  });
});
