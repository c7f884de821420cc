/**
 * Sweeps: the expansion and the summary (pure), a local sweep that resumes and refuses a changed
 * definition, and the real engine: a Redis server started here on a loopback port of its own,
 * two `fashion-cnn worker` processes, one killed with SIGKILL in the middle of a job (the other
 * finishes it, with the history of an uninterrupted run), one stopped with SIGTERM (it hands the
 * job back at a checkpoint), and a bad or unreachable Redis refused in one line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { readHistory } from '../../src/runs/index.js';
import { configName, definitionDifference, gridCombinations } from '../../src/sweep/definition.js';
import { meanStd } from '../../src/sweep/summary.js';
import { REPO_ROOT, runCli } from '../helpers/cli.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;
const BIN = path.join(REPO_ROOT, 'bin/fashion-cnn.js');

let dir = '';
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fashion-cnn-sweep-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));

/** Tiny jobs: cnn1 on 600 images, 3 epochs of 19 steps (long enough to be killed in the middle). */
const TINY = ['--limit', '600', '--epochs', '2', '--aug-epochs', '1', '--batch-size', '32', '--no-pictures'];
const rows = async (run: string) => (await readHistory(run)).map(({ seconds: _s, ...r }) => r);

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
    // best on 1,024 images: an epoch lasts a few seconds, long enough to be in the middle of one.
    const slow = ['--models', 'best', '--limit', '1024', '--epochs', '2', '--aug-epochs', '0', '--batch-size', '64', '--no-pictures'];
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
    const sweep = start(['sweep', ...slow, '--seeds', '1,2', '--out', termed]);
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
    const victim = start(['sweep', ...slow, '--seeds', '3', '--out', killed]);
    await until(() => existsSync(path.join(killed, 'best-s3', 'config.json')), 60_000, 'the job');
    const [job] = childrenOf(victim.child.pid!);
    assert.ok(job, 'the job runs in a child process');
    victim.child.kill('SIGKILL');
    const t0 = Date.now();
    await until(() => !running(job), 10_000, 'the orphaned job to end');
    assert.ok(Date.now() - t0 < 5_000, `the job ended ${Date.now() - t0} ms after its sweep`);
    assert.equal((await rows(path.join(killed, 'best-s3'))).length, 0, 'it ended mid-epoch, without finishing it');
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

// ---------------------------------------------------------------------------------------------
// the real engine

/** A free loopback port. */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
}

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(args: string[], env: Record<string, string> = {}): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (d) => (text += d));
  child.stderr!.on('data', (d) => (text += d));
  const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
  return { child, output: () => text, exited };
}

