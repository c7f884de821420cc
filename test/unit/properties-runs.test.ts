/**
 * Property-based tests of the run-record readers (src/runs: readRunConfig, readHistory,
 * readEvalReport, loadCheckpoint): whatever a record file holds — damaged JSON, wrong types,
 * missing fields, binary junk — the reader returns a value or throws a typed run-store error
 * (RunFileCorruptError, RunFileMissingError, RunMismatchError: UserErrors whose one-line message
 * names the file), never a raw SyntaxError or TypeError.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { initBackend } from '../../src/backend/index.js';
import {
  checkpointDir,
  loadCheckpoint,
  readEvalReport,
  readHistory,
  readRunConfig,
  saveCheckpoint,
  RunFileCorruptError,
  RunFileMissingError,
  RunMismatchError,
  type TrainState,
} from '../../src/runs/index.js';
import { DEFAULT_OPTIMIZER, makeOptimizer } from '../../src/train/optimizer.js';
import { freshTrainState } from '../../src/train/trainer.js';
import { EVAL_REPORT, HISTORY_ROW, runConfig } from '../reliability/fixtures.js';

const TYPED = [RunFileCorruptError, RunFileMissingError, RunMismatchError];

/** Runs `read`; a thrown error must be a typed run-store error naming one of `names`. */
async function valueOrTypedError<T>(read: () => Promise<T>, names: readonly string[]): Promise<T | null> {
  try {
    return await read();
  } catch (e) {
    assert.ok(TYPED.some((cls) => e instanceof cls), `a typed run-store error, not ${(e as Error)?.name}: ${(e as Error)?.message}`);
    const message = (e as Error).message;
    assert.ok(names.some((n) => message.includes(n)), `the message names ${names.join(' or ')}: ${message}`);
    assert.ok(!message.includes('\n'), `one line: ${message}`);
    return null;
  }
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/**
 * A JSON document changed at one place: a field or list item (up to three levels down) replaced
 * by an arbitrary JSON value, or deleted.
 */
function mutated(original: Record<string, Json>): fc.Arbitrary<Json> {
  const paths: (string | number)[][] = [];
  const walk = (v: Json, at: (string | number)[]) => {
    if (at.length) paths.push(at);
    if (at.length >= 3 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) v.slice(0, 3).forEach((x, i) => walk(x, [...at, i]));
    else for (const [k, x] of Object.entries(v)) walk(x, [...at, k]);
  };
  walk(original, []);
  return fc.tuple(fc.constantFrom(...paths), fc.option(fc.jsonValue() as fc.Arbitrary<Json>, { nil: undefined })).map(([p, value]) => {
    const copy = JSON.parse(JSON.stringify(original)) as Json;
    let parent = copy as Record<string | number, Json>;
    for (const k of p.slice(0, -1)) parent = parent[k] as Record<string | number, Json>;
    const key = p[p.length - 1];
    if (value !== undefined) parent[key] = value;
    else if (Array.isArray(parent)) parent.splice(key as number, 1);
    else delete parent[key];
    return copy;
  });
}

/** Any content for a JSON file: text, JSON of any shape, binary junk, or the valid document changed. */
function fileContent(valid: Record<string, Json>): fc.Arbitrary<string | Uint8Array> {
  return fc.oneof(
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 4, arbitrary: mutated(valid).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.nat().map((n) => { const t = JSON.stringify(valid); return t.slice(0, n % t.length); }) },
  );
}

let root = '';
let run = '';
before(async () => {
  root = await fs.mkdtemp(path.join(os.tmpdir(), 'fcnn-prop-runs-'));
  run = path.join(root, 'run');
  await fs.mkdir(run);
});
after(() => fs.rm(root, { recursive: true, force: true }));

const CONFIG = runConfig('run', 'cnn1', '/data') as unknown as Record<string, Json>;

test('readRunConfig: any config.json gives a config or a typed error naming config.json', async () => {
  await fc.assert(
    fc.asyncProperty(fileContent(CONFIG), async (content) => {
      await fs.writeFile(path.join(run, 'config.json'), content);
      const config = await valueOrTypedError(() => readRunConfig(run), ['config.json']);
      if (config) {
        assert.equal(typeof config.model, 'string');
        assert.ok(Number.isInteger(config.hyper.epochs) && Number.isInteger(config.hyper.augEpochs));
        assert.equal(typeof config.augmentation, 'object');
        assert.ok(['nearest', 'bilinear'].includes(config.augmentation.interpolation));
      }
    }),
    { numRuns: 300 },
  );
});

