/**
 * Sweeps on the real engine: a Redis server started here on a loopback port of its own, two
 * `fashion-cnn worker` processes, one killed with SIGKILL in the middle of a job (the other
 * finishes it, with the history of an uninterrupted run), one stopped with SIGTERM (it hands the
 * job back at a checkpoint), and a bad or unreachable Redis refused in one line.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { Queue } from 'bullmq';
import { runCli } from '../helpers/cli.js';
import type { RunConfig } from '../../src/runs/index.js';
import { QUEUE_NAME, type QueuedJob } from '../../src/sweep/queue.js';
import { readSweep } from '../../src/sweep/store.js';
import type { SweepJob } from '../../src/sweep/definition.js';
import { exitWithin, freePort, rows, startCli, TINY, until, type Proc } from '../helpers/sweep-cli.js';

const HAVE_DATA = existsSync('/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz');
const HAVE_REDIS = spawnSync('redis-server', ['--version']).status === 0;

let dir = '';
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'fashion-cnn-sweep-queue-'));
});
after(() => fs.rm(dir, { recursive: true, force: true }));
const start = (args: string[], env: Record<string, string> = {}, opts: { group?: boolean } = {}) => startCli(dir, args, env, opts);

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

  test("Ctrl-C in a worker's terminal (SIGINT to its whole process group): the job goes back to the queue, no attempt is spent", async () => {
    const out = path.join(dir, 'runs', 'sweeps', 'ctrl-c');
    const longer = ['--limit', '1200', '--epochs', '3', '--aug-epochs', '0', '--batch-size', '32', '--no-pictures'];
    const sweep = start(['sweep', '--models', 'cnn1', '--seeds', '8', ...longer, '--runs', path.join(dir, 'runs'), '--out', out, '--queue', url], env);
    await until(() => existsSync(path.join(dir, 'runs', '.fashion-cnn-runs.json')), 30_000, 'the runs marker');
    const a = start(['worker', '--queue', url, '--runs', path.join(dir, 'runs')], env, { group: true });
    workers.push(a);
    await until(() => /cnn1-s8: started/.test(a.output()), 60_000, 'the job on worker a');
    await until(async () => existsSync(path.join(out, 'cnn1-s8', 'config.json')), 60_000, 'the run');
    process.kill(-a.child.pid!, 'SIGINT');
    assert.equal(await exitWithin(a, 60_000, 'worker a'), 0, a.output());
    assert.match(a.output(), /cnn1-s8: stopped at its last checkpoint; handed back to the queue/);
    assert.doesNotMatch(a.output(), /failed/);
    const b = start(['worker', '--queue', url, '--runs', path.join(dir, 'runs')], env);
    workers.push(b);
    assert.equal(await exitWithin(sweep, 120_000, 'the sweep'), 0, sweep.output());
    assert.match(b.output(), /cnn1-s8: started \(attempt 1 of/, 'the handed-back job did not count as a failed attempt');
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

  test('a distilled job: its teacher travels relative to the runs folder, and a worker that mounts the folder elsewhere finds it there', async () => {
    const runs = path.join(dir, 'runs');
    const teacher = path.join(runs, 'teachers', 'cnn1-s3');
    const t = await runCli(['train', '--model', 'cnn1', '--seed', '3', ...TINY, '--run-dir', teacher], { cwd: dir });
    assert.equal(t.code, 0, t.stderr);

    const refused = await runCli(['sweep', '--models', 'cnn1', ...TINY, '--teacher', path.join(dir, 'elsewhere'), '--runs', runs, '--out', path.join(runs, 'sweeps', 'refused'), '--queue', url], { cwd: dir, env, timeoutMs: 30_000 });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr.trim(), /^fashion-cnn: --teacher \S+elsewhere is not inside --runs \S+: workers on other machines find a teacher in the shared runs folder$/);
    assert.ok(!existsSync(path.join(runs, 'sweeps', 'refused')), 'nothing recorded for a sweep whose teacher the workers cannot reach');

    // Another path to the same folder stands for another machine's mount point.
    const mount = path.join(dir, 'mount');
    await fs.symlink(runs, mount);
    const out = path.join(runs, 'sweeps', 'distilled');
    const sweep = start(['sweep', '--models', 'cnn1', '--seeds', '4', ...TINY, '--teacher', teacher, '--runs', runs, '--out', out, '--queue', url], env);
    await until(() => /1 runs queued/.test(sweep.output()), 30_000, 'the queued job');
    const queue = new Queue<QueuedJob>(QUEUE_NAME, { connection: { host: '127.0.0.1', port: Number(new URL(url).port) } });
    try {
      const queued = (await queue.getJobs(['waiting', 'active'])).find((j) => j.data.job.id === 'cnn1-s4');
      assert.deepEqual(queued?.data.job.hyper.distill?.teacher, [path.join('teachers', 'cnn1-s3')]);
    } finally {
      await queue.close();
    }
    const w = start(['worker', '--queue', url, '--runs', mount], env);
    workers.push(w);
    assert.equal(await sweep.exited, 0, sweep.output());
    assert.ok(w.output().includes(`teacher: ${path.join(mount, 'teachers', 'cnn1-s3')}`), w.output());
    const stored = JSON.parse(await fs.readFile(path.join(out, 'cnn1-s4', 'config.json'), 'utf8')) as RunConfig;
    assert.deepEqual(stored.hyper.distill?.teacher, [path.join('..', '..', '..', 'teachers', 'cnn1-s3')]);
    assert.deepEqual(stored.teacher?.members.map((m) => m.runDir), [path.join('..', '..', '..', 'teachers', 'cnn1-s3')]);
    // sweep.json names it relative to the sweep's folder too, and reads back absolute.
    const sweepFile = JSON.parse(await fs.readFile(path.join(out, 'sweep.json'), 'utf8')) as { jobs: SweepJob[] };
    assert.deepEqual(sweepFile.jobs[0].hyper.distill?.teacher, [path.join('..', '..', 'teachers', 'cnn1-s3')]);
    assert.deepEqual((await readSweep(out))?.jobs[0].hyper.distill?.teacher, [teacher]);
    w.child.kill('SIGTERM');
    await w.exited;
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
