/**
 * The child process that trains (or computes a projection) for the server. The backend, its
 * patches and the seeded Math.random are process-wide, so this work never runs in the server's
 * own process. Talks to the server over the IPC channel only (see jobs.ts for the messages).
 */
import type { EmbedRequest } from '../explain/embed/index.js';
import type { BatchInfo, EpochInfo, TrainCallback } from '../train/callbacks.js';
import type { TrainRunOptions } from '../train/run.js';
import type { HistoryRow, Phase } from '../runs/index.js';
import { UserError, errorMessage } from '../util/errors.js';
import type { WorkerJob, WorkerMessage, ParentMessage } from './jobs.js';

/** Batch events are sent at most this often: a fast model runs hundreds of batches a second. */
const BATCH_EVENT_INTERVAL_MS = 250;

let stopRequested = false;

const send = (m: WorkerMessage) => new Promise<void>((resolve) => (process.send ? process.send(m, () => resolve()) : resolve()));

/** Streams progress to the server and stops right after a batch when asked. */
class ServeProgress implements TrainCallback {
  private lastBatchEvent = 0;
  private phase: Phase = 'base';
  private epoch = 0;
  private epochInPhase = 0;
  private phaseEpochs = 0;

  onEpochBegin(_ctl: unknown, info: EpochInfo): void {
    ({ phase: this.phase, epoch: this.epoch, epochInPhase: this.epochInPhase, phaseEpochs: this.phaseEpochs } = info);
  }

  async onBatchEnd(_ctl: unknown, info: BatchInfo): Promise<void> {
    const now = Date.now();
    if (now - this.lastBatchEvent >= BATCH_EVENT_INTERVAL_MS || info.step === info.steps) {
      this.lastBatchEvent = now;
      await send({ type: 'batch', phase: this.phase, epoch: this.epoch, epochInPhase: this.epochInPhase, phaseEpochs: this.phaseEpochs, ...info });
    }
    // Lets the IPC channel deliver a stop message between batches.
    await new Promise((r) => setImmediate(r));
    if (stopRequested) {
      await send({ type: 'stopped', message: 'stopped after a batch; the run keeps its last completed epoch\'s checkpoint (resume with fashion-cnn train --resume --run-dir)' });
      process.exit(0);
    }
  }

  async onEpochEnd(_ctl: unknown, row: HistoryRow): Promise<void> {
    await send({ type: 'epoch', row });
  }
}

async function run(job: WorkerJob): Promise<void> {
  const log = (line: string) => void send({ type: 'log', line });
  if (job.kind === 'train') {
    const { trainRun } = await import('../train/run.js');
    const opts: TrainRunOptions = { ...job.options, progress: false, log, callbacks: [new ServeProgress()] };
    const summary = await trainRun(opts);
    await send({ type: 'done', result: { runDir: summary.runDir, seconds: summary.seconds, eval: summary.eval.results.at(-1) ?? null } });
  } else {
    const { runEmbed } = await import('../explain/embed/index.js');
    const req: EmbedRequest = { ...job.request, log };
    const outcome = await runEmbed(req);
    await send({ type: 'done', result: { out: outcome.out, files: outcome.files } });
  }
}

process.on('message', (m: ParentMessage) => {
  if (m.type === 'stop') stopRequested = true;
  else if (m.type === 'start') {
    run(m.job).then(
      () => process.exit(0),
      async (e: unknown) => {
        await send({ type: 'error', message: errorMessage(e), user: e instanceof UserError });
        process.exit(e instanceof UserError ? 2 : 1);
      },
    );
  }
});
// A server that dies leaves no orphan: the channel closing ends the job (a run resumes from its checkpoint).
process.on('disconnect', () => process.exit(0));
