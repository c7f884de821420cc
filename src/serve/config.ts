/** The server's settings in one typed place: the CLI, the tests and the benchmark override single fields. */
import os from 'node:os';
import path from 'node:path';
import { defaultModelDir } from '../runs/default-model.js';
import { packageRoot } from '../util/package-root.js';
import { checkAccessSettings, newToken, TOKEN_ENV } from './access.js';

/** The package root (one rule for every stage: src/runs/default-model.ts). */
export const PACKAGE_ROOT = packageRoot();

export interface ServeConfig {
  /** The folder whose sub-folders are runs. */
  runsDir: string;
  port: number;
  /** The address to bind; also a name the Host header may carry (see access.ts). */
  host: string;
  /** More names the Host header may carry (--allow-host): the names clients reach the server by beyond loopback. */
  allowHosts: string[];
  /**
   * What clients of the routes that change anything send as `Authorization: Bearer TOKEN`. '' turns
   * the check off (refused when binding beyond loopback). Not given: $FASHION_CNN_TOKEN, else a
   * random one made at start.
   */
  token: string;
  /** No training routes: the dashboard, the runs and classification only (for a server on a network). */
  readOnly: boolean;
  /** A run directory holding the model that /api/predict uses. */
  defaultModelDir: string;
  /** Run directories whose averaged probabilities /api/predict uses instead of defaultModelDir's model (serve --ensemble); empty: the single model. */
  defaultEnsemble: string[];
  /** The dashboard's production build; not served when missing. */
  webDir: string;
  /** Largest upload accepted, bytes (413 past it). */
  maxUploadBytes: number;
  /** A request body (or a slow client sending it) must arrive within this, ms. */
  requestTimeoutMs: number;
  /**
   * A connection on which nothing moves for this long is closed, ms. Generous: a first t-SNE of
   * 10,000 points answers after minutes of silence (event streams send a heartbeat).
   */
  socketIdleTimeoutMs: number;
  /** Idle keep-alive connections are closed after this, ms. */
  keepAliveTimeoutMs: number;
  /** Loaded models kept in memory at once (least recently used dropped first). */
  modelCacheSize: number;
  /** Requests per minute and client, per route group (loopback benchmarks need the high predict figure). */
  rateLimit: { predictPerMinute: number; trainPerMinute: number; projectionPerMinute: number };
  projections: ProjectionLimits;
  /** How long SIGTERM waits for a training worker to checkpoint and leave, ms. */
  shutdownGraceMs: number;
  /** Passed to the training and projection workers (e.g. FASHION_MNIST_DIR, the backend). */
  dataDir?: string;
  backend?: 'native' | 'wasm' | 'cpu';
  /** Worker threads that preprocess uploads (0: on the event loop). */
  preprocessThreads: number;
  /** oneDNN threads of the server's own inference, unless $FASHION_CNN_THREADS says otherwise. */
  inferenceThreads: number;
  /** Most uploads classified in one forward/backward pass (see batcher.ts). */
  maxBatch: number;
  /**
   * How long a batch waits for more uploads after its first, ms (0: it takes what is queued when
   * the event loop comes round). 3 ms: 6% more requests per second at 16 connections than 0 (larger
   * batches), for at most 3 ms more latency on an idle server.
   */
  batchWindowMs: number;
  /** Log requests (pino) to stderr. */
  logRequests: boolean;
}

/** Projections are computed in worker processes (each about 110 MB and seconds of CPU) and cached in the run. */
export interface ProjectionLimits {
  /** Projection workers at once. */
  workers: number;
  /** Projections waiting for a worker; past this, a request for another one gets a 503 with Retry-After. */
  queue: number;
  /** Projections kept in a run's embed/ folder (embed/serve-*); the least recently used are removed first. */
  cachedPerRun: number;
  /** The Retry-After of a refused projection, s (one takes seconds to a minute). */
  retryAfterSeconds: number;
}

/** Every setting but the token, which is made at start when not given. */
export const DEFAULT_SERVE_CONFIG: Omit<ServeConfig, 'token'> = {
  runsDir: 'runs',
  port: 8080,
  host: '127.0.0.1',
  allowHosts: [],
  readOnly: false,
  // The model `fashion-cnn predict` uses without a run: the package's, or $FASHION_CNN_DEFAULT_MODEL.
  defaultModelDir: defaultModelDir(),
  defaultEnsemble: [],
  webDir: path.join(PACKAGE_ROOT, 'dist', 'web'),
  maxUploadBytes: 10 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  socketIdleTimeoutMs: 10 * 60_000,
  modelCacheSize: 4,
  rateLimit: { predictPerMinute: 60_000, trainPerMinute: 30, projectionPerMinute: 120 },
  projections: { workers: 1, queue: 4, cachedPerRun: 8, retryAfterSeconds: 15 },
  shutdownGraceMs: 60_000,
  logRequests: false,
  preprocessThreads: os.availableParallelism(),
  inferenceThreads: 1,
  maxBatch: 16,
  batchWindowMs: 3,
};

export type ServeOverride = Partial<Omit<ServeConfig, 'rateLimit' | 'projections'>> & { rateLimit?: Partial<ServeConfig['rateLimit']>; projections?: Partial<ProjectionLimits> };

/** The defaults with `override` on top; refuses settings that would leave the server open (UserError). */
export function resolveServeConfig(override: ServeOverride = {}): ServeConfig {
  const config: ServeConfig = {
    ...DEFAULT_SERVE_CONFIG,
    ...override,
    // Normalised, so that run paths in messages start with it and are shown relative to it.
    runsDir: path.normalize(override.runsDir ?? DEFAULT_SERVE_CONFIG.runsDir),
    // An empty variable counts as unset (only --token '' turns the check off).
    token: override.token ?? (process.env[TOKEN_ENV] || newToken()),
    rateLimit: { ...DEFAULT_SERVE_CONFIG.rateLimit, ...override.rateLimit },
    projections: { ...DEFAULT_SERVE_CONFIG.projections, ...override.projections },
  };
  checkAccessSettings(config);
  return config;
}
