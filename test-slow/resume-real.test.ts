/**
 * Exact resume at real scale (`npm run test:slow`, about 20 minutes on 2 cores): full-data runs of
 * cnn1 and cnn4 (2 + 2 epochs) are killed at several moments — mid-epoch in both phases, while a
 * checkpoint is being written, right after a checkpoint is committed — then resumed; each resumed
 * run must end with the uninterrupted run's history (to the last bit of every number but the
 * timings) and its final weights, byte for byte. Drift that takes hundreds of steps (an optimizer
 * state restored inexactly) shows here and not in the small runs of `npm test`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, watch } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, runCli } from '../test/helpers/cli.js';
import { committedCheckpoint, until as untilHolds } from '../test/helpers/run-poll.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const PROTOCOL = ['--epochs', '2', '--aug-epochs', '2', '--seed', '3', '--no-pictures'];

function start(model: string, runDir: string, resume = false): { child: ChildProcess; done: Promise<number> } {
  const args = [path.join(REPO_ROOT, 'bin/fashion-cnn.js'), 'train', '--run-dir', runDir, ...(resume ? ['--resume'] : ['--model', model, ...PROTOCOL])];
  const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d) => (stderr += d));
  const done = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : -1))));
  done.then((code) => {
    if (code !== 0 && code !== 128 && !resume) process.stderr.write(stderr);
  });
  return { child, done };
}

const committed = committedCheckpoint;
/** Resolves when `pred` holds, polling every 20 ms. */
const until = (pred: () => boolean, timeoutMs = 900_000) => untilHolds(pred, timeoutMs, '', 20);

/** The moments a run is killed at; each returns after sending the signal. */
const KILLS: Record<string, (runDir: string, child: ChildProcess) => Promise<void>> = {
  'phase 1, mid-epoch 2 (SIGKILL)': async (dir, child) => {
    await until(() => committed(dir)?.startsWith('epoch-0001') ?? false);
    await new Promise((r) => setTimeout(r, 2000));
    child.kill('SIGKILL');
  },
  'right after epoch 2 is committed (SIGTERM)': async (dir, child) => {
    await until(() => committed(dir)?.startsWith('epoch-0002') ?? false, 900_000);
    child.kill('SIGTERM');
  },
  'phase 2, mid-epoch 4 (SIGTERM)': async (dir, child) => {
    await until(() => committed(dir)?.startsWith('epoch-0003') ?? false);
    await new Promise((r) => setTimeout(r, 3000));
    child.kill('SIGTERM');
  },
  'while the checkpoint of epoch 3 is being written (SIGKILL)': async (dir, child) => {
    await until(() => committed(dir)?.startsWith('epoch-0002-1') ?? false);
    // The next folder to appear in checkpoint/ is epoch 3's, being written: kill as soon as it does.
    await new Promise<void>((resolve) => {
      const w = watch(path.join(dir, 'checkpoint'), (_e, name) => {
        if (name?.startsWith('.tmp-epoch-0003')) {
          child.kill('SIGKILL');
          w.close();
          resolve();
        }
      });
    });
  },
};

const withoutSeconds = (text: string) => text.trim().split('\n').map((l) => { const { seconds: _s, ...rest } = JSON.parse(l); return rest; });

for (const model of ['cnn1', 'cnn4']) {
  test(`${model}: every interrupted and resumed full-data run ends exactly as the uninterrupted one`, { skip: HAVE_DATA ? false : 'Fashion-MNIST not installed', timeout: 3_600_000 }, async () => {
    const base = mkdtempSync(path.join(tmpdir(), `fcnn-resume-real-${model}-`));
    const straight = path.join(base, 'straight');
    const r = await runCli(['train', '--model', model, ...PROTOCOL, '--run-dir', straight], { timeoutMs: 3_000_000 });
    assert.equal(r.code, 0, r.stderr);
    const history = withoutSeconds(readFileSync(path.join(straight, 'history.jsonl'), 'utf8'));
    const weights = readFileSync(path.join(straight, 'model', 'weights.bin'));
    const evalJson = JSON.parse(readFileSync(path.join(straight, 'eval.json'), 'utf8'));
    assert.equal(history.length, 4);

    for (const [moment, kill] of Object.entries(KILLS)) {
      const dir = path.join(base, moment.replace(/[^a-z0-9]+/gi, '-'));
      const run = start(model, dir);
      await kill(dir, run.child);
      const code = await run.done;
      assert.notEqual(code, 0, `${moment}: the run was killed before it finished`);
      const resumed = await runCli(['train', '--run-dir', dir, '--resume'], { timeoutMs: 3_000_000 });
      assert.equal(resumed.code, 0, `${moment}: ${resumed.stderr}`);
      assert.match(resumed.stderr, /resuming .* after epoch [1-3]/, moment);
      assert.deepEqual(withoutSeconds(readFileSync(path.join(dir, 'history.jsonl'), 'utf8')), history, `${moment}: history`);
      assert.ok(readFileSync(path.join(dir, 'model', 'weights.bin')).equals(weights), `${moment}: final weights`);
      const ev = JSON.parse(readFileSync(path.join(dir, 'eval.json'), 'utf8'));
      assert.deepEqual(ev.results.map((x: { test_acc: number }) => x.test_acc), evalJson.results.map((x: { test_acc: number }) => x.test_acc), `${moment}: test accuracy`);
      const left = readdirSync(path.join(dir, 'checkpoint'));
      assert.equal(left.length, 2, `${moment}: only CURRENT and the checkpoint in force remain (${left.join(', ')})`);
    }
  });
}
