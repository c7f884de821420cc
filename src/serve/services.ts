/**
 * What the routes share: the settings, the training and projection workers, the model cache, the
 * preprocessing pool and the batcher. Made once per server and handed to the route plugins as one
 * decorator (`app.services`), so a route reaches them the same way in tests and in production.
 */
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import { isValidRunId } from '../runs/index.js';
import type { ServeConfig } from './config.js';
import { ConfusionImages } from './confusion.js';
import { HttpError } from './errors.js';
import { ModelBatcher } from './batcher.js';
import { ModelCache } from './models.js';
import { createPreprocessor, type Preprocessor } from './preprocess-pool.js';
import { ProjectionService } from './projection.js';
import { TrainingManager } from './training.js';

export interface Services {
  config: ServeConfig;
  training: TrainingManager;
  projections: ProjectionService;
  models: ModelCache;
  batcher: ModelBatcher;
  preprocessor: Preprocessor;
  confusion: ConfusionImages;
  /** Open event streams: a shutdown ends them. */
  streams: Set<ServerResponse>;
  /** Classifications under way: a shutdown lets them finish before it stops the preprocessing pool. */
  inflight: Set<Promise<unknown>>;
  /** The folder of run `id` (400 for an id that is not a folder name). */
  runDir(id: string): string;
}

declare module 'fastify' {
  interface FastifyInstance {
    services: Services;
  }
}

export function createServices(config: ServeConfig): Services {
  // Workers see the server's backend choice; their threads are the user's ($FASHION_CNN_THREADS, else all cores).
  const workerEnv = (): NodeJS.ProcessEnv => ({ ...process.env, ...(config.backend ? { FASHION_CNN_BACKEND: config.backend } : {}) });
  const workerOptions = { dataDir: config.dataDir, backend: config.backend };
  return {
    config,
    training: new TrainingManager(config.runsDir, workerEnv, workerOptions),
    projections: new ProjectionService(workerEnv, workerOptions, config.projections),
    models: new ModelCache(config.modelCacheSize),
    batcher: new ModelBatcher({ maxBatch: config.maxBatch, windowMs: config.batchWindowMs }),
    preprocessor: createPreprocessor(config.preprocessThreads),
    confusion: new ConfusionImages(config.dataDir),
    streams: new Set(),
    inflight: new Set(),
    runDir(id: string): string {
      if (!isValidRunId(id)) throw new HttpError(400, `bad run id "${id}": letters, digits, '.', '_' and '-' only`);
      return path.join(config.runsDir, id);
    },
  };
}

/** Stops the workers and ends the streams (before the server closes), then lets classifications finish. */
export async function stopServices(s: Services, close: () => Promise<void>): Promise<void> {
  await Promise.all([s.training.shutdown(s.config.shutdownGraceMs), s.projections.stopAll()]);
  for (const res of s.streams) res.end();
  await close();
  await Promise.allSettled([...s.inflight]);
  await s.preprocessor.close();
  s.models.clear();
}
