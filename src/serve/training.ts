/**
 * Training from the API: one run at a time, in a worker process (see worker.ts); a second request
 * while one runs is a 409. Listeners (the SSE route) get the run's epoch rows so far, then live
 * events until the worker ends.
 */
import path from 'node:path';
import { unavailableReason } from '../models/describe.js';
import { findModelSpec, modelNames } from '../models/registry.js';
import { hasRunConfig, isValidRunId, RunExistsError } from '../runs/index.js';
import { resolveProtocol } from '../train/protocol.js';
import { defaultRunDir } from '../train/run.js';
import type { BackendName } from '../backend/index.js';
import { HttpError } from './errors.js';
import { Job } from './jobs.js';
import type { TrainRequest } from './schemas.js';


export class TrainingManager {
  private current: Job | null = null;

  constructor(private readonly runsDir: string, private readonly env: () => NodeJS.ProcessEnv, private readonly worker: { dataDir?: string; backend?: BackendName }) {}

  /** The job training `id`, while it runs or after it ended (until the next one starts). */
  job(id: string): Job | null {
    return this.current?.id === id ? this.current : null;
  }

  active(): Job | null {
    return this.current?.running ? this.current : null;
  }

  async start(req: TrainRequest): Promise<Job> {
    if (this.active()) throw new HttpError(409, `a training run is already in progress (${this.current!.id}); one at a time`);
    const spec = findModelSpec(req.model);
    if (!spec) throw new HttpError(400, `unknown model "${req.model}" (one of ${modelNames().join(', ')})`);
    // What GET /api/models lists as unavailable would fail in the worker (or download 80 MB first).
    const unavailable = await unavailableReason(spec);
    if (unavailable) throw new HttpError(422, `model ${req.model} cannot be trained on this server: ${unavailable}`);
    const id = req.id ?? path.basename(defaultRunDir(req.model));
    if (!isValidRunId(id)) throw new HttpError(400, `run id "${id}" may only hold letters, digits, '.', '_' and '-'`);
    const runDir = path.join(this.runsDir, id);
    if (await hasRunConfig(runDir)) throw new RunExistsError(id);
    // The same protocol as `fashion-cnn train --model` with the same flags: the model's recipe, then the request.
    const { epochs, augEpochs, batchSize, lr, seed, limit } = req;
    const { hyper, augmentation } = resolveProtocol(req.model, { hyper: { epochs, augEpochs, batchSize, lr, seed, limit } });
    // Checked again now that the run directory is known: two requests may race to this point.
    if (this.active()) throw new HttpError(409, `a training run is already in progress (${this.current!.id}); one at a time`);
    this.current = new Job(id, { kind: 'train', options: { model: req.model, hyper, augmentation, runDir, pictures: req.pictures ?? true, ...this.worker } }, this.env());
    return this.current;
  }

  /** Asks the run to stop after its current batch; false when `id` is not training. */
  stop(id: string): boolean {
    const job = this.job(id);
    if (!job?.running) return false;
    job.stop();
    return true;
  }

  /** Shutdown: the worker stops after its batch (its last epoch's checkpoint stays the resume point). */
  async shutdown(graceMs: number): Promise<void> {
    if (this.current?.running) await this.current.stopAndWait(graceMs);
  }
}
