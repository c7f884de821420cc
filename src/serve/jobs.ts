/**
 * Work the server hands to a child process (worker.ts): training runs, one at a time, streamed to
 * any number of listeners; and projections, computed once per cache key.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import type { EmbedRequest } from '../explain/embed/index.js';
import type { HistoryRow, Phase } from '../runs/index.js';
import type { TrainRunOptions } from '../train/run.js';
import type { BatchInfo } from '../train/callbacks.js';

export type WorkerJob =
  | { kind: 'train'; options: Pick<TrainRunOptions, 'model' | 'hyper' | 'augmentation' | 'runDir' | 'dataDir' | 'backend' | 'pictures'> }
  | { kind: 'embed'; request: Omit<EmbedRequest, 'log'> };

export type ParentMessage = { type: 'start'; job: WorkerJob } | { type: 'stop' };

export type WorkerMessage =
  | ({ type: 'batch'; phase: Phase; epoch: number; epochInPhase: number; phaseEpochs: number } & BatchInfo)
  | { type: 'epoch'; row: HistoryRow }
  | { type: 'log'; line: string }
  | { type: 'stopped'; message: string }
  | { type: 'done'; result: Record<string, unknown> }
  | { type: 'error'; message: string; user: boolean };

/** What a listener of a job receives: the worker's messages, then one 'end'. */
export type JobEvent = WorkerMessage | { type: 'end'; status: JobStatus; message?: string };

export type JobStatus = 'running' | 'done' | 'stopped' | 'failed';

const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url));

/** One job in one child process. Emits 'event' (JobEvent) and keeps the epoch rows so far for late listeners. */
export class Job extends EventEmitter {
  readonly rows: HistoryRow[] = [];
  lastBatch: JobEvent | null = null;
  status: JobStatus = 'running';
  message?: string;
  /** The job failed on its input (a UserError in the worker), not on a bug. */
  userError = false;
  result?: Record<string, unknown>;
  readonly startedAt = new Date().toISOString();
  readonly finished: Promise<void>;
  private readonly child: ChildProcess;

  constructor(readonly id: string, job: WorkerJob, env: NodeJS.ProcessEnv = process.env) {
    super();
    this.setMaxListeners(0);
    // Workers inherit the server's exec arguments (tsx in a checkout), but not a debugger port.
    this.child = fork(WORKER, [], { env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: process.execArgv.filter((a) => !a.startsWith('--inspect')) });
    let stderr = '';
    this.child.stderr?.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-2000)));
    this.child.on('message', (m: WorkerMessage) => this.onMessage(m));
    this.finished = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        if (this.status === 'running') {
          this.status = code === 0 ? 'done' : 'failed';
          if (code !== 0) this.message ??= `the worker ended (${signal ?? `exit code ${code}`}): ${stderr.trim().split('\n').at(-1) ?? ''}`;
        }
        this.emit('event', { type: 'end', status: this.status, message: this.message } satisfies JobEvent);
        resolve();
      });
    });
    this.child.send({ type: 'start', job } satisfies ParentMessage);
  }

  private onMessage(m: WorkerMessage): void {
    if (m.type === 'epoch') this.rows.push(m.row);
    if (m.type === 'batch') this.lastBatch = m;
    if (m.type === 'stopped') [this.status, this.message] = ['stopped', m.message];
    if (m.type === 'done') [this.status, this.result] = ['done', m.result];
    if (m.type === 'error') [this.status, this.message, this.userError] = ['failed', m.message, m.user];
    this.emit('event', m);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Asks the worker to stop after its current batch. */
  stop(): void {
    if (this.running && this.child.connected) this.child.send({ type: 'stop' } satisfies ParentMessage);
  }

  /** Stops the worker and waits for it; kills it past `graceMs`. */
  async stopAndWait(graceMs: number): Promise<void> {
    this.stop();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.finished;
    clearTimeout(timer);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}
