import type { Command } from 'commander';
import { BACKEND_NAMES } from '../../backend/types.js';
import type { BenchOptions } from '../../bench/run.js';
import { addDataOptions, printJson } from '../common.js';
import { backendList, commaList, positiveInt } from '../options.js';

/** The command's flags are the stage's options, plus --json. */
interface BenchFlags extends Omit<BenchOptions, 'log' | 'steps'> {
  steps?: number;
  json?: boolean;
}

export function registerBench(program: Command): void {
  const cmd = program
    .command('bench')
    .description('training (batch 256) and inference (batch 1000) images/s per model and backend, with PyTorch side by side when it is installed; FLOPs per image and the share of the machine\'s float32 peak (measured by an FMA loop)')
    .option('--models <list>', 'models to measure', commaList, ['cnn1', 'cnn3', 'cnn4'])
    .option('--backends <list>', `backends to measure (of ${BACKEND_NAMES.join(', ')}; cpu is very slow)`, backendList, ['native', 'wasm'])
    .option('--steps <n>', 'training steps measured after the warm-up steps (median reported; default 10)', positiveInt)
    .option('--rounds <n>', 'alternate our backends and PyTorch this many times and report the medians (for noisy hosts)', positiveInt, 1)
    .option('--no-torch', 'skip the PyTorch reference')
    .option('--torch-script <file>', 'PyTorch reference script for every model, or MODEL=FILE,... for some (defaults: ../shared/bench/torch_reference.py for cnn1, cnn3, cnn4; bench/torch_best.py for best)')
    .option('--profile', 'also show where a native training step\'s time goes, per TF.js kernel (first round)')
    .option('--json', 'print the results as JSON on stdout');
  addDataOptions(cmd);
  cmd.action(async (f: BenchFlags) => {
    const log = (l: string) => {
      if (!f.json) process.stderr.write(l + '\n');
    };
    const { benchMarkdown, benchModels } = await import('../../bench/run.js');
    const { DEFAULT_THROUGHPUT } = await import('../../bench/throughput.js');
    const report = await benchModels({ ...f, steps: f.steps ?? DEFAULT_THROUGHPUT.trainSteps, log });
    if (f.json) printJson(report);
    else console.log(benchMarkdown(report));
  });
}