const ROW = HISTORY_ROW as unknown as Record<string, Json>;

test('readHistory: any history.jsonl gives rows or a typed error naming history.jsonl', async () => {
  const line = fc.oneof(
    { weight: 3, arbitrary: mutated(ROW).map((v) => JSON.stringify(v)) },
    { weight: 3, arbitrary: fc.constant(JSON.stringify(ROW)) },
    { weight: 1, arbitrary: fc.jsonValue().map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  );
  const text = fc.tuple(fc.array(line, { maxLength: 5 }), fc.boolean()).map(([lines, newline]) => lines.join('\n') + (newline ? '\n' : ''));
  await fc.assert(
    fc.asyncProperty(fc.oneof(text, fc.uint8Array({ maxLength: 200 })), async (content) => {
      await fs.writeFile(path.join(run, 'history.jsonl'), content);
      const rows = await valueOrTypedError(() => readHistory(run), ['history.jsonl']);
      for (const row of rows ?? []) {
        assert.ok(row.phase === 'base' || row.phase === 'augment');
        assert.ok(Number.isInteger(row.epoch));
      }
    }),
    { numRuns: 300 },
  );
});

const REPORT = EVAL_REPORT as unknown as Record<string, Json>;

test('readEvalReport: any eval.json gives a report or a typed error naming eval.json', async () => {
  const withResult = mutated(EVAL_REPORT.results[0] as unknown as Record<string, Json>).map((r) => ({ ...EVAL_REPORT, results: [r] }));
  await fc.assert(
    fc.asyncProperty(fc.oneof(fileContent(REPORT), withResult.map((v) => JSON.stringify(v))), async (content) => {
      await fs.writeFile(path.join(run, 'eval.json'), content);
      const report = await valueOrTypedError(() => readEvalReport(run), ['eval.json']);
      if (report) {
        assert.ok(Array.isArray(report.results));
        for (const r of report.results) assert.ok(['base', 'augment', 'final'].includes(r.phase));
      }
    }),
    { numRuns: 300 },
  );
});

test('loadCheckpoint: any content in any checkpoint file gives a checkpoint or a typed error naming a file', { timeout: 120_000 }, async () => {
  await initBackend('cpu');
  const ckRun = path.join(root, 'ck-run');
  const model = tfl.sequential({ layers: [tfl.layers.flatten({ inputShape: [4, 4, 1] }), tfl.layers.dense({ units: 3, activation: 'softmax' })] });
  const optimizer = makeOptimizer(DEFAULT_OPTIMIZER, 0.01);
  model.compile({ optimizer, loss: 'categoricalCrossentropy' });
  await model.trainOnBatch(tf.ones([2, 4, 4, 1]), tf.oneHot(tf.tensor1d([1, 2], 'int32'), 3));
  const state: TrainState = { ...freshTrainState(3, 0.01), epochsDone: { base: 1, augment: 0 }, phasesDone: [], history: [HISTORY_ROW] };
  await saveCheckpoint(ckRun, model, optimizer, state);
  const dir = await checkpointDir(ckRun);
  assert.ok(dir);

  const files = ['state.json', 'optimizer.json', 'optimizer.bin', path.join('..', 'CURRENT'), path.join('model', 'model.json'), path.join('model', 'weights.bin')];
  const originals = new Map<string, Buffer>();
  for (const f of files) originals.set(f, await fs.readFile(path.join(dir, f)));
  const jsonOf = (f: string) => JSON.parse(originals.get(f)!.toString('utf8')) as Record<string, Json>;

  const damage = fc.constantFrom(...files).chain((f) => {
    const original = originals.get(f)!;
    const cut = fc.nat().map((n) => original.subarray(0, n % original.length));
    const json = f.endsWith('.bin') ? [] : [{ weight: 4, arbitrary: fileContent(jsonOf(f)) }];
    return fc.tuple(fc.constant(f), fc.oneof(...json, { weight: 1, arbitrary: cut }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 300 }) }));
  });
  await fc.assert(
    fc.asyncProperty(damage, async ([f, content]) => {
      const file = path.join(dir, f);
      await fs.writeFile(file, content);
      try {
        const ck = await valueOrTypedError(() => loadCheckpoint(ckRun), ['state.json', 'optimizer.json', 'optimizer.bin', 'CURRENT', 'model.json', 'weights.bin', 'model']);
        if (ck) {
          ck.model.dispose();
          ck.optimizerWeights.forEach((w) => w.tensor.dispose());
        }
      } finally {
        await fs.writeFile(file, originals.get(f)!);
      }
    }),
    { numRuns: 250 },
  );
});
