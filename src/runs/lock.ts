/**
 * Locks on a run directory, so that two processes never write one run at once.
 *
 * - The training lock, `train.lock`: held for the whole life of a training (`train`, `train
 *   --resume`, `compare`, the server's training worker: all through trainRun). Another training of
 *   the run, and `evaluate`, are refused with one line naming the holder's process.
 * - Update locks, `<file>.lock`: held for the few milliseconds of a read-modify-write of a file
 *   that several processes write (eval.json); another writer waits for it.
 *
 * A lock file names its holder: process id, host, the process's start time, when it was taken and
 * a random id. A lock whose process is gone (or whose pid now belongs to a process that started
 * later: pids are reused) is stale, and the next taker takes it over, saying so. A lock taken on
 * another host cannot be checked from here: it is respected, and the refusal says how to remove it.
 * A process releases its locks when it ends normally, on an error, and on SIGINT/SIGTERM/SIGHUP;
 * only a SIGKILL (or a crash of the machine) leaves a stale lock behind.
 *
 * Written here rather than taken from a library: proper-lockfile, the usual npm choice, records no
 * process id (so a refusal could not name the holder) and judges staleness by an mtime the holder
 * must keep refreshing from a timer, which a training busy in a long synchronous kernel cannot
 * promise. The lock file is made with link(2) from a complete temp file: like an exclusive create
 * (open 'wx') it fails with EEXIST when the lock is taken, but the file appears with its whole
 * content, so a reader never sees the empty file a 'wx' create shows until its write lands.
 */
import { readFileSync, rmdirSync, unlinkSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { makeDirs } from '../util/atomic.js';
import { UserError, errorMessage } from '../util/errors.js';
import { RunFileCorruptError, RunNotFoundError } from './errors.js';
import { runPath } from './files.js';
import { requireRunDir, requireRunDirOrNothing } from './read.js';

/** What a lock file holds. */
export interface LockHolder {
  pid: number;
  host: string;
  /** When the process started (boot id and start time from /proc), to tell it from a later process given the same pid; null where /proc is not available. */
  start: string | null;
  /** When the lock was taken (ISO 8601). */
  since: string;
  /** Tells two takings of the lock apart, even by one process. */
  id: string;
}

/** A lock this process holds. */
export interface HeldLock {
  readonly file: string;
  release(): Promise<void>;
}

export const LOCK_TIMING = {
  /** How often a writer waiting for an update lock looks again, ms. */
  updatePollMs: 20,
  /** How long it waits before giving up, ms (an update holds its lock for milliseconds). */
  updateTimeoutMs: 30_000,
  /** How many rounds a taker loses to others (the lock released or taken over under it) before giving up. */
  maxAttempts: 100,
};

/** A run being trained by another process, or a lock file that names one. */
export class RunLockedError extends UserError {
  constructor(readonly runDir: string, readonly holder: LockHolder, file: string) {
    super(`${runDir}: is being trained by ${describeHolder(holder)}; wait for it or stop it${elsewhereHint(holder, file)}`);
    this.name = 'RunLockedError';
  }
}

/** "2026-03-05T14:02:11Z": to the second, as a reader wants it. */
const shortTime = (iso: string) => (Number.isNaN(Date.parse(iso)) ? iso : new Date(iso).toISOString().replace(/\.\d+Z$/, 'Z'));

const onThisHost = (h: LockHolder) => h.host === os.hostname();

function describeHolder(h: LockHolder): string {
  return `process ${h.pid}${onThisHost(h) ? '' : ` on ${h.host}`} (since ${shortTime(h.since)})`;
}

function elsewhereHint(h: LockHolder, file: string): string {
  return onThisHost(h) ? '' : ` (this host cannot tell whether it still runs: if it does not, remove ${file})`;
}

// ---------------------------------------------------------------------------------------------
// who holds a lock, and whether it still runs

let bootId: string | null | undefined;

/** The process's state letter and start token from /proc/<pid>/stat; null where there is no /proc (or no such process). */
function procStat(pid: number): { state: string; start: string } | null {
  try {
    bootId ??= readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After the command name (in parentheses, which may hold spaces): field 3 is the state, field 22 the start time.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0], start: `${bootId}:${fields[19]}` };
  } catch {
    bootId ??= null;
    return null;
  }
}

function self(): LockHolder {
  return { pid: process.pid, host: os.hostname(), start: procStat(process.pid)?.start ?? null, since: new Date().toISOString(), id: randomBytes(6).toString('hex') };
}

