/**
 * Photo preprocessing off the event loop. Bringing a photo to Fashion-MNIST's form (decode, find
 * the background, mask, crop, fit) costs several milliseconds of JavaScript per upload, far more
 * than cnn1's forward pass; on one thread it would cap the server at the speed of one core. A
 * Piscina pool of worker threads spreads it over every core while the main thread runs the model.
 */
import os from 'node:os';
import { Piscina } from 'piscina';
import { preprocessUpload, type PreprocessOutcome } from './preprocess-worker.js';

export interface Preprocessor {
  run(bytes: Buffer): Promise<PreprocessOutcome>;
  close(): Promise<void>;
}

/** `threads` 0 preprocesses on the event loop itself (tests, tiny machines). */
/**
 * Piscina loads its task file with require() before trying import(). On Node 20, require() of an
 * ES module in a worker thread can abort the whole process (V8: "IsGraphAsync must be used on an
 * instantiated module"); with require(esm) off, require() throws and Piscina imports the module.
 */
const NO_REQUIRE_ESM = process.allowedNodeEnvironmentFlags.has('--experimental-require-module') ? ['--no-experimental-require-module'] : [];

export function createPreprocessor(threads = os.availableParallelism()): Preprocessor {
  if (threads <= 0) {
    return { run: preprocessUpload, close: async () => {} };
  }
  const pool = new Piscina({
    filename: new URL('./preprocess-worker.js', import.meta.url).href,
    minThreads: threads,
    maxThreads: threads,
    // Tasks are handed to workers by this thread's event loop, which is blocked while a batch runs
    // through the model (batcher.ts). A worker holding several tasks moves on to the next one by
    // itself instead of idling until the loop comes round.
    concurrentTasksPerWorker: 4,
    // Each thread has sharp's own libvips threads; one is enough per worker here.
    env: { ...process.env, VIPS_CONCURRENCY: '1' },
    idleTimeout: 60_000,
    execArgv: [...process.execArgv, ...NO_REQUIRE_ESM],
  });
  return {
    run: (bytes) => pool.run(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength)) as Promise<PreprocessOutcome>,
    close: () => pool.destroy(),
  };
}
