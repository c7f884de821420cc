/** Runs one job in its own child process (job-process.ts) and reports how it ended. */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { UserError } from '../util/errors.js';
import type { SweepJob } from './definition.js';
import { STOPPED_EXIT, type JobChildMessage, type JobParentMessage } from './job-process.js';

const JOB_PROCESS = fileURLToPath(new URL('./job-process.js', import.meta.url));

export interface JobRunOptions {
  dataDir?: string;
  backend?: 'native' | 'wasm' | 'cpu';
  /** Each completed epoch of the job (its number over both phases). */
  onEpoch?: (epoch: number, planned: number) => void;
  /** The job's log lines (run directory, notes). */
  onLog?: (line: string) => void;
}

export interface RunningJob {
  /** 'done', or 'stopped' when it stopped at a checkpoint as asked; rejects with the job's error. */
  finished: Promise<'done' | 'stopped'>;
  /** Asks the job to stop after the epoch under way has been checkpointed. */
  stop(): void;
  /** Ends the job at once (its run resumes from its last checkpoint). */
  kill(): void;
}

export function runJob(job: SweepJob, runDir: string, opts: JobRunOptions = {}): RunningJob {
  // The job's own process: tsx's loader is kept when running from source (execArgv). It leads a
  // process group of its own (detached), so that a terminal's Ctrl-C, which signals the whole
  // foreground group, reaches only the sweep or worker, which then stops the job at its next
  // checkpoint; a job killed mid-epoch by that SIGINT counted as a failed attempt. It still never
  // outlives its parent: the IPC channel's close ends it (job-process.ts).
  const child: ChildProcess = fork(JOB_PROCESS, [], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], detached: true });
  let error: { message: string; user: boolean } | null = null;
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
  child.on('message', (m: JobChildMessage) => {
    if (m.type === 'epoch') opts.onEpoch?.(m.epoch, m.planned);
    else if (m.type === 'log') opts.onLog?.(m.line);
    else if (m.type === 'error') error = { message: m.message, user: m.user };
  });
  const finished = new Promise<'done' | 'stopped'>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve('done');
      else if (code === STOPPED_EXIT) resolve('stopped');
      else if (error) reject(error.user ? new UserError(error.message) : new Error(error.message));
      else reject(new Error(`the job's process ended with ${signal ?? `exit code ${code}`}${stderr.trim() ? `: ${stderr.trim().split('\n').at(-1)}` : ''}`));
    });
  });
  const start: JobParentMessage = { type: 'start', job, runDir, dataDir: opts.dataDir, backend: opts.backend };
  child.send(start);
  return {
    finished,
    stop: () => {
      if (child.connected) child.send({ type: 'stop' } satisfies JobParentMessage);
    },
    kill: () => child.kill('SIGKILL'),
  };
}
