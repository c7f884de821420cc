import type { Command } from 'commander';
import { addBackendOption, addDataOptions, printJson, type CommonFlags } from '../common.js';
import { commaList } from '../options.js';

interface EvaluateFlags extends CommonFlags {
  json?: boolean;
  ensemble?: string[];
}

export function registerEvaluate(program: Command): void {
  const cmd = program
    .command('evaluate')
    .description('evaluate a run\'s model on the 10,000 test images: loss, accuracy, per-class report, confusion matrix (recorded in eval.json); or an ensemble of runs (--ensemble)')
    .argument('[run-dir]', 'a run directory made by `fashion-cnn train`')
    .option('--ensemble <runs>', 'evaluate several runs together instead: comma-separated run directories or folders of runs (a sweep\'s folder: its finished runs); their probabilities are averaged, test-time flip included, and each member\'s own score is shown. Nothing is recorded', commaList)
    .option('--json', 'print the evaluation as JSON on stdout');
  addDataOptions(cmd);
  addBackendOption(cmd);
  cmd.action(async (runDir: string | undefined, f: EvaluateFlags) => {
    if (runDir !== undefined && f.ensemble) cmd.error('error: give a run directory or --ensemble, not both', { exitCode: 2 });
    if (f.ensemble) {
      const { evaluateEnsemble, formatMembers } = await import('../../evaluate/ensemble.js');
      const { formatEvalResult } = await import('../../evaluate/report.js');
      const e = await evaluateEnsemble({ entries: f.ensemble, backend: f.backend, dataDir: f.dataDir, verify: f.verify });
      if (f.json) printJson(e);
      else console.log(`${formatMembers(e)}\n\n${formatEvalResult(e.result, 'the ensemble')}`);
      return;
    }
    if (runDir === undefined) return cmd.error("error: missing required argument 'run-dir' (or give --ensemble RUNS)", { exitCode: 2 });
    const { locateRunModel } = await import('../../runs/model.js');
    const { refuseWhileTraining } = await import('../../runs/lock.js');
    await refuseWhileTraining(runDir); // a run being trained is refused first, whatever it holds yet
    await locateRunModel(runDir); // a run without a model fails before the backend starts
    const { evaluateRun } = await import('../../evaluate/run.js');
    const { formatEvalResult } = await import('../../evaluate/report.js');
    const { result } = await evaluateRun({ runDir, backend: f.backend, dataDir: f.dataDir, verify: f.verify });
    if (f.json) printJson(result);
    else console.log(formatEvalResult(result));
  });
}
