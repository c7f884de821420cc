/**
 * Sweeps on a real job queue: BullMQ on Redis. The sweep puts its jobs on the queue; `fashion-cnn
 * worker` processes on any number of machines take them. BullMQ gives what a queue of our own
 * would have to re-invent: a job held by a worker that stops answering (kill -9, a machine lost)
 * is noticed by its stalled-job check and handed to another worker, which resumes the run from its
 * last checkpoint; a job that fails three times is marked failed with its error.
 */
import { Queue, UnrecoverableError, WaitingError, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import path from 'node:path';
import { UserError, errorMessage } from '../util/errors.js';
import type { SweepJob } from './definition.js';
import type { RedisTarget } from './redis-url.js';
import { runJob, type JobRunOptions, type RunningJob } from './run-job.js';
import { jobOnWorker } from './shared-paths.js';
import { checkRunsFolder } from './store.js';

export const QUEUE_NAME = 'fashion-cnn-sweep';
/** Tries of a job before it is marked failed (a bad setting fails at once). */
export const JOB_ATTEMPTS = 3;

/** What a queued job carries: the job whole, and where its run lives relative to the shared runs folder. */
export interface QueuedJob {
  /** The sweep's folder, relative to the runs folder every worker mounts. */
  sweep: string;
  /** The runs folder's marker id: a worker whose --runs holds another marker is not looking at the same folder. */
  runsId: string;
  job: SweepJob;
}

const connectionOf = (t: RedisTarget) => ({ host: t.host, port: t.port, db: t.db, password: t.password, username: t.username, ...(t.tls ? { tls: {} } : {}), maxRetriesPerRequest: null });

/** Fails in one line, within `timeoutMs`, when the server cannot be reached (never a hang). */
export async function checkRedis(t: RedisTarget, timeoutMs = 5000): Promise<void> {
  const client = new Redis({ ...connectionOf(t), lazyConnect: true, connectTimeout: timeoutMs, retryStrategy: () => null, maxRetriesPerRequest: 0, enableOfflineQueue: false });
  // The socket's own error (ECONNREFUSED, ENOTFOUND) says more than the client's "connection is closed".
  let socketError: Error | null = null;
  client.on('error', (e: Error) => (socketError ??= e));
  try {
    await Promise.race([
      client.connect().then(() => client.ping()),
      new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${timeoutMs / 1000} s`)), timeoutMs)),
    ]);
  } catch (e) {
    throw new UserError(`--queue ${t.url}: cannot reach Redis (${errorMessage(socketError ?? e).split('\n')[0]})`);
  } finally {
    client.disconnect();
  }
}

export interface QueueTimings {
  /** How long a worker's hold on a job lasts without renewal: a worker gone that long loses the job. */
  lockMs: number;
  /** How often workers look for jobs whose holder is gone. */
  stalledCheckMs: number;
}

/** BullMQ's defaults; $FASHION_CNN_QUEUE_LOCK_MS shortens them (the tests' killed workers). */
export function queueTimings(): QueueTimings {
  const lockMs = Number(process.env.FASHION_CNN_QUEUE_LOCK_MS) || 30_000;
  return { lockMs, stalledCheckMs: lockMs };
}

const queueJobId = (sweepName: string, jobId: string) => `${sweepName}__${jobId}`;

/** The sweep's side: its queue, the jobs put on it, and what has become of them. */
export class SweepQueue {
  private constructor(private readonly queue: Queue<QueuedJob>, private readonly sweepName: string) {}

  static async open(target: RedisTarget, sweepName: string): Promise<SweepQueue> {
    await checkRedis(target);
    return new SweepQueue(new Queue<QueuedJob>(QUEUE_NAME, { connection: connectionOf(target) }), sweepName);
  }

  /** Puts each job on the queue unless it is there already; a job that failed before is tried again. */
  async enqueue(jobs: QueuedJob[]): Promise<void> {
    for (const data of jobs) {
      const id = queueJobId(this.sweepName, data.job.id);
      const existing = await this.queue.getJob(id);
      const state = existing ? await existing.getState() : null;
      if (existing && state === 'failed') await existing.retry();
      else if (existing && state === 'completed') await existing.remove();
      if (!existing || state === 'completed') await this.queue.add(data.job.id, data, { jobId: id, attempts: JOB_ATTEMPTS, backoff: { type: 'fixed', delay: 1000 }, removeOnComplete: false, removeOnFail: false });
    }
  }

  /** Each job's queue state, and the error of those that failed for good. */
  async states(jobIds: readonly string[]): Promise<{ running: Set<string>; failed: Map<string, string>; finished: Set<string> }> {
    const running = new Set<string>();
    const failed = new Map<string, string>();
    const finished = new Set<string>();
    for (const id of jobIds) {
      const job = await this.queue.getJob(queueJobId(this.sweepName, id));
      if (!job) continue;
      const state = await job.getState();
      if (state === 'active') running.add(id);
      else if (state === 'failed') failed.set(id, job.failedReason || 'failed');
      else if (state === 'completed') finished.add(id);
    }
    return { running, failed, finished };
  }

  async close(): Promise<void> {
    await this.queue.close();
  }
}

export interface WorkerOptions extends Pick<JobRunOptions, 'dataDir' | 'backend'> {
  target: RedisTarget;
  runsRoot: string;
  log: (line: string) => void;
}

export interface StartedWorker {
  /** Resolves once the worker has shut down (SIGTERM/SIGINT: the job under way is checkpointed and handed back). */
  closed: Promise<void>;
  stop(): Promise<void>;
}

/** `fashion-cnn worker`: takes the queue's jobs one at a time until stopped. */
export async function startWorker(opts: WorkerOptions): Promise<StartedWorker> {
  const runsId = await checkRunsFolder(opts.runsRoot);
  await checkRedis(opts.target);
  const timings = queueTimings();
  let current: RunningJob | null = null;
  let stopping = false;
  const processor = async (job: Job<QueuedJob>, token?: string) => {
    const { sweep, job: sj } = job.data;
    if (job.data.runsId !== runsId) throw new UnrecoverableError(`this worker's --runs ${opts.runsRoot} is not the sweep's runs folder (its marker differs): mount the same shared folder on every machine`);
    const runDir = path.join(opts.runsRoot, sweep, sj.id);
    opts.log(`${sj.id}: started (attempt ${job.attemptsMade + 1} of ${JOB_ATTEMPTS})`);
    current = runJob(jobOnWorker(sj, opts.runsRoot), runDir, { dataDir: opts.dataDir, backend: opts.backend, onEpoch: (e, n) => void job.updateProgress({ epoch: e, planned: n }), onLog: (l) => opts.log(`${sj.id}: ${l}`) });
    try {
      const how = await current.finished.catch((e: unknown) => {
        // A bad setting fails the same way every time: no second try.
        if (e instanceof UserError) throw new UnrecoverableError(errorMessage(e));
        throw e;
      });
      if (how === 'stopped') {
        opts.log(`${sj.id}: stopped at its last checkpoint; handed back to the queue`);
        await job.moveToWait(token);
        throw new WaitingError();
      }
      opts.log(`${sj.id}: done`);
    } finally {
      current = null;
    }
  };
  const worker = new Worker<QueuedJob>(QUEUE_NAME, processor, {
    connection: connectionOf(opts.target),
    concurrency: 1,
    lockDuration: timings.lockMs,
    stalledInterval: timings.stalledCheckMs,
    // A job whose worker was lost is handed on; only a job that keeps losing its workers fails.
    maxStalledCount: JOB_ATTEMPTS,
  });
  worker.on('error', (e) => opts.log(`queue: ${errorMessage(e)}`));
  worker.on('failed', (job, e) => job && opts.log(`${job.data.job.id}: failed (${errorMessage(e)})`));
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    current?.stop();
    await worker.close();
  };
  return { closed: new Promise((resolve) => worker.on('closed', () => resolve())), stop };
}
