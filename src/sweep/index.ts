/** Sweeps: many training runs, on this machine or on a BullMQ queue that workers on several machines take jobs from. */
export { configName, gridCombinations, jobId, type GridValue, type SweepDefinition, type SweepJob } from './definition.js';
export { runSweep, type SweepOutcome, type SweepRunOptions } from './run.js';
export { parseRedisUrl, type RedisTarget } from './redis-url.js';
export { readSweep, SWEEP_FILE } from './store.js';
export { renderMarkdown, sweepSummary, type ConfigSummary, type MeanStd, type SweepSummary } from './summary.js';
