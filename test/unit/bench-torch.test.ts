/**
 * The PyTorch side of `bench`: which reference script measures which model, the --torch-script
 * flag, and bench/torch_best.py's network against the TF.js `best` it stands beside.
 */
import { describe, it, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import '@tensorflow/tfjs-backend-cpu';
import * as tf from '@tensorflow/tfjs-core';
import { buildModel, requireModelSpec } from '../../src/models/build.js';
import { PYTHON, parseTorchScriptFlag, torchAvailable, torchScripts, TORCH_REFERENCES } from '../../src/bench/torch.js';
import { UserError } from '../../src/util/errors.js';
import { REPO_ROOT, runMain } from '../helpers/cli.js';

const BEST_SCRIPT = path.join(REPO_ROOT, 'bench', 'torch_best.py');

describe('--torch-script', () => {
  it('one file applies to every model', () => {
    assert.deepEqual(parseTorchScriptFlag('my.py'), { all: 'my.py', perModel: new Map() });
  });

  it('MODEL=FILE entries replace the scripts of the models named', () => {
    const p = parseTorchScriptFlag('best=a.py, cnn1=b/c.py');
    assert.equal(p.all, undefined);
    assert.deepEqual([...p.perModel], [['best', 'a.py'], ['cnn1', 'b/c.py']]);
  });

  for (const [flag, pattern] of [
    [',', /expected a file or MODEL=FILE/],
    ['best=a.py,b.py', /"b.py" is not MODEL=FILE/],
    ['best=a.py,best=b.py', /best is named twice/],
  ] as const) {
    it(`rejects "${flag}"`, () => assert.throws(() => parseTorchScriptFlag(flag), (e: unknown) => e instanceof UserError && pattern.test(e.message)));
  }
});

describe('reference script per model', () => {
  it('best is measured by bench/torch_best.py of this package, the article\'s CNNs by the shared script', () => {
    assert.ok(existsSync(BEST_SCRIPT), BEST_SCRIPT);
    const scripts = torchScripts(['best', 'cnn1', 'resnet-mini']);
    assert.equal(scripts.get('best'), BEST_SCRIPT);
    const shared = path.resolve(TORCH_REFERENCES.find((r) => r.models.includes('cnn1'))!.file);
    assert.equal(scripts.get('cnn1'), existsSync(shared) ? shared : null, 'the shared script, where it is on this machine');
    assert.equal(scripts.get('resnet-mini'), null, 'no PyTorch equivalent');
  });

  it('an explicit script replaces the defaults, for every model or for the ones named', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'torch-script-'));
    try {
      const mine = path.join(dir, 'mine.py');
      writeFileSync(mine, '');
      const all = torchScripts(['best', 'cnn1'], mine);
      assert.deepEqual([...all.values()], [mine, mine]);
      const some = torchScripts(['best', 'resnet-mini'], `resnet-mini=${mine}`);
      assert.equal(some.get('resnet-mini'), mine);
      assert.equal(some.get('best'), BEST_SCRIPT);
      assert.throws(() => torchScripts(['best'], path.join(dir, 'absent.py')), /absent\.py: no such file/);
      assert.throws(() => torchScripts(['best'], `cnn4=${mine}`), /names cnn4, which is not among the models measured/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('bench: a --torch-script that does not exist exits 2 with one line, before any measurement', async () => {
  const r = await runMain(['bench', '--models', 'best', '--backends', 'wasm', '--torch-script', '/nonexistent/ref.py']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /--torch-script \/nonexistent\/ref\.py: no such file/);
  assert.doesNotMatch(r.stderr, /\n\s+at .+\(.+:\d+:\d+\)/, 'no stack trace');
  assert.equal(r.stdout, '');
});

const torchSkip = (await torchAvailable()) ? false : `${PYTHON} cannot import torch (../shared/bench/setup-torch.sh installs it)`;

test('bench/torch_best.py builds best layer for layer: the same parameters per layer as the TF.js model', { skip: torchSkip }, async () => {
  const { stdout } = await promisify(execFile)(PYTHON, [BEST_SCRIPT, '--describe'], { timeout: 120_000 });
  const line = stdout.split('\n').find((l) => l.startsWith('LAYERS '));
  assert.ok(line, `no LAYERS line in: ${stdout}`);
  const torch = JSON.parse(line.slice('LAYERS '.length)) as { params: number; layers: number[] };
  await tf.setBackend('cpu');
  const model = await buildModel(requireModelSpec('best'));
  try {
    const keras = model.layers.map((l) => l.countParams()).filter((n) => n > 0);
    assert.deepEqual(torch.layers, keras, 'parameters of each convolution, batch norm and dense layer, in order');
    assert.equal(torch.params, model.countParams());
  } finally {
    model.dispose();
  }
});
