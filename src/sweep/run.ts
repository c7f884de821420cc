/**
 * Running a sweep: record it (or check that the recorded one is the same), then train every job
 * not done yet, on a local pool of worker processes or through a BullMQ queue that `fashion-cnn
 * worker` processes take jobs from; then write the summary. Running it again resumes it: finished
 * runs are kept, unfinished ones resume from their checkpoints.
 */
import path from 'node:path';
import { UserError, errorMessage } from '../util/errors.js';
import type { SweepDefinition, SweepJob } from './definition.js';
import type { RedisTarget } from './redis-url.js';
import { insideRuns, jobForQueue } from './shared-paths.js';
import { runJob, type JobRunOptions, type RunningJob } from './run-job.js';
import { ensureRunsMarker, isJobDone, openSweep, type SweepRecord } from './store.js';
import { sweepSummary, writeSummary, type SweepSummary } from './summary.js';

/** Tries of a job on the local pool before it is marked failed (a bad setting fails at once). */
const LOCAL_ATTEMPTS = 3;
const POLL_MS = 1000;

export interface SweepRunOptions extends Pick<JobRunOptions, 'dataDir' | 'backend'> {
  dir: string;
  name: string;
  definition: SweepDefinition;
  jobs: SweepJob[];
  /** Local worker processes (ignored with a queue). */
  workers: number;
  /** A BullMQ queue on this Redis instead of the local pool. */
  queue?: RedisTarget;
  /** The runs folder that every worker mounts (the sweep's folder must be inside it); with a queue. */
  runsRoot?: string;
  log?: (line: string) => void;
  /** The summary as it stands, at least every few seconds while jobs run. */
  onProgress?: (s: SweepSummary) => void;
  /**
   * Stops the local pool: each job under way stops once its epoch is checkpointed, and no other
   * starts; the summary is written as it stands and the same sweep resumes later.
   */
  signal?: AbortSignal;
}

export interface SweepOutcome {
  summary: SweepSummary;
  files: { markdown: string; json: string };
}

export async function runSweep(opts: SweepRunOptions): Promise<SweepOutcome> {
  const log = opts.log ?? ((l: string) => process.stderr.write(l + '\n'));
  if (opts.queue && !opts.runsRoot) throw new UserError('a sweep on a queue needs the shared runs folder (--runs)');
  // Nothing is recorded for a sweep whose queue cannot be reached.
  // BullMQ and ioredis load only for a sweep on a queue: a local sweep does without them.
  if (opts.queue) {
    // A teacher the workers could not reach is refused before anything is recorded.
    for (const job of opts.jobs) jobForQueue(job, opts.runsRoot!);
    await (await import('./queue.js')).checkRedis(opts.queue);
  }
  const record = await openSweep(opts.dir, opts.name, opts.definition, opts.jobs);
  const pending: SweepJob[] = [];
  for (const job of record.jobs) if (!(await isJobDone(opts.dir, job))) pending.push(job);
  log(`sweep ${record.name}: ${record.jobs.length} runs in ${opts.dir}, ${record.jobs.length - pending.length} already done`);
  const failed = opts.queue ? await runOnQueue(record, pending, opts, log) : await runLocally(record, pending, opts, log);
  const summary = (await sweepSummary(opts.dir, new Set(), failed))!;
  opts.onProgress?.(summary);
  return { summary, files: await writeSummary(record, summary) };
}

/** Reports the summary every POLL_MS until `until` resolves. */
async function reportWhile<T>(until: Promise<T>, report: () => Promise<void>): Promise<T> {
  let finished = false;
  void until.finally(() => (finished = true)).catch(() => {});
  while (!finished) {
    await report().catch(() => {});
    await Promise.race([until.catch(() => {}), new Promise((r) => setTimeout(r, POLL_MS))]);
  }
  return until;
}

async function runLocally(record: SweepRecord, pending: SweepJob[], opts: SweepRunOptions, log: (l: string) => void): Promise<Map<string, string>> {
  const running = new Set<string>();
  const failed = new Map<string, string>();
  const queue = [...pending];
  const underWay = new Set<RunningJob>();
  const stopAll = () => {
    queue.length = 0;
    for (const j of underWay) j.stop();
  };
  if (opts.signal?.aborted) stopAll();
  opts.signal?.addEventListener('abort', stopAll, { once: true });
  const worker = async () => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      running.add(job.id);
      for (let attempt = 1; ; attempt++) {
        const handle = runJob(job, path.join(opts.dir, job.id), { dataDir: opts.dataDir, backend: opts.backend, onLog: (l) => log(`${job!.id}: ${l}`) });
        underWay.add(handle);
        try {
          if ((await handle.finished) === 'stopped') log(`${job.id}: stopped at its last checkpoint`);
          break;
        } catch (e) {
          const last = e instanceof UserError || attempt === LOCAL_ATTEMPTS;
          const stopping = opts.signal?.aborted === true;
          log(`${job.id}: attempt ${attempt} of ${LOCAL_ATTEMPTS} failed: ${errorMessage(e)}${last ? '' : stopping ? ' (the sweep is stopping: running the sweep again resumes it)' : ' (trying again from its last checkpoint)'}`);
          if (last) {
            failed.set(job.id, errorMessage(e));
            break;
          }
          if (stopping) break;
        } finally {
          underWay.delete(handle);
        }
      }
      running.delete(job.id);
    }
  };
  const all = Promise.all(Array.from({ length: Math.max(1, Math.min(opts.workers, pending.length)) }, worker));
  await reportWhile(all, async () => {
    const s = await sweepSummary(opts.dir, running, failed);
    if (s) opts.onProgress?.(s);
  });
  void record;
  return failed;
}

async function runOnQueue(record: SweepRecord, pending: SweepJob[], opts: SweepRunOptions, log: (l: string) => void): Promise<Map<string, string>> {
  const runsRoot = opts.runsRoot!;
  const rel = insideRuns(runsRoot, opts.dir);
  if (rel === null) throw new UserError(`--out ${opts.dir} is not inside --runs ${runsRoot}: workers find a sweep's runs in the shared runs folder`);
  const runsId = await ensureRunsMarker(runsRoot);
  const { SweepQueue } = await import('./queue.js');
  const queue = await SweepQueue.open(opts.queue!, record.name);
  try {
    await queue.enqueue(pending.map((job) => ({ sweep: rel, runsId, job: jobForQueue(job, runsRoot) })));
    log(`sweep ${record.name}: ${pending.length} runs queued on ${opts.queue!.url}; start workers with: fashion-cnn worker --queue ${opts.queue!.url} --runs ${runsRoot}`);
    const ids = pending.map((j) => j.id);
    let failed = new Map<string, string>();
    for (;;) {
      const states = await queue.states(ids);
      failed = states.failed;
      const s = await sweepSummary(opts.dir, states.running, failed);
      if (s) opts.onProgress?.(s);
      // A job the queue counts as completed whose run is not whole (removed by hand, say) is not done.
      for (const id of states.finished) if (s?.jobs.find((j) => j.id === id)?.state !== 'done') failed.set(id, 'the queue has it completed, but its run is not whole');
      const open = ids.filter((id) => !failed.has(id) && s?.jobs.find((j) => j.id === id)?.state !== 'done');
      if (open.length === 0) return failed;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    await queue.close();
  }
}
