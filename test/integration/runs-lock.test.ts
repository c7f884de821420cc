/** The run locks (src/runs/lock.ts): one training per run, stale locks taken over, eval.json updates serialised. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { LOCK_TIMING, lockRunForTraining, refuseWhileTraining, runLockHolder, RunFileCorruptError, RunLockedError, withUpdateLock } from '../../src/runs/index.js';

const fresh = (name: string) => path.join(mkdtempSync(path.join(tmpdir(), `fcnn-lock-${name}-`)), 'run');
const lockFile = (runDir: string) => path.join(runDir, 'train.lock');
const holderPid = (runDir: string) => (JSON.parse(readFileSync(lockFile(runDir), 'utf8')) as { pid: number }).pid;
const LOCK_MODULE = fileURLToPath(new URL('../../src/runs/lock.js', import.meta.url));

/** A lock file as another process would have left it. */
function writeLock(runDir: string, holder: Record<string, unknown>): void {
  mkdirSync(runDir, { recursive: true });
  writeFileSync(lockFile(runDir), JSON.stringify({ host: os.hostname(), since: '2026-01-01T00:00:00.000Z', ...holder }) + '\n');
}

const deadPid = () => spawnSync(process.execPath, ['-e', '']).pid!;

test('a run locked for training: a second taker is refused in one line naming the holder; released, it is free again', async () => {
  const runDir = fresh('twice');
  mkdirSync(runDir);
  const lock = await lockRunForTraining(runDir, { create: true });
  assert.equal(holderPid(runDir), process.pid);
  const refusal = new RegExp(`^${runDir.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: is being trained by process ${process.pid} \\(since \\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\dZ\\); wait for it or stop it$`);
  await assert.rejects(lockRunForTraining(runDir, { create: false }), (e: unknown) => e instanceof RunLockedError && refusal.test(e.message));
  await assert.rejects(refuseWhileTraining(runDir), RunLockedError);
  assert.equal((await runLockHolder(runDir))?.pid, process.pid);
  await lock.release();
  assert.ok(!existsSync(lockFile(runDir)));
  assert.equal(await runLockHolder(runDir), null);
  await refuseWhileTraining(runDir);
  await (await lockRunForTraining(runDir, { create: false })).release();
});

test('takers at the same moment: exactly one gets the lock', async () => {
  const runDir = fresh('race');
  const results = await Promise.allSettled(Array.from({ length: 6 }, () => lockRunForTraining(runDir, { create: true })));
  const won = results.filter((r) => r.status === 'fulfilled');
  assert.equal(won.length, 1);
  assert.ok(results.every((r) => r.status === 'fulfilled' || r.reason instanceof RunLockedError));
  await (won[0] as PromiseFulfilledResult<{ release(): Promise<void> }>).value.release();
});

test('a new run\'s folder made for the lock is removed with it when nothing was written in it', async () => {
  const empty = fresh('empty');
  await (await lockRunForTraining(empty, { create: true })).release();
  assert.ok(!existsSync(empty), 'an empty folder made for the lock is removed');
  const used = fresh('used');
  const lock = await lockRunForTraining(used, { create: true });
  writeFileSync(path.join(used, 'config.json'), '{}');
  await lock.release();
  assert.ok(existsSync(path.join(used, 'config.json')), 'a folder holding a record stays');
  await assert.rejects(lockRunForTraining(fresh('resume'), { create: false }), /does not exist/);
});

test('stale locks are taken over with a note: a process that ended, a pid now of a later process, a damaged file', async () => {
  const notes: string[] = [];
  const log = (l: string) => notes.push(l);
  const stale: [string, (runDir: string) => void, RegExp][] = [
    ['ended', (d) => writeLock(d, { pid: deadPid() }), /^note: \S+: took over the lock of process \d+ \(since 2026-01-01T00:00:00Z\), which no longer runs$/],
    // This very process, but not the one that took the lock: its start time differs.
    ['reused', (d) => writeLock(d, { pid: process.pid, start: 'an-earlier-process' }), new RegExp(`^note: \\S+: took over the lock of process ${process.pid} \\(since 2026-01-01T00:00:00Z\\), which no longer runs$`)],
    ['damaged', (d) => { mkdirSync(d); writeFileSync(lockFile(d), '{"pid": '); }, /^note: \S+: took over \S+train\.lock, which names no process \(damaged\)$/],
  ];
  for (const [name, make, note] of stale) {
    const runDir = fresh(name);
    make(runDir);
    assert.equal(await runLockHolder(runDir), null, `${name}: no process trains the run`);
    notes.length = 0;
    const lock = await lockRunForTraining(runDir, { create: false, log });
    assert.equal(notes.length, 1, name);
    assert.match(notes[0], note);
    assert.equal(holderPid(runDir), process.pid, `${name}: the lock is ours now`);
    await lock.release();
  }
});

