/** The server's settings in one typed place: the CLI, the tests and the benchmark override single fields. */
import os from 'node:os';
import path from 'node:path';
import { defaultModelDir } from '../runs/default-model.js';
import { packageRoot } from '../util/package-root.js';

/** The package root (one rule for every stage: src/runs/default-model.ts). */
export const PACKAGE_ROOT = packageRoot();

export interface ServeConfig {
  /** The folder whose sub-folders are runs. */
  runsDir: string;
  port: number;
  host: string;
  /** A run directory holding the model that /api/predict uses. */
  defaultModelDir: string;
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
  /** How many classes predict answers with. */
  top: number;
  /** Loaded models kept in memory at once (least recently used dropped first). */
  modelCacheSize: number;
  /** Requests per minute and client, per route group (loopback benchmarks need the high predict figure). */
  rateLimit: { predictPerMinute: number; trainPerMinute: number; projectionPerMinute: number };
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

export const DEFAULT_SERVE_CONFIG: ServeConfig = {
  runsDir: 'runs',
  port: 8080,
  host: '127.0.0.1',
  // The model `fashion-cnn predict` uses without a run: the package's, or $FASHION_CNN_DEFAULT_MODEL.
  defaultModelDir: defaultModelDir(),
  webDir: path.join(PACKAGE_ROOT, 'dist', 'web'),
  maxUploadBytes: 10 * 1024 * 1024,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  socketIdleTimeoutMs: 10 * 60_000,
  top: 3,
  modelCacheSize: 4,
  rateLimit: { predictPerMinute: 60_000, trainPerMinute: 30, projectionPerMinute: 120 },
  shutdownGraceMs: 60_000,
  logRequests: false,
  preprocessThreads: os.availableParallelism(),
  inferenceThreads: 1,
  maxBatch: 16,
  batchWindowMs: 3,
};

export function resolveServeConfig(override: Partial<ServeConfig> = {}): ServeConfig {
  return { ...DEFAULT_SERVE_CONFIG, ...override, rateLimit: { ...DEFAULT_SERVE_CONFIG.rateLimit, ...override.rateLimit } };
}