/** Whether the holder still runs: 'elsewhere' when it is on another host, where it cannot be checked. */
function holderState(h: LockHolder): 'running' | 'gone' | 'elsewhere' {
  if (!onThisHost(h)) return 'elsewhere';
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    // EPERM: a process of another user has that pid; it runs.
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return 'gone';
  }
  const now = procStat(h.pid);
  if (now && (now.state === 'Z' || now.state === 'X')) return 'gone'; // killed, not yet reaped by its parent
  if (now && h.start && now.start !== h.start) return 'gone'; // the pid now names a process started later
  return 'running';
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseHolder(text: string): LockHolder | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  if (!isObject(v) || !Number.isInteger(v.pid) || (v.pid as number) <= 0 || typeof v.host !== 'string' || typeof v.since !== 'string') return null;
  return { pid: v.pid as number, host: v.host, since: v.since, start: typeof v.start === 'string' ? v.start : null, id: typeof v.id === 'string' ? v.id : '' };
}

/** A lock file's text and holder (null holder: damaged), or null when there is no lock. */
async function readLock(file: string): Promise<{ text: string; holder: LockHolder | null } | null> {
  // A folder (or a file in place of the run directory: ENOTDIR) is no lock; a pipe would block the read.
  const stat = await fs.stat(file).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT' || e.code === 'ENOTDIR') return null;
    throw new RunFileCorruptError(file, errorMessage(e));
  });
  if (stat === null) return null;
  if (!stat.isFile()) throw new RunFileCorruptError(file, stat.isDirectory() ? 'is a directory, not a file' : 'not a regular file (a pipe or device?)');
  const text = await fs.readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return null;
    throw new RunFileCorruptError(file, errorMessage(e));
  });
  return text === null ? null : { text, holder: parseHolder(text) };
}

// ---------------------------------------------------------------------------------------------
// taking and releasing

/** Locks held by this process: released by the exit and signal handlers if not before. */
const held = new Set<{ file: string; text: string; madeDir: string | null }>();
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

function releaseSync(lock: { file: string; text: string; madeDir: string | null }): void {
  held.delete(lock);
  try {
    if (readFileSync(lock.file, 'utf8') === lock.text) unlinkSync(lock.file);
  } catch {
    // gone already
  }
  if (lock.madeDir) {
    try {
      rmdirSync(lock.madeDir); // only when empty: a run that failed before writing anything leaves no folder
    } catch {
      // it holds the run
    }
  }
}

const releaseAllSync = () => [...held].forEach(releaseSync);

/**
 * A signal that would end the process: the locks are released, then the signal is raised again and
 * does what it would have done. When the process has a handler of its own for the signal, that
 * handler decides; if it ends the process, the exit handler releases the locks.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  releaseAllSync();
  watchSignals(false);
  process.kill(process.pid, signal);
}

let watching = false;
function watchSignals(on: boolean): void {
  if (on === watching) return;
  watching = on;
  for (const s of SIGNALS) {
    if (on) process.on(s, onSignal);
    else process.off(s, onSignal);
  }
}
process.on('exit', releaseAllSync);

async function tryCreate(file: string, text: string): Promise<boolean> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fs.writeFile(tmp, text, { flag: 'wx' });
    await fs.link(tmp, file);
    return true;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    // The temp file removed by a resuming run's clean-up between the two steps: try again.
    if (code === 'ENOENT' && (await fs.stat(path.dirname(file)).catch(() => null))?.isDirectory()) return false;
    throw new UserError(`${file}: cannot be made (${errorMessage(e)})`);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

/**
 * Removes a stale lock, unless another process replaced it since it was read: the lock is renamed
 * aside (one taker wins the rename) and its content compared with what was judged stale; a fresh
 * lock moved by mistake is linked back.
 */
