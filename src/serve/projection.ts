/**
 * Projections for the dashboard's projector, computed on demand by the embed stage in a worker
 * process (t-SNE of thousands of points takes seconds of CPU) and cached in the run directory:
 * `<run>/embed/serve-<source>[-<model key>]-<method>-<dims>d-<count>[-<searches hash>]/`, whose
 * projection.json is written last, so its presence means the folder is complete. Learned features
 * depend on the model, so their folder names which one (the final model or a checkpoint's, and
 * when it was written) and how its features are chosen: a run still training, a resumed one, or a
 * new version that picks another feature layer never gets a stale projection.
 *
 * Bounded: `workers` projections are computed at once, `queue` more wait, and a request for yet
 * another gets a 503 with Retry-After; each run keeps its `cachedPerRun` most recently used
 * projections (a folder's time is its last use), so distinct queries cannot fill the disk.
 */
import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { EMBED_FILES, PROJECTOR_FILES } from '../explain/embed/index.js';
import type { EmbedRequest } from '../explain/embed/run.js';
import { locateRunModel, requireRunDir } from '../runs/index.js';
import type { ProjectionLimits } from './config.js';
import { HttpError } from './errors.js';
import { Job, type WorkerJob } from './jobs.js';

export type { ProjectionQuery } from './schemas.js';
import type { ProjectionQuery } from './schemas.js';

/** The files of a cached projection a client may download (the projection and TensorBoard's projector files). */
export const PROJECTION_DOWNLOADS = [EMBED_FILES.projection, EMBED_FILES.scatterPng, EMBED_FILES.scatterSvg, ...Object.values(PROJECTOR_FILES)] as const;

/** The prefix of the folders the server caches projections in (a run's other embed/ folders are the user's). */
const CACHE_PREFIX = 'serve-';

/** Bumped when the features a model gives change for the same weights (2: best's pooled channels, not its logits). */
const FEATURES_VERSION = 2;

const shortHash = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** Which model a run's learned features come from now: its location in the run and when it was written. */
async function modelKey(runDir: string): Promise<string> {
  const { dir } = await locateRunModel(runDir);
  const written = (await fs.stat(path.join(dir, 'model.json'))).mtimeMs;
  return shortHash(JSON.stringify([FEATURES_VERSION, path.relative(runDir, dir), written]));
}

export function projectionDir(runDir: string, q: ProjectionQuery, model?: string): string {
  let name = `${CACHE_PREFIX}${q.source}${model ? `-${model}` : ''}-${q.method}-${q.dims}d-${q.count}`;
  if (q.method === 'custom') {
    const searches = JSON.stringify([q.left, q.right, q.up, q.down]);
    name += `-${shortHash(searches)}`;
  }
  return path.join(runDir, 'embed', name);
}

export class ProjectionService {
  private readonly pending = new Map<string, Promise<string>>();
  private readonly jobs = new Set<Job>();
  /** Projections holding a worker slot, and those waiting for one (each wakes with the slot handed over). */
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  private stopping = false;

  constructor(private readonly env: () => NodeJS.ProcessEnv, private readonly workerOptions: Pick<EmbedRequest, 'dataDir' | 'backend'>, private readonly limits: ProjectionLimits) {}

  get stats(): { running: number; queued: number } {
    return { running: this.running, queued: this.waiting.length };
  }

  /** The folder holding the projection's files, computing them first when not cached. */
  async ensure(runDir: string, q: ProjectionQuery): Promise<string> {
    await requireRunDir(runDir);
    if (q.method === 'custom' && (!q.left || !q.right)) throw new HttpError(400, 'method=custom needs left and right searches (regular expressions over class names)');
    const dir = projectionDir(runDir, q, q.source === 'features' ? await modelKey(runDir) : undefined);
    if (await fs.stat(path.join(dir, EMBED_FILES.projection)).catch(() => null)) {
      // Used now: the last to be removed from the run's cache.
      const now = new Date();
      await fs.lutimes(dir, now, now).catch(() => {});
      return dir;
    }
    let p = this.pending.get(dir);
    if (!p) {
      p = this.withWorker(() => this.compute(runDir, dir, q)).finally(() => this.pending.delete(dir));
      this.pending.set(dir, p);
    }
    return p;
  }

  /** Runs `work` when a worker slot is free; refuses it when the queue is full too. */
  private async withWorker<T>(work: () => Promise<T>): Promise<T> {
    if (this.running < this.limits.workers) this.running++;
    else if (this.waiting.length < this.limits.queue) await new Promise<void>((resolve) => this.waiting.push(resolve));
    else {
      const s = this.limits.retryAfterSeconds;
      throw new HttpError(503, `busy: ${this.running} projection(s) computing and ${this.waiting.length} waiting; try again in ${s} s (a cached projection is answered at once)`, { 'retry-after': String(s) });
    }
    try {
      if (this.stopping) throw new HttpError(503, 'the server is shutting down; the projection was not started');
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.running--;
    }
  }

  private async compute(runDir: string, dir: string, q: ProjectionQuery): Promise<string> {
    const request = {
      ...(q.source === 'pixels' ? { pixels: true } : { runDir }),
      method: q.method,
      dims: q.dims,
      count: q.count,
      out: dir,
      ...(q.method === 'custom' && q.left && q.right ? { custom: { left: q.left, right: q.right, up: q.up, down: q.down } } : {}),
      ...this.workerOptions,
    };
    const job = new Job(`embed:${dir}`, { kind: 'embed', request } satisfies WorkerJob, this.env());
    this.jobs.add(job);
    await job.finished;
    this.jobs.delete(job);
    if (job.status === 'done') {
      await this.evict(runDir);
      return dir;
    }
    if (this.stopping) throw new HttpError(503, 'the server is shutting down; the projection was not finished');
    if (job.userError) throw new HttpError(422, `projection failed: ${job.message}`);
    throw new Error(`projection worker failed: ${job.message ?? 'unknown error'}`);
  }

  /** Keeps the run's `cachedPerRun` most recently used projections; never one being computed. */
  private async evict(runDir: string): Promise<void> {
    const embed = path.join(runDir, 'embed');
    const names = (await fs.readdir(embed).catch(() => [] as string[])).filter((n) => n.startsWith(CACHE_PREFIX));
    const folders = await Promise.all(names.map(async (n) => ({ dir: path.join(embed, n), used: (await fs.lstat(path.join(embed, n)).catch(() => null))?.mtimeMs ?? 0 })));
    folders.sort((a, b) => b.used - a.used);
    for (const { dir } of folders.slice(this.limits.cachedPerRun)) if (!this.pending.has(dir)) await fs.rm(dir, { recursive: true, force: true });
  }

  /** Ends running projections and refuses queued ones (shutdown): they are computed on a later request. */
  async stopAll(): Promise<void> {
    this.stopping = true;
    for (const job of this.jobs) job.kill();
    await Promise.all([...this.jobs].map((j) => j.finished));
  }
}
