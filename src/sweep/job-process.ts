/**
 * The child process that trains one job of a sweep. The backend, its patches and the seeded
 * Math.random are process-wide, so every job gets a process of its own: its history is then the
 * same as `fashion-cnn train` with the same settings, whichever worker ran the jobs before it.
 *
 * A job resumes its run from the last checkpoint when one exists (a worker that died, a sweep run
 * again). Asked to stop, it finishes the epoch under way and its checkpoint, then exits with
 * STOPPED_EXIT so that the job can be handed to another worker.
 */
import { hasRunConfig } from '../runs/index.js';
import type { TrainCallback } from '../train/callbacks.js';
import { UserError, errorMessage } from '../util/errors.js';
import type { SweepJob } from './definition.js';

/** Exit code of a job that stopped at a checkpoint when asked (EX_TEMPFAIL: try again later). */
export const STOPPED_EXIT = 75;

export type JobParentMessage = { type: 'start'; job: SweepJob; runDir: string; dataDir?: string; backend?: 'native' | 'wasm' | 'cpu' } | { type: 'stop' };
export type JobChildMessage = { type: 'epoch'; epoch: number; planned: number } | { type: 'log'; line: string } | { type: 'error'; message: string; user: boolean };

let stopRequested = false;
const send = (m: JobChildMessage) => new Promise<void>((resolve) => (process.send ? process.send(m, () => resolve()) : resolve()));

/** Stops before an epoch begins: the one before it has been checkpointed by then. */
class StopBetweenEpochs implements TrainCallback {
  constructor(private readonly planned: number) {}
  async onEpochBegin(): Promise<void> {
    // Lets the IPC channel deliver a stop message that arrived during the epoch.
    await new Promise((r) => setImmediate(r));
    if (stopRequested) process.exit(STOPPED_EXIT);
  }
  async onEpochEnd(_ctl: unknown, row: { epoch: number }): Promise<void> {
    await send({ type: 'epoch', epoch: row.epoch, planned: this.planned });
  }
}

async function run(m: Extract<JobParentMessage, { type: 'start' }>): Promise<void> {
  const { trainRun } = await import('../train/run.js');
  const { job, runDir } = m;
  const resume = await hasRunConfig(runDir);
  await trainRun({
    model: job.model,
    modelOptions: job.modelOptions,
    hyper: job.hyper,
    augmentation: job.augmentation,
    runDir,
    resume,
    // A resumed run must be the job's: any difference from its record is refused.
    requested: resume ? { model: job.model, modelOptions: job.modelOptions, hyper: job.hyper, augmentation: job.augmentation } : undefined,
    dataDir: m.dataDir,
    backend: m.backend,
    pictures: job.pictures,
    progress: false,
    log: (line) => void send({ type: 'log', line }),
    callbacks: [new StopBetweenEpochs(job.hyper.epochs + job.hyper.augEpochs)],
    // The queue hands a job over only once its last worker stopped answering.
    takeOverElsewhere: true,
  });
}

process.on('message', (m: JobParentMessage) => {
  if (m.type === 'stop') stopRequested = true;
  else if (m.type === 'start') {
    run(m).then(
      () => process.exit(0),
      async (e: unknown) => {
        await send({ type: 'error', message: errorMessage(e), user: e instanceof UserError });
        process.exit(e instanceof UserError ? 2 : 1);
      },
    );
  }
});
// A worker that dies leaves no orphan: the channel closing ends the job (its run resumes from its checkpoint).
process.on('disconnect', () => process.exit(0));
