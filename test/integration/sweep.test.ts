/**
 * Sweeps: the expansion and the summary (pure), and a local sweep that resumes, refuses a changed
 * definition, marks a job that keeps dying failed, and stops cleanly on SIGTERM; its records
 * through the API. The sweep on a queue is sweep-queue.test.ts's (a file of its own, so that its
 * waits overlap other tests).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { configName, definitionDifference, gridCombinations } from '../../src/sweep/definition.js';
import { meanStd } from '../../src/sweep/summary.js';
import { runCli } from '../helpers/cli.js';
import { rows, startCli, TINY, until } from '../helpers/sweep-cli.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');

let dir = '';
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fashion-cnn-sweep-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));
const start = (args: string[], env: Record<string, string> = {}, opts: { group?: boolean } = {}) => startCli(dir, args, env, opts);
// best on 1,024 images: an epoch lasts a few seconds, long enough to be in the middle of one.
const SLOW = ['--models', 'best', '--limit', '1024', '--epochs', '2', '--aug-epochs', '0', '--batch-size', '64', '--no-pictures'];

describe('the definition and the summary', () => {
  test('every combination of the grid, in order; names made of safe characters', () => {
    assert.deepEqual(gridCombinations([['lr', [0.1, 0.2]], ['label-smoothing', [0, 0.1]]]), [
      { lr: 0.1, 'label-smoothing': 0 },
      { lr: 0.1, 'label-smoothing': 0.1 },
      { lr: 0.2, 'label-smoothing': 0 },
      { lr: 0.2, 'label-smoothing': 0.1 },
    ]);
    assert.deepEqual(gridCombinations([]), [{}]);
    assert.equal(configName('cnn3', { lr: 0.001, 'lr-schedule': 'cosine:0.0001' }), 'cnn3-lr0.001-lr-schedulecosine_0.0001');
  });

  test('a changed definition is named in one phrase; the same one is none', () => {
    const d = { models: ['cnn1'], seeds: [1, 2], grid: [['lr', [0.1]]] as [string, number[]][], flags: ['--limit 600'] };
    assert.equal(definitionDifference(d, { ...d }), null);
    assert.equal(definitionDifference(d, { ...d, seeds: [1, 2, 3] }), 'seeds 1 2 3 (recorded: 1 2)');
    assert.equal(definitionDifference(d, { ...d, grid: [['lr', [0.2]]] }), 'grid lr=0.2 (recorded: lr=0.1)');
  });

  test('mean and sample standard deviation', () => {
    assert.deepEqual(meanStd([]), null);
    assert.deepEqual(meanStd([0.9]), { mean: 0.9, std: 0, n: 1 });
    const m = meanStd([0.9, 0.92, 0.94])!;
    assert.ok(Math.abs(m.mean - 0.92) < 1e-12 && Math.abs(m.std - 0.02) < 1e-12);
  });
});

describe('a local sweep', { skip: HAVE_DATA ? false : 'Fashion-MNIST not installed' }, () => {
  test('runs every job as `train` would, writes the summary, resumes, and refuses a changed definition', async () => {
    const out = path.join(dir, 'runs', 'sweeps', 'local');
    const args = ['sweep', '--models', 'cnn1', '--seeds', '1,2', '--grid', 'lr=0.001,0.002', ...TINY, '--out', out];
    const first = await runCli(args, { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    const record = JSON.parse(await fs.readFile(path.join(out, 'sweep.json'), 'utf8')) as { summary: { counts: { done: number }; configs: { config: string; testAcc: { n: number } }[] } };
    assert.equal(record.summary.counts.done, 4);
    assert.deepEqual(record.summary.configs.map((c) => [c.config, c.testAcc.n]), [['cnn1-lr0.001', 2], ['cnn1-lr0.002', 2]]);
    const md = await fs.readFile(path.join(out, 'sweep.md'), 'utf8');
    assert.match(md, /\| cnn1-lr0\.001 \(baseline\) \| 2\/2 \| \d+\.\d\d ± \d+\.\d\d \|/);
    assert.match(md, /\| cnn1-lr0\.002 \| 2\/2 \| .* \| [+-]\d+\.\d\d \|/);
    // A job is an ordinary run: the same history as `fashion-cnn train` with the same flags.
    const straight = path.join(dir, 'straight');
    const train = await runCli(['train', '--model', 'cnn1', '--seed', '2', '--lr', '0.002', ...TINY, '--run-dir', straight], { cwd: dir });
    assert.equal(train.code, 0, train.stderr);
    assert.deepEqual(await rows(path.join(out, 'cnn1-lr0.002-s2')), await rows(straight));

    const again = await runCli(args, { cwd: dir });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /4 runs in \S+, 4 already done/);
    assert.doesNotMatch(again.stderr, /backend: /, 'no job trains again');

    const changed = await runCli([...args.slice(0, 4), '1,2,3', ...args.slice(5)], { cwd: dir });
    assert.equal(changed.code, 2);
    assert.match(changed.stderr.trim(), /^fashion-cnn: \S+ holds another sweep: seeds 1 2 3 \(recorded: 1 2\); give another --out, or the recorded definition to resume it$/);
  });

  test('a job whose process dies three times is marked failed with its error; the other jobs go on and the sweep exits 1', async () => {
    const out = path.join(dir, 'crashing');
    const sweep = start(['sweep', '--models', 'cnn1', '--seeds', '3,4', ...TINY, '--out', out]);
    // Seed 3 runs first: its process is killed as soon as it starts, three times. Only this sweep's
    // own job processes (its children): a sweep training elsewhere on the machine is left alone.
    const jobProcesses = () => spawnSync('pgrep', ['-P', String(sweep.child.pid), '-f', 'sweep/job-process.js']).stdout.toString().split('\n').filter(Boolean).map(Number);
    for (let kill = 1; kill <= 3; kill++) {
      await until(() => (sweep.output().match(/cnn1-s3: attempt \d of 3 failed/g) ?? []).length === kill - 1 && jobProcesses().length > 0, 60_000, `attempt ${kill} running`);
      for (const pid of jobProcesses()) process.kill(pid, 'SIGKILL');
    }
    assert.equal(await sweep.exited, 1, sweep.output());
    assert.match(sweep.output(), /cnn1-s3: attempt 3 of 3 failed: the job's process ended with SIGKILL/);
    const record = JSON.parse(await fs.readFile(path.join(out, 'sweep.json'), 'utf8')) as { summary: { runs: { id: string; state: string; error?: string }[] } };
    assert.deepEqual(record.summary.runs.map((r) => [r.id, r.state]), [['cnn1-s3', 'failed'], ['cnn1-s4', 'done']]);
    assert.match(record.summary.runs[0].error ?? '', /SIGKILL/);
    assert.match(await fs.readFile(path.join(out, 'sweep.md'), 'utf8'), /\| cnn1-s3 \| cnn1 \| 3 \| — \| failed: the job's process ended with SIGKILL/);
  });

  test('SIGTERM stops a local sweep once the epoch under way is checkpointed; a killed sweep leaves no job training', async () => {
    const childrenOf = (pid: number) => spawnSync('pgrep', ['-P', String(pid)]).stdout.toString().split('\n').filter(Boolean).map(Number);
    // Alive: it exists and is not a zombie (an orphan's parent is whatever reaps it, if anything does).
    const running = (pid: number) => {
      try {
        return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      } catch {
        return false;
      }
    };

    const termed = path.join(dir, 'termed-local');
    const sweep = start(['sweep', ...SLOW, '--seeds', '1,2', '--out', termed]);
    await until(() => existsSync(path.join(termed, 'best-s1', 'config.json')), 60_000, 'the first job');
    sweep.child.kill('SIGTERM');
    assert.equal(await sweep.exited, 128 + os.constants.signals.SIGTERM, sweep.output());
    assert.match(sweep.output(), /sweep: SIGTERM: the runs under way stop once their epoch is checkpointed/);
    assert.match(sweep.output(), /best-s1: stopped at its last checkpoint/);
    assert.match(sweep.output(), /sweep termed-local: stopped with 0 of 2 runs done; written: .*; the same command resumes it/);
    assert.equal((await rows(path.join(termed, 'best-s1'))).length, 1, 'the epoch under way was finished and recorded');
    assert.ok(existsSync(path.join(termed, 'best-s1', 'checkpoint', 'CURRENT')), 'and checkpointed');
    assert.ok(!existsSync(path.join(termed, 'best-s2')), 'no other job started');
    assert.ok(!existsSync(path.join(termed, 'best-s1', 'train.lock')), 'the run is free to resume');

    // SIGKILL: the job's process sees its channel close within a step or two and ends, mid-epoch.
    const killed = path.join(dir, 'killed-local');
    const victim = start(['sweep', ...SLOW, '--seeds', '3', '--out', killed]);
    await until(() => existsSync(path.join(killed, 'best-s3', 'config.json')), 60_000, 'the job');
    const [job] = childrenOf(victim.child.pid!);
    assert.ok(job, 'the job runs in a child process');
    victim.child.kill('SIGKILL');
    const t0 = Date.now();
    await until(() => !running(job), 10_000, 'the orphaned job to end');
    assert.ok(Date.now() - t0 < 5_000, `the job ended ${Date.now() - t0} ms after its sweep`);
    assert.equal((await rows(path.join(killed, 'best-s3'))).length, 0, 'it ended mid-epoch, without finishing it');
  });

  test("Ctrl-C in a terminal (SIGINT to the sweep's whole process group) stops it as SIGTERM does: no job fails", async () => {
    const out = path.join(dir, 'ctrl-c-local');
    const sweep = start(['sweep', ...SLOW, '--seeds', '5', '--out', out], {}, { group: true });
    await until(() => existsSync(path.join(out, 'best-s5', 'config.json')), 60_000, 'the job');
    process.kill(-sweep.child.pid!, 'SIGINT');
    assert.equal(await sweep.exited, 128 + os.constants.signals.SIGINT, sweep.output());
    assert.match(sweep.output(), /best-s5: stopped at its last checkpoint/);
    assert.doesNotMatch(sweep.output(), /failed/);
    assert.equal((await rows(path.join(out, 'best-s5'))).length, 1, 'the epoch under way was finished and recorded');
    assert.ok(!existsSync(path.join(out, 'best-s5', 'train.lock')), 'the run is free to resume');
  });

  test('the API: GET /api/sweeps, GET /api/sweeps/{id} (no filesystem path in it) and its event stream', async () => {
    const { buildServer } = await import('../../src/serve/index.js');
    const server = await buildServer({ runsDir: path.join(dir, 'runs'), port: 0, token: 'sweep-test' });
    try {
      const list = JSON.parse((await server.app.inject({ url: '/api/sweeps' })).body) as { sweeps: { id: string; createdAt: string; runs: number; counts: { done: number } }[] };
      const local = list.sweeps.find((s) => s.id === 'local')!;
      assert.deepEqual(local, { id: 'local', createdAt: local.createdAt, runs: 4, counts: { pending: 0, running: 0, done: 4, failed: 0 }, models: ['cnn1'] });
      const one = await server.app.inject({ url: '/api/sweeps/local' });
      assert.equal(one.statusCode, 200);
      assert.ok(!one.body.includes(dir), 'no filesystem path');
      const s = JSON.parse(one.body) as { configs: { config: string; testAcc: { n: number } }[]; jobs: { id: string; state: string }[] };
      assert.deepEqual(s.configs.map((c) => c.config), ['cnn1-lr0.001', 'cnn1-lr0.002']);
      assert.ok(s.jobs.every((j) => j.state === 'done'));
      assert.equal((await server.app.inject({ url: '/api/sweeps/nope' })).statusCode, 404);
      assert.equal((await server.app.inject({ url: '/api/sweeps/a%20b' })).statusCode, 400);
      const address = await server.app.listen({ port: 0, host: '127.0.0.1' });
      const text = await (await fetch(`${address}/api/sweeps/local/events`)).text();
      assert.match(text, /^event: summary\ndata: \{/);
      assert.match(text, /event: end\ndata: \{"type":"end","status":"done"\}/);
    } finally {
      await server.shutdown();
    }
  });
});