async function until(ok: () => boolean | Promise<boolean>, ms = 120_000, what = 'condition'): Promise<void> {
  for (const t0 = Date.now(); !(await ok()); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('sweeps on BullMQ and Redis', { skip: !HAVE_DATA ? 'Fashion-MNIST not installed' : !HAVE_REDIS ? 'redis-server not installed (apt-get install redis-server)' : false }, () => {
  let redis: ChildProcess;
  let url = '';
  const workers: Proc[] = [];
  // Workers that lose a job (killed) give it up after 3 s instead of BullMQ's 30.
  const env = { FASHION_CNN_QUEUE_LOCK_MS: '3000' };

  before(async () => {
    const port = await freePort();
    redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    url = `redis://127.0.0.1:${port}`;
    await until(() => new Promise((r) => net.connect(port, '127.0.0.1').on('connect', function (this: net.Socket) { this.end(); r(true); }).on('error', () => r(false))), 10_000, 'redis-server');
  });
  after(async () => {
    for (const w of workers) w.child.kill('SIGKILL');
    redis?.kill('SIGTERM');
  });

  test('two workers; one killed (SIGKILL) in the middle of a job: the other finishes it with the history of an uninterrupted run', async () => {
    const out = path.join(dir, 'runs', 'sweeps', 'killed');
    const sweep = start(['sweep', '--models', 'cnn1', '--seeds', '5,6', ...TINY, '--runs', path.join(dir, 'runs'), '--out', out, '--queue', url], env);
    await until(() => existsSync(path.join(dir, 'runs', '.fashion-cnn-runs.json')), 30_000, 'the runs marker');
    const a = start(['worker', '--queue', url, '--runs', path.join(dir, 'runs')], env);
    workers.push(a);
    // Worker a takes the first job; once its first epoch is recorded, b starts and a is killed mid-epoch.
    await until(() => /cnn1-s5: started/.test(a.output()) || /cnn1-s6: started/.test(a.output()), 60_000, 'a job on worker a');
    const victim = /cnn1-s5: started/.test(a.output()) ? 'cnn1-s5' : 'cnn1-s6';
    await until(async () => (await fs.readFile(path.join(out, victim, 'history.jsonl'), 'utf8').catch(() => '')).split('\n').length > 1, 60_000, 'an epoch of the victim');
    const b = start(['worker', '--queue', url, '--runs', path.join(dir, 'runs')], env);
    workers.push(b);
    a.child.kill('SIGKILL');
    assert.equal(await sweep.exited, 0, sweep.output());
    assert.match(b.output(), new RegExp(`${victim}: started`), 'the killed job went to worker b');
    const straight = path.join(dir, `straight-${victim}`);
    const r = await runCli(['train', '--model', 'cnn1', '--seed', victim.endsWith('5') ? '5' : '6', ...TINY, '--run-dir', straight], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await rows(path.join(out, victim)), await rows(straight));
    b.child.kill('SIGTERM');
    assert.equal(await b.exited, 0, b.output());
  });

  test('SIGTERM: the worker checkpoints the job under way and hands it back; another worker finishes it', async () => {
    const out = path.join(dir, 'runs', 'sweeps', 'termed');
    const longer = ['--limit', '1200', '--epochs', '3', '--aug-epochs', '0', '--batch-size', '32', '--no-pictures'];
    const sweep = start(['sweep', '--models', 'cnn1', '--seeds', '7', ...longer, '--runs', path.join(dir, 'runs'), '--out', out, '--queue', url], env);
    const a = start(['worker', '--queue', url, '--runs', path.join(dir, 'runs')], env);
    workers.push(a);
    await until(() => /cnn1-s7: started/.test(a.output()), 60_000, 'the job on worker a');
    await until(async () => existsSync(path.join(out, 'cnn1-s7', 'config.json')), 60_000, 'the run');
    a.child.kill('SIGTERM');
    assert.equal(await a.exited, 0, a.output());
    assert.match(a.output(), /cnn1-s7: stopped at its last checkpoint; handed back to the queue/);
    const b = start(['worker', '--queue', url, '--runs', path.join(dir, 'runs')], env);
    workers.push(b);
    assert.equal(await sweep.exited, 0, sweep.output());
    assert.match(b.output(), /cnn1-s7: started/);
    const straight = path.join(dir, 'straight-termed');
    const r = await runCli(['train', '--model', 'cnn1', '--seed', '7', ...longer, '--run-dir', straight], { cwd: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(await rows(path.join(out, 'cnn1-s7')), await rows(straight));
    b.child.kill('SIGTERM');
    await b.exited;
  });

  test('the same sweep again resumes: nothing is queued or trained twice', async () => {
    const out = path.join(dir, 'runs', 'sweeps', 'killed');
    const again = await runCli(['sweep', '--models', 'cnn1', '--seeds', '5,6', ...TINY, '--runs', path.join(dir, 'runs'), '--out', out, '--queue', url], { cwd: dir, env, timeoutMs: 30_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /2 runs in \S+, 2 already done/);
    assert.match(again.stderr, /0 runs queued/);
  });

  test('a bad Redis URL, a refused connection and a server that never answers: one line each, no hang', async () => {
    const silent = net.createServer(() => {});
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const closedPort = await freePort();
    const cases: [string[], RegExp][] = [
      [['sweep', '--models', 'cnn1', '--queue', 'http://127.0.0.1:6379'], /^fashion-cnn: --queue http:\/\/127\.0\.0\.1:6379: not a redis:\/\/ URL \(expected redis:\/\/host:port\)$/],
      [['worker', '--queue', 'redis//nowhere', '--runs', path.join(dir, 'runs')], /^fashion-cnn: --queue redis\/\/nowhere: not a URL \(expected redis:\/\/host:port\)$/],
      [['sweep', '--models', 'cnn1', '--out', path.join(dir, 'refused'), '--queue', `redis://127.0.0.1:${closedPort}`], /^fashion-cnn: --queue redis:\/\/127\.0\.0\.1:\d+: cannot reach Redis \(connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/],
      [['worker', '--queue', `redis://127.0.0.1:${silentPort}`, '--runs', path.join(dir, 'runs')], /^fashion-cnn: --queue redis:\/\/127\.0\.0\.1:\d+: cannot reach Redis \(no answer within 5 s\)$/],
      [['worker', '--queue', url, '--runs', path.join(dir, 'no-runs-here')], /^fashion-cnn: --runs \S+: no such folder \(mount the runs folder the sweep uses\)$/],
    ];
    try {
      // All at once: each waits on its own connection.
      await Promise.all(cases.map(async ([args, line]) => {
        const t0 = Date.now();
        const r = await runCli(args, { cwd: dir, timeoutMs: 20_000 });
        assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
        assert.match(r.stderr.trim(), line);
        assert.ok(Date.now() - t0 < 15_000, `${args.join(' ')} answered within 15 s`);
      }));
      assert.ok(!existsSync(path.join(dir, 'refused')), 'nothing recorded for a sweep whose queue is unreachable');
    } finally {
      silent.close();
    }
  });
});