test('a lock taken on another host is respected (it cannot be checked from here), and the refusal says how to remove it', async () => {
  const runDir = fresh('elsewhere');
  writeLock(runDir, { pid: 4242, host: 'elsewhere.example' });
  assert.equal((await runLockHolder(runDir))?.host, 'elsewhere.example');
  await assert.rejects(lockRunForTraining(runDir, { create: false }), (e: unknown) => e instanceof RunLockedError && e.message.endsWith(`is being trained by process 4242 on elsewhere.example (since 2026-01-01T00:00:00Z); wait for it or stop it (this host cannot tell whether it still runs: if it does not, remove ${lockFile(runDir)})`));
  const dirLock = fresh('dir-lock');
  mkdirSync(lockFile(dirLock), { recursive: true });
  await assert.rejects(lockRunForTraining(dirLock, { create: false }), (e: unknown) => e instanceof RunFileCorruptError && /train\.lock is damaged: is a directory/.test(e.message));
});

/** Runs `script` (an ES module body with `lock` the lock module and `runDir`) in a child process. */
function child(runDir: string, script: string) {
  const code = `const lock = await import(${JSON.stringify(LOCK_MODULE)}); const runDir = ${JSON.stringify(runDir)};\n${script}`;
  const p = spawn(process.execPath, ['--input-type=module', '-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  p.stdout.on('data', (d) => (out += d));
  p.stderr.on('data', (d) => (err += d));
  const locked = new Promise<void>((resolve, reject) => {
    p.stdout.on('data', () => out.includes('locked') && resolve());
    p.on('exit', () => reject(new Error(`the child ended before it locked: ${err}`)));
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string; err: string }>((resolve) => p.on('exit', (code, signal) => resolve({ code, signal, out, err })));
  return { p, locked, exited };
}

test('a process lets go of its lock when it exits, fails, or is stopped by SIGINT/SIGTERM (and still dies of the signal); after SIGKILL the lock is stale', async () => {
  const take = `await lock.lockRunForTraining(runDir, { create: true }); process.stdout.write('locked\\n');`;
  const ends: [string, string, NodeJS.Signals | null, (c: ReturnType<typeof child>) => void][] = [
    ['exit', `${take} process.exit(0);`, null, () => {}],
    ['throw', `${take} throw new Error('boom');`, null, () => {}],
    ['sigint', `${take} setInterval(() => {}, 1000);`, 'SIGINT', (c) => c.p.kill('SIGINT')],
    ['sigterm', `${take} setInterval(() => {}, 1000);`, 'SIGTERM', (c) => c.p.kill('SIGTERM')],
  ];
  for (const [name, script, signal, stop] of ends) {
    const runDir = fresh(name);
    mkdirSync(runDir);
    const c = child(runDir, script);
    await c.locked;
    stop(c);
    const end = await c.exited;
    assert.equal(end.signal, signal, `${name}: ${end.err}`);
    assert.ok(!existsSync(lockFile(runDir)), `${name}: the lock is released`);
  }
  const runDir = fresh('sigkill');
  mkdirSync(runDir);
  const c = child(runDir, `${take} setInterval(() => {}, 1000);`);
  await c.locked;
  assert.equal((await runLockHolder(runDir))?.pid, c.p.pid);
  c.p.kill('SIGKILL');
  await c.exited;
  assert.ok(existsSync(lockFile(runDir)), 'a SIGKILL leaves the lock');
  assert.equal(await runLockHolder(runDir), null, 'stale: its process is gone');
});

test('processes racing to take over one stale lock: exactly one gets it', async () => {
  const runDir = fresh('stale-race');
  writeLock(runDir, { pid: deadPid() });
  const racers = Array.from({ length: 4 }, () =>
    child(runDir, `try { await lock.lockRunForTraining(runDir, { create: false }); process.stdout.write('locked\\n'); setTimeout(() => process.exit(0), 1500); } catch (e) { process.stdout.write(e.name + '\\n'); }`),
  );
  const ends = await Promise.all(racers.map((r) => (r.locked.catch(() => {}), r.exited)));
  assert.deepEqual(ends.map((e) => e.out.trim()).sort(), ['RunLockedError', 'RunLockedError', 'RunLockedError', 'locked'], ends.map((e) => e.err).join('\n'));
});

test('an update lock makes a second writer wait, and gives up after a while naming the holder', async () => {
  const file = path.join(fresh('update'), 'eval.json');
  mkdirSync(path.dirname(file));
  const order: string[] = [];
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await Promise.all([
    withUpdateLock(file, async () => {
      order.push('first in');
      await sleep(100);
      order.push('first out');
    }),
    sleep(10).then(() => withUpdateLock(file, async () => order.push('second'))),
  ]);
  assert.deepEqual(order, ['first in', 'first out', 'second']);
  const saved = LOCK_TIMING.updateTimeoutMs;
  LOCK_TIMING.updateTimeoutMs = 50;
  try {
    await Promise.all([
      withUpdateLock(file, () => sleep(400)),
      sleep(10).then(() => assert.rejects(withUpdateLock(file, async () => {}), new RegExp(`eval\\.json is being updated by process ${process.pid} \\(since .*\\); try again when it is done$`))),
    ]);
  } finally {
    LOCK_TIMING.updateTimeoutMs = saved;
  }
  assert.ok(!existsSync(`${file}.lock`));
});
