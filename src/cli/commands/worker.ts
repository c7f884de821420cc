import type { Command } from 'commander';
import { addBackendOption, addDataOptions } from '../common.js';

interface WorkerFlags {
  queue: string;
  runs: string;
  dataDir?: string;
  backend?: 'native' | 'wasm' | 'cpu';
}

export function registerWorker(program: Command): void {
  const cmd = program
    .command('worker')
    .description("take a sweep's jobs from a BullMQ queue and train them, one at a time, until stopped (SIGTERM: the run under way finishes its epoch, is checkpointed and handed back to the queue)")
    .requiredOption('--queue <redis-url>', 'the Redis the sweep put its jobs on (redis://host:port)')
    .requiredOption('--runs <dir>', 'the shared runs folder, as this machine mounts it (the same folder as the sweep\'s --runs: checked by its marker file)');
  addDataOptions(cmd);
  addBackendOption(cmd).action(async (f: WorkerFlags) => {
    const { parseRedisUrl } = await import('../../sweep/index.js');
    const { startWorker } = await import('../../sweep/queue.js');
    const log = (line: string) => process.stderr.write(`fashion-cnn worker: ${line}\n`);
    const worker = await startWorker({ target: parseRedisUrl(f.queue), runsRoot: f.runs, dataDir: f.dataDir, backend: f.backend, log });
    log(`waiting for jobs on ${f.queue} (runs: ${f.runs})`);
    const stop = (signal: string) => {
      log(`${signal}: the run under way stops at its next checkpoint and goes back to the queue`);
      void worker.stop();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    await worker.closed;
  });
}