async function takeOver(file: string, staleText: string): Promise<boolean> {
  const aside = `${file}.tmp-stale-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    await fs.rename(file, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false; // another taker was first
    throw new UserError(`${file}: cannot be taken over (${errorMessage(e)})`);
  }
  const moved = await fs.readFile(aside, 'utf8').catch(() => null);
  if (moved !== staleText) await fs.link(aside, file).catch(() => {});
  await fs.rm(aside, { force: true });
  return moved === staleText;
}

interface AcquireOptions {
  /** Called with a running holder: throws to refuse, returns to look again. */
  busy: (holder: LockHolder) => Promise<void>;
  /** Told when a stale lock is taken over. */
  onTakeOver: (holder: LockHolder | null) => void;
  /** A folder this taking made, removed on release when empty. */
  madeDir?: string | null;
  /** A holder on another host counts as gone (a job queue vouches that it lost the run). */
  elsewhereIsGone?: boolean;
}

async function acquire(file: string, opts: AcquireOptions): Promise<HeldLock> {
  const text = JSON.stringify(self()) + '\n';
  // Rounds lost to other takers (the lock released or taken over under us); waiting for a holder is not one.
  for (let races = 0; races < LOCK_TIMING.maxAttempts; ) {
    if (await tryCreate(file, text)) {
      const lock = { file, text, madeDir: opts.madeDir ?? null };
      held.add(lock);
      watchSignals(true);
      return {
        file,
        release: async () => {
          if (!held.has(lock)) return;
          releaseSync(lock);
          if (held.size === 0) watchSignals(false);
        },
      };
    }
    const found = await readLock(file);
    const state = found?.holder ? holderState(found.holder) : 'gone';
    if (found?.holder && state !== 'gone' && !(state === 'elsewhere' && opts.elsewhereIsGone)) {
      await opts.busy(found.holder);
      continue;
    }
    if (found && (await takeOver(file, found.text))) opts.onTakeOver(found.holder);
    else races++;
  }
  throw new UserError(`${file}: could not be taken (other processes keep taking and releasing it)`);
}

function takeOverNote(runDir: string, file: string, log?: (line: string) => void) {
  return (h: LockHolder | null) => log?.(h ? `note: ${runDir}: took over the lock of process ${h.pid} (since ${shortTime(h.since)}), which no longer runs` : `note: ${runDir}: took over ${file}, which names no process (damaged)`);
}

// ---------------------------------------------------------------------------------------------
// the public side

const trainingLockFile = (runDir: string) => runPath(runDir, 'trainingLock');

export interface TrainingLockOptions {
  /** A new run: its directory may not exist yet, and is made (and removed again if the training leaves nothing in it). */
  create: boolean;
  /** Where the note about a stale lock taken over goes. */
  log?: (line: string) => void;
  /**
   * Take over a lock held by a process on another host. Only for a caller that knows that process
   * lost the run: a sweep worker given a job that the queue took from a worker that stopped answering.
   */
  takeOverElsewhere?: boolean;
}

/**
 * Takes the run's training lock for the life of a training: refuses (RunLockedError) a run that
 * another process trains, takes over a stale lock with a note.
 */
export async function lockRunForTraining(runDir: string, opts: TrainingLockOptions): Promise<HeldLock> {
  let madeDir: string | null = null;
  if (opts.create) {
    await requireRunDirOrNothing(runDir);
    const existed = (await fs.stat(runDir).catch(() => null)) !== null;
    await makeDirs(runDir).catch((e: unknown) => {
      throw new RunNotFoundError(runDir, `cannot be made: ${errorMessage(e)}`);
    });
    if (!existed) madeDir = runDir;
  } else {
    await requireRunDir(runDir);
  }
  const file = trainingLockFile(runDir);
  try {
    return await acquire(file, {
      busy: async (holder) => {
        throw new RunLockedError(runDir, holder, file);
      },
      onTakeOver: takeOverNote(runDir, file, opts.log),
      madeDir,
      elsewhereIsGone: opts.takeOverElsewhere,
    });
  } catch (e) {
    if (madeDir) await fs.rmdir(madeDir).catch(() => {});
    throw e;
  }
}

/** The process training the run (its lock's holder, running or on another host), or null when none is. */
export async function runLockHolder(runDir: string): Promise<LockHolder | null> {
  const found = await readLock(trainingLockFile(runDir));
  if (!found?.holder) return null;
  return holderState(found.holder) === 'gone' ? null : found.holder;
}

/** Refuses (RunLockedError, naming the process) a run that a process is training. */
export async function refuseWhileTraining(runDir: string): Promise<void> {
  const holder = await runLockHolder(runDir);
  if (holder) throw new RunLockedError(runDir, holder, trainingLockFile(runDir));
}

/**
 * Runs `update` (a read-modify-write of `file`) holding `<file>.lock`: a concurrent writer waits
 * for it, so neither loses the other's change. A stale one is taken over silently.
 */
export async function withUpdateLock<T>(file: string, update: () => Promise<T>): Promise<T> {
  const lockFile = `${file}.lock`;
  const deadline = Date.now() + LOCK_TIMING.updateTimeoutMs;
  const lock = await acquire(lockFile, {
    busy: async (holder) => {
      if (Date.now() > deadline) throw new UserError(`${file} is being updated by ${describeHolder(holder)}; try again when it is done${elsewhereHint(holder, lockFile)}`);
      await new Promise((r) => setTimeout(r, LOCK_TIMING.updatePollMs));
    },
    onTakeOver: () => {},
  });
  try {
    return await update();
  } finally {
    await lock.release();
  }
}
